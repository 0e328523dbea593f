// Package bayeuxtest is a small in-memory Bayeux server for tests of Bayeux
// clients: handshake, held /meta/connect, subscribe with wildcards, publish
// fan-out and disconnect, over websocket and long-polling. It is deliberately
// independent of package runtime, so client tests pin the wire protocol
// rather than one server's behaviour, and it lets a test drop every session
// to exercise re-handshaking.
//
// It is not a server for production: it has no limits and no security.
package bayeuxtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// Channels with fixed behaviour.
const (
	// DeniedPrefix: publishing to a channel under it fails with
	// 403::publish_denied, subscribing with 403::subscribe_denied.
	DeniedPrefix = "/denied/"
	// CookieName is the cookie set by a long-polling handshake and required
	// on every later long-polling request of the session.
	CookieName = "BAYEUX_BROWSER"
)

// Server is the fake Bayeux server. Create it with NewServer.
type Server struct {
	*httptest.Server
	timeout time.Duration

	mu         sync.Mutex
	sessions   map[string]*session
	handshakes int
	subscribes map[string]int // channel -> successful /meta/subscribe count
	conns      map[*websocket.Conn]bool
	refuse     string // when set, connects fail with this reconnect advice
}

type session struct {
	id      string
	cookie  string
	subs    []string
	queue   []bayeux.Message
	wake    chan struct{} // signalled when queue grows or the session ends
	removed bool
}

// NewServer starts a Server on a loopback port. Held connects last timeout.
// Close it with Close.
func NewServer(timeout time.Duration) *Server {
	s := &Server{
		timeout:    timeout,
		sessions:   make(map[string]*session),
		subscribes: make(map[string]int),
		conns:      make(map[*websocket.Conn]bool),
	}
	s.Server = httptest.NewServer(s)
	return s
}

// URL returns the Bayeux endpoint, the server's URL plus "/cometd".
func (s *Server) URL() string { return s.Server.URL + "/cometd" }

// DropSessions forgets every session, as a restarted server would: the next
// message of each client fails with 402::session_unknown and held connects
// return so.
func (s *Server) DropSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		sess.removed = true
		signal(sess.wake)
		delete(s.sessions, id)
	}
}

// DropConnections closes every websocket connection, as a network failure
// would; the sessions live on.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// RefuseConnects makes every later /meta/connect fail with the reconnect
// advice (for example bayeux.ReconnectNone); "" restores normal service.
func (s *Server) RefuseConnects(reconnect string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = reconnect
}

// Sessions returns the number of live sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Handshakes returns the number of successful handshakes so far.
func (s *Server) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

// Subscribes returns how many times channel was subscribed successfully.
func (s *Server) Subscribes(channel string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribes[channel]
}

// Publish delivers data on channel to every subscribed session, as a
// server-side publish.
func (s *Server) Publish(channel string, data json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fanOut(channel, data)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP serves websocket upgrades and long-polling POSTs at any path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		s.serveWS(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var msgs []bayeux.Message
	if err := json.NewDecoder(r.Body).Decode(&msgs); err != nil || len(msgs) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	cookie := ""
	if c, err := r.Cookie(CookieName); err == nil {
		cookie = c.Value
	}
	var replies []bayeux.Message
	var held *session
	var heldReply bayeux.Message
	for i := range msgs {
		m := &msgs[i]
		if m.Channel == bayeux.MetaConnect && len(msgs) == 1 {
			if sess, reply, hold := s.connect(m, cookie, true); hold {
				held, heldReply = sess, reply
				continue
			} else {
				replies = append(replies, reply)
				continue
			}
		}
		reply, sess := s.process(m, cookie, true)
		if sess != nil && m.Channel == bayeux.MetaHandshake {
			http.SetCookie(w, &http.Cookie{Name: CookieName, Value: sess.cookie, Path: "/", HttpOnly: true})
		}
		replies = append(replies, reply)
	}
	var events []bayeux.Message
	if held != nil {
		events = s.hold(r, held)
		replies = append(replies, heldReply)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(append(events, replies...))
}

// hold waits until sess has queued events, is removed, or the timeout
// passes, and returns the queued events.
func (s *Server) hold(r *http.Request, sess *session) []bayeux.Message {
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		q := sess.queue
		sess.queue = nil
		removed := sess.removed
		s.mu.Unlock()
		if len(q) > 0 || removed {
			return q
		}
		select {
		case <-sess.wake:
		case <-t.C:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// connect answers a /meta/connect. hold reports whether the reply must wait
// (for the timeout or for events).
func (s *Server) connect(m *bayeux.Message, cookie string, lp bool) (*session, bayeux.Message, bool) {
	reply := bayeux.Message{Channel: m.Channel, ID: m.ID, ClientID: m.ClientID}
	s.mu.Lock()
	sess := s.sessions[m.ClientID]
	refuse := s.refuse
	s.mu.Unlock()
	if refuse != "" {
		reply.Successful = bayeux.Bool(false)
		reply.Error = "500::refused_for_test"
		reply.Advice = &bayeux.Advice{Reconnect: refuse, Interval: bayeux.Int(0)}
		return nil, reply, false
	}
	if sess == nil || lp && sess.cookie != cookie {
		reply.Successful = bayeux.Bool(false)
		reply.Error = bayeux.ErrSessionUnknown.Error()
		reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectHandshake, Interval: bayeux.Int(0)}
		return nil, reply, false
	}
	reply.Successful = bayeux.Bool(true)
	reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectRetry, Interval: bayeux.Int(0), Timeout: bayeux.Int(s.timeout.Milliseconds())}
	immediate := m.Advice != nil && m.Advice.Timeout != nil && *m.Advice.Timeout == 0
	return sess, reply, !immediate
}

// process answers every message but a held connect. It returns the session
// a handshake created.
func (s *Server) process(m *bayeux.Message, cookie string, lp bool) (bayeux.Message, *session) {
	reply := bayeux.Message{Channel: m.Channel, ID: m.ID}
	fail := func(e *bayeux.Error) (bayeux.Message, *session) {
		reply.Successful = bayeux.Bool(false)
		reply.Error = e.Error()
		return reply, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Channel == bayeux.MetaHandshake {
		sess := &session{id: newID(), cookie: cookie, wake: make(chan struct{}, 1)}
		if lp && cookie == "" {
			sess.cookie = newID()
		}
		s.sessions[sess.id] = sess
		s.handshakes++
		reply.Successful = bayeux.Bool(true)
		reply.ClientID = sess.id
		reply.Version = bayeux.Version
		reply.SupportedConnectionTypes = []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling}
		reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectRetry, Interval: bayeux.Int(0), Timeout: bayeux.Int(s.timeout.Milliseconds())}
		return reply, sess
	}
	sess := s.sessions[m.ClientID]
	if sess == nil || lp && sess.cookie != cookie {
		return fail(bayeux.ErrSessionUnknown)
	}
	reply.ClientID = m.ClientID
	switch m.Channel {
	case bayeux.MetaSubscribe, bayeux.MetaUnsubscribe:
		reply.Subscription = m.Subscription
		chans, err := m.Subscriptions()
		if err != nil || len(chans) == 0 {
			return fail(bayeux.ErrSubscriptionMissing)
		}
		for _, ch := range chans {
			if strings.HasPrefix(ch, DeniedPrefix) {
				return fail(bayeux.NewError(403, "subscribe_denied", "denied_by_security_policy"))
			}
			if m.Channel == bayeux.MetaSubscribe {
				sess.subs = append(sess.subs, ch)
				s.subscribes[ch]++
			} else {
				kept := sess.subs[:0]
				for _, x := range sess.subs {
					if x != ch {
						kept = append(kept, x)
					}
				}
				sess.subs = kept
			}
		}
	case bayeux.MetaDisconnect:
		sess.removed = true
		signal(sess.wake)
		delete(s.sessions, sess.id)
	default:
		if strings.HasPrefix(m.Channel, DeniedPrefix) {
			return fail(bayeux.NewError(403, "publish_denied", "denied_by_security_policy"))
		}
		s.fanOut(m.Channel, m.Data)
	}
	reply.Successful = bayeux.Bool(true)
	return reply, nil
}

// fanOut queues an event for every matching subscriber; s.mu must be held.
func (s *Server) fanOut(channel string, data json.RawMessage) {
	for _, sess := range s.sessions {
		for _, pattern := range sess.subs {
			if bayeux.Match(pattern, channel) {
				sess.queue = append(sess.queue, bayeux.Message{Channel: channel, Data: data})
				signal(sess.wake)
				break
			}
		}
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// wsConn is one websocket connection with its serialised writer.
type wsConn struct {
	conn *websocket.Conn
	mu   sync.Mutex
	done chan struct{}
}

func (c *wsConn) write(msgs []bayeux.Message) error {
	b, err := json.Marshal(msgs)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsConn{conn: conn, done: make(chan struct{})}
	s.mu.Lock()
	s.conns[conn] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	defer close(c.done)
	defer conn.Close()
	pushing := make(map[*session]bool)
	for {
		var msgs []bayeux.Message
		if err := conn.ReadJSON(&msgs); err != nil {
			return
		}
		var replies []bayeux.Message
		for i := range msgs {
			m := &msgs[i]
			if m.Channel == bayeux.MetaConnect {
				sess, reply, hold := s.connect(m, "", false)
				if sess != nil && !pushing[sess] {
					pushing[sess] = true
					go s.push(c, sess)
				}
				if !hold {
					replies = append(replies, reply)
					continue
				}
				go s.holdWS(c, sess, reply)
				continue
			}
			reply, _ := s.process(m, "", false)
			replies = append(replies, reply)
		}
		if len(replies) > 0 {
			if err := c.write(replies); err != nil {
				return
			}
		}
	}
}

// push writes sess's queued events to c as they arrive.
func (s *Server) push(c *wsConn, sess *session) {
	for {
		s.mu.Lock()
		q := sess.queue
		sess.queue = nil
		removed := sess.removed
		s.mu.Unlock()
		if len(q) > 0 {
			if c.write(q) != nil {
				// Keep the events for the session's next connection.
				s.mu.Lock()
				sess.queue = append(q, sess.queue...)
				s.mu.Unlock()
				return
			}
		}
		if removed {
			return
		}
		select {
		case <-sess.wake:
		case <-c.done:
			return
		}
	}
}

// holdWS answers a held websocket connect after the timeout, or at once
// when the session goes away.
func (s *Server) holdWS(c *wsConn, sess *session, reply bayeux.Message) {
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	tick := time.NewTicker(s.timeout / 10)
	defer tick.Stop()
	for {
		select {
		case <-t.C:
			_ = c.write([]bayeux.Message{reply})
			return
		case <-c.done:
			return
		case <-tick.C:
			s.mu.Lock()
			removed := sess.removed
			s.mu.Unlock()
			if removed {
				reply.Successful = bayeux.Bool(false)
				reply.Error = bayeux.ErrSessionUnknown.Error()
				reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectHandshake, Interval: bayeux.Int(0)}
				_ = c.write([]bayeux.Message{reply})
				return
			}
		}
	}
}
