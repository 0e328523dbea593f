package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// LocalSession is a client that lives inside the server: it subscribes and
// publishes like a remote client and is never swept. Services built on the
// server (remote calls, bots, bridges) use one.
//
// Handlers of a LocalSession's subscriptions run on one goroutine of its
// own, one message at a time, in order; a slow handler delays only this
// session's messages (and, past MaxQueue, makes it a slow consumer).
type LocalSession struct {
	srv    *Server
	idHint string

	mu       sync.Mutex
	sess     *ServerSession
	handlers map[string][]*localHandler
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

type localHandler struct{ fn func(*bayeux.Message) }

// NewLocalSession returns a LocalSession whose session id will start with
// idHint. Call Handshake before using it.
func (s *Server) NewLocalSession(idHint string) *LocalSession {
	return &LocalSession{srv: s, idHint: idHint, handlers: make(map[string][]*localHandler)}
}

// ErrNotHandshaken is returned by a LocalSession used before Handshake or
// after Disconnect.
var ErrNotHandshaken = errors.New("runtime: local session not handshaken")

// Handshake creates the local session's ServerSession. The server's
// session listeners see it like any other; the security policy does not
// apply to local sessions.
func (l *LocalSession) Handshake(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess != nil && !l.sess.isRemoved() {
		return nil
	}
	s := l.srv
	if s.isClosing() {
		return errors.New("runtime: local handshake: server shutting down")
	}
	sess := newSession(s, "")
	sess.id = sanitizeIDHint(l.idHint) + "_" + sess.id
	sess.local = l
	sess.connected = true
	l.wake = make(chan struct{}, 1)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	s.nsessions.Add(1)
	s.sessions.put(sess)
	l.sess = sess
	go l.dispatch(sess, l.wake, l.stop, l.done)
	for _, f := range s.hooks.load().sessionAdded {
		f(sess, &bayeux.Message{Channel: bayeux.MetaHandshake})
	}
	return nil
}

func sanitizeIDHint(h string) string {
	h = strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, h)
	if h == "" {
		return "local"
	}
	return h
}

// Session returns the local session's ServerSession, or nil before
// Handshake.
func (l *LocalSession) Session() *ServerSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess
}

func (l *LocalSession) session() (*ServerSession, error) {
	sess := l.Session()
	if sess == nil || sess.isRemoved() {
		return nil, ErrNotHandshaken
	}
	return sess, nil
}

// Subscribe calls h for every message on channel (which may be a wildcard).
// Subscribing to a service channel registers h to receive the messages
// clients publish there (a server-side listener), since service messages are
// never broadcast.
func (l *LocalSession) Subscribe(channel string, h func(*bayeux.Message)) error {
	sess, err := l.session()
	if err != nil {
		return err
	}
	channel = bayeux.Normalize(channel)
	if !bayeux.ValidChannel(channel) || bayeux.KindOf(channel) == bayeux.Meta {
		return fmt.Errorf("runtime: local subscribe: invalid channel %q", channel)
	}
	l.mu.Lock()
	l.handlers[channel] = append(l.handlers[channel], &localHandler{fn: h})
	l.mu.Unlock()
	if bayeux.KindOf(channel) == bayeux.Service {
		c, _, _ := l.srv.CreateChannel(channel)
		c.AddListener(func(ctx context.Context, from *ServerSession, m *bayeux.Message) error {
			ev := &bayeux.Message{Channel: m.Channel, ID: m.ID, ClientID: clientIDOf(from), Data: m.Data, Ext: m.Ext}
			return l.deliverLocal(ev)
		})
		return nil
	}
	if !l.srv.channels.subscribe(sess, channel) {
		return ErrNotHandshaken
	}
	return nil
}

func clientIDOf(s *ServerSession) string {
	if s == nil {
		return ""
	}
	return s.id
}

// deliverLocal queues a service message for the local session.
func (l *LocalSession) deliverLocal(m *bayeux.Message) error {
	sess, err := l.session()
	if err != nil {
		return nil
	}
	sess.enqueue(encodeMessage(m), 0)
	return nil
}

// Unsubscribe removes every handler of channel.
func (l *LocalSession) Unsubscribe(channel string) error {
	sess, err := l.session()
	if err != nil {
		return err
	}
	channel = bayeux.Normalize(channel)
	l.mu.Lock()
	delete(l.handlers, channel)
	l.mu.Unlock()
	l.srv.channels.unsubscribe(sess, channel)
	return nil
}

// Publish publishes data on channel as this session: listeners, filters and
// extensions apply, the security policy does not.
func (l *LocalSession) Publish(ctx context.Context, channel string, data any) error {
	sess, err := l.session()
	if err != nil {
		return err
	}
	_, err = l.srv.publishFrom(ctx, sess, channel, data)
	return err
}

// Disconnect ends the local session and stops its handlers' goroutine.
func (l *LocalSession) Disconnect() {
	l.mu.Lock()
	sess, stop, done := l.sess, l.stop, l.done
	l.mu.Unlock()
	if sess == nil {
		return
	}
	l.srv.removeSession(sess, RemovedDisconnect)
	select {
	case <-stop:
	default:
		close(stop)
	}
	<-done
}

func (l *LocalSession) wakeUp() {
	l.mu.Lock()
	w := l.wake
	l.mu.Unlock()
	select {
	case w <- struct{}{}:
	default:
	}
}

// dispatch delivers the session's queued messages to the handlers.
func (l *LocalSession) dispatch(sess *ServerSession, wake, stop, done chan struct{}) {
	defer close(done)
	dec := bayeux.NewDecoder()
	for {
		select {
		case <-wake:
		case <-stop:
			return
		case <-sess.gone:
			return
		}
		q, _ := sess.takeQueue(nil)
		for _, raw := range q {
			msgs, err := dec.Decode(raw)
			if err != nil || len(msgs) != 1 {
				continue
			}
			l.handle(&msgs[0])
		}
		sess.returnQueue(q)
	}
}

func (l *LocalSession) handle(m *bayeux.Message) {
	l.mu.Lock()
	var hs []*localHandler
	for pattern, list := range l.handlers {
		if bayeux.Match(pattern, m.Channel) {
			hs = append(hs, list...)
		}
	}
	l.mu.Unlock()
	for _, h := range hs {
		func() {
			defer func() {
				if r := recover(); r != nil {
					l.srv.log.Error("bayeux: panic in a local session handler", "channel", m.Channel, "panic", r)
				}
			}()
			h.fn(m)
		}()
	}
}
