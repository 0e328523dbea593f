package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// ErrSessionGone is returned by operations on a session that has ended.
var ErrSessionGone = errors.New("runtime: session gone")

// SetUser attaches an authenticated identity to the session, typically from
// SecurityPolicy.CanHandshake. Authorizers and the application read it back
// with UserID, Roles and HasRole.
func (s *ServerSession) SetUser(id string, roles ...string) {
	s.mu.Lock()
	s.userID = id
	s.roles = slices.Clone(roles)
	s.mu.Unlock()
}

// UserID returns the identity set by SetUser, or "".
func (s *ServerSession) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userID
}

// Roles returns the roles set by SetUser.
func (s *ServerSession) Roles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.roles)
}

// HasRole reports whether SetUser gave the session the role.
func (s *ServerSession) HasRole(role string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.roles, role)
}

// Attribute returns the value stored under key, or nil.
func (s *ServerSession) Attribute(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attrs[key]
}

// SetAttribute stores a value under key for the life of the session.
func (s *ServerSession) SetAttribute(key string, value any) {
	s.mu.Lock()
	if s.attrs == nil {
		s.attrs = make(map[string]any)
	}
	s.attrs[key] = value
	s.mu.Unlock()
}

// RemoveAttribute deletes the value stored under key.
func (s *ServerSession) RemoveAttribute(key string) {
	s.mu.Lock()
	delete(s.attrs, key)
	s.mu.Unlock()
}

// IsLocal reports whether the session belongs to a LocalSession of the
// application rather than to a remote client.
func (s *ServerSession) IsLocal() bool { return s.local != nil }

// Connected reports whether the session is alive.
func (s *ServerSession) Connected() bool { return !s.isRemoved() }

// Disconnect ends the session from the server side. Its client is told not
// to reconnect (advice reconnect "none").
func (s *ServerSession) Disconnect() { s.srv.removeSession(s, RemovedServer) }

// AddExtension adds an extension that sees this session's messages only.
func (s *ServerSession) AddExtension(e Extension) {
	for {
		old := s.exts.Load()
		var list []Extension
		if old != nil {
			list = *old
		}
		next := appendCopy(list, e)
		if s.exts.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (s *ServerSession) extensions() []Extension {
	if p := s.exts.Load(); p != nil {
		return *p
	}
	return nil
}

// OnQueueFull sets what happens when a message finds this session's queue
// full, overriding Options.OnQueueFull.
func (s *ServerSession) OnQueueFull(f func(*ServerSession) QueueFullAction) {
	s.mu.Lock()
	s.queueFull = f
	s.mu.Unlock()
}

// Batch runs f and holds the session's deliveries until f returns, so that
// everything f delivers leaves in one response or frame.
func (s *ServerSession) Batch(f func()) {
	s.mu.Lock()
	s.batch++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.batch--
		wake := s.batch == 0 && s.urgent
		s.mu.Unlock()
		if wake {
			s.notify()
		}
	}()
	f()
}

// Deliver sends data to this session alone on channel, whatever its
// subscriptions (private delivery). data is any value encoding/json accepts,
// or a json.RawMessage. Outgoing extensions see the message.
func (s *ServerSession) Deliver(ctx context.Context, channel string, data any) error {
	raw, err := toRaw(data)
	if err != nil {
		return fmt.Errorf("runtime: deliver on %s: %w", channel, err)
	}
	return s.deliver(ctx, &bayeux.Message{Channel: channel, Data: raw}, 0)
}

// DeliverLazy is Deliver for a lazy message: it waits for the next
// non-lazy message, the lazy timeout (Options.MaxLazyTimeout) or the reply
// of the held /meta/connect.
func (s *ServerSession) DeliverLazy(ctx context.Context, channel string, data any) error {
	raw, err := toRaw(data)
	if err != nil {
		return fmt.Errorf("runtime: deliver on %s: %w", channel, err)
	}
	return s.deliver(ctx, &bayeux.Message{Channel: channel, Data: raw}, s.srv.opts.MaxLazyTimeout)
}

// deliver runs the outgoing extensions on m and queues it for s.
func (s *ServerSession) deliver(ctx context.Context, m *bayeux.Message, lazy time.Duration) error {
	if s.isRemoved() {
		return ErrSessionGone
	}
	if !s.srv.outgoing(ctx, s, m, true) {
		return nil // an extension deleted it
	}
	b := encodeMessage(m)
	if !s.enqueue(b, lazy) {
		return ErrSessionGone
	}
	s.srv.countOut(1, len(b))
	return nil
}

// toRaw encodes data to JSON unless it already is.
func toRaw(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case json.RawMessage:
		if !json.Valid(d) || !utf8.Valid(d) {
			return nil, errors.New("data is not valid JSON in UTF-8")
		}
		return d, nil
	case []byte:
		return nil, errors.New("data is []byte: pass json.RawMessage for JSON, or a string")
	}
	return json.Marshal(data)
}
