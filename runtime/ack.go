package runtime

import (
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// ackState is the server side of the ack extension for one session: the
// CometD JavaScript client's AckExtension (and the Go client) ask for it at
// handshake with ext.ack=true. Every /meta/connect reply then carries a
// batch number in ext.ack, and the messages delivered with that reply belong
// to the batch. The client's next /meta/connect acknowledges the last batch
// it received; until it does, the batch's messages are kept and sent again,
// ahead of newer ones. Messages are delivered only with /meta/connect
// replies, over every transport, so a dropped connection loses nothing and
// duplicates nothing.
type ackState struct {
	batch   int64    // the last batch sent
	pending [][]byte // messages of the last batch, not yet acknowledged
}

// ackRequested reports whether a handshake asks for the ack extension.
func ackRequested(m *bayeux.Message) bool {
	switch v := m.Ext["ack"].(type) {
	case bool:
		return v
	case map[string]any:
		return v["enabled"] == true
	}
	return false
}

// acknowledge processes the ext.ack of an incoming /meta/connect. It
// reports whether unacknowledged messages remain, in which case the connect
// must be answered at once.
func (s *ServerSession) acknowledge(m *bayeux.Message) bool {
	a := s.ack.Load()
	if a == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := m.Ext["ack"].(float64); ok && int64(n) >= a.batch {
		a.pending = nil
	}
	return len(a.pending) > 0
}

// takeForConnect returns the messages that go out with a /meta/connect
// reply on the connection by (nil for a long poll; see takeQueue: nothing
// when another connection delivers the session's messages) and, for an ack
// session, the batch number the reply carries (0 otherwise). Messages of an ack session stay pending until acknowledged,
// so the caller must not recycle the slice (recycle is false).
func (s *ServerSession) takeForConnect(by *wsConn) (msgs [][]byte, batch int64, recycle bool) {
	a := s.ack.Load()
	if a == nil {
		q, _ := s.takeQueue(by)
		return q, 0, true
	}
	q, owned := s.takeQueue(by)
	if !owned {
		return nil, 0, false // another connection delivers the session's messages
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(a.pending)+len(q) > s.srv.opts.MaxQueue {
		// The client does not acknowledge: treat it as a slow consumer.
		go s.srv.slowConsumer(s, nil)
		return nil, a.batch, false
	}
	all := make([][]byte, 0, len(a.pending)+len(q))
	all = append(append(all, a.pending...), q...)
	if len(q) > 0 {
		clear(q)
		if s.spare == nil {
			s.spare = q[:0]
		}
	}
	a.batch++
	a.pending = all
	return all, a.batch, false
}

// ackEnabled reports whether the session uses the ack extension.
func (s *ServerSession) ackEnabled() bool { return s.ack.Load() != nil }
