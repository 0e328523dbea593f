package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// A Broker links several Servers (nodes) into one cluster: a broadcast
// published on any node reaches the subscribers of every node, a message
// for a user reaches that user's sessions on every node, and the nodes agree
// on which users are online. Set Options.Broker to use one; without a
// broker a Server is a single node and its fan-out pays nothing for
// clustering.
//
// cometgen ships two: MemoryCluster, which links Servers of one process
// (for tests and embedding), and runtime/natsbroker, which links processes
// through NATS.
//
// The contract, which every implementation must keep:
//
//   - Publish and PublishUser are called on the goroutine that published,
//     in the order of publication; the broker must hand one node's messages
//     of one channel to every other node in that order.
//   - A node's own messages must not come back to it: the node has already
//     delivered them to its own sessions (exactly once per session).
//   - Service channels, node-local channels and private deliveries never
//     reach the broker; the runtime filters them out.
//   - The broker reports, with Node.SetHealth, when it cannot promise
//     delivery; the node then tells its clients to go elsewhere.
type Broker interface {
	// Start attaches the broker to its node. New calls it once; an error is
	// logged and leaves the node unhealthy.
	Start(n *Node) error
	// Publish sends a broadcast event (one encoded Bayeux message, as its
	// subscribers receive it) on channel to the other nodes.
	Publish(channel string, event []byte) error
	// PublishUser sends an event to the sessions of user on the other nodes.
	PublishUser(user string, event []byte) error
	// SetUserOnline tells the cluster that user now has (online) or no
	// longer has sessions on this node.
	SetUserOnline(user string, online bool)
	// Close detaches the node from the cluster: its users go offline at
	// once for the other nodes. Server.Shutdown calls it.
	Close() error
}

// Node is what a Broker sees of its Server: the entry points of messages
// coming from other nodes, and the node's health.
type Node struct{ srv *Server }

// Logger returns the server's logger.
func (n *Node) Logger() *slog.Logger { return n.srv.log }

// Users returns the users that have sessions on this node, for brokers that
// announce them periodically.
func (n *Node) Users() []string { return n.srv.users.list() }

// Deliver fans a broadcast event from another node out to this node's
// subscribers. The event was encoded by the origin node after its
// listeners, filters and server-wide extensions ran; here only the
// subscribers' own extensions and the channel's lazy setting apply. An event
// that is not one well-formed message on a concrete broadcast channel is
// refused with an error and delivered to no one.
func (n *Node) Deliver(event []byte) error {
	m, err := n.srv.remoteBroadcast(event)
	if err != nil {
		return err
	}
	n.srv.deliverRemote(m, event, nil)
	return nil
}

// remoteBroadcast decodes a broadcast event from the broker: one
// well-formed message on a concrete broadcast channel, or an error
// (counted in Stats.BrokerBad).
func (s *Server) remoteBroadcast(event []byte) (*bayeux.Message, error) {
	m, err := checkRemote(event)
	if err != nil {
		s.stats.brokerBad.Add(1)
		return nil, err
	}
	s.stats.brokerIn.Add(1)
	return m, nil
}

// deliverRemote fans a broadcast from the broker out to this node's
// subscribers, except from (nil: none). frozen is m encoded, or nil.
func (s *Server) deliverRemote(m *bayeux.Message, frozen []byte, from *ServerSession) {
	var buf [8]*Channel
	route := s.channels.route(buf[:0], m.Channel)
	if len(route) == 0 {
		return
	}
	t := s.templateFor(route, m.Channel)
	lazy, local := s.routeConf(route, t)
	if local {
		return // a node-local channel here: the other node should not have sent it
	}
	hc := &hookContext{parent: context.Background(), timeout: s.opts.HookTimeout}
	defer hc.done()
	d := s.fanOut(hc, route, t, m, frozen, from, from == nil, lazy)
	s.stats.deliveries.Add(int64(d))
	if s.metrics != nil {
		s.metrics.of(t).out.Add(float64(d))
	}
}

// DeliverUser delivers an event from another node to the sessions of user
// on this node, like ServerSession.Deliver. A malformed event is refused
// with an error.
func (n *Node) DeliverUser(user string, event []byte) error {
	if len(n.srv.users.sessions(user)) == 0 {
		return nil // not here: no need to decode it
	}
	m, err := decodeRemote(event)
	if err != nil {
		n.srv.stats.brokerBad.Add(1)
		return err
	}
	n.srv.stats.brokerIn.Add(1)
	n.srv.deliverToLocalUser(context.Background(), user, m)
	return nil
}

// SetPresence reports that user came online in the cluster (its first
// session on any node) or went offline (its last session anywhere ended, or
// the node holding it died). The server's presence listeners see it.
func (n *Node) SetPresence(user string, online bool) { n.srv.presence(user, online) }

// SetHealth reports whether the broker can deliver (nil) or not. When a
// node becomes unhealthy its remote sessions are removed, so that their
// clients handshake again (on another node, through a load balancer)
// instead of silently missing messages from the other nodes; handshakes and
// publishes on clustered channels are refused with 503::node_unhealthy until
// the broker reports nil again.
func (n *Node) SetHealth(err error) { n.srv.setHealth(err) }

// decodeRemote decodes one message from another node: one JSON object, as
// fanOut queues it (an array would be queued as it is, nested in a reply).
func decodeRemote(event []byte) (*bayeux.Message, error) {
	if trimmed := bytes.TrimLeft(event, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("runtime: remote event: not a JSON object")
	}
	msgs, invalid, err := decodeMessages(event, 1)
	switch {
	case err != nil:
		return nil, fmt.Errorf("runtime: remote event: %w", err)
	case invalid != nil:
		return nil, errors.New("runtime: remote event: invalid UTF-8")
	case len(msgs) != 1:
		return nil, fmt.Errorf("runtime: remote event: %d messages, want 1", len(msgs))
	case !bayeux.ValidChannel(msgs[0].Channel) || msgs[0].Data == nil:
		return nil, errors.New("runtime: remote event: invalid channel or no data")
	}
	return &msgs[0], nil
}

var errNodeUnhealthy = bayeux.NewError(503, "node_unhealthy")

// Healthy returns nil when the server can deliver everything its clients
// expect, and otherwise the broker's error (for a health endpoint or a load
// balancer's check). A server without a broker is always healthy.
func (s *Server) Healthy() error {
	if p := s.health.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Server) setHealth(err error) {
	if err == nil {
		if s.health.Swap(nil) != nil {
			s.log.Info("bayeux node healthy again")
			if s.metrics != nil {
				s.metrics.reconnections.Inc()
			}
		}
		return
	}
	if old := s.health.Swap(&err); old != nil {
		return // already unhealthy: sessions were removed then
	}
	s.log.Warn("bayeux node unhealthy: removing its sessions so that their clients reconnect elsewhere", "err", err)
	s.sessions.each(func(sess *ServerSession) {
		if sess.local == nil {
			s.removeSession(sess, RemovedUnhealthy)
		}
	})
	// Websockets are closed too: behind a load balancer, a client's next
	// connection then reaches a healthy node rather than this one. Each
	// connection's writer sends the close frame after what it is writing,
	// then closes it.
	go s.wsConns.Range(func(k, _ any) bool {
		if s.Healthy() == nil {
			return false // healthy again: the connections left are new
		}
		k.(*wsConn).closeWith(websocket.CloseTryAgainLater, "node unhealthy")
		return true
	})
}

// OnUserPresence registers f to be told when a user comes online in the
// cluster (its first session on any node) and goes offline (its last
// session anywhere ends, or the node holding it dies). Sessions carry a
// user when SetUser was called during the handshake (typically in
// SecurityPolicy.CanHandshake). Without a broker, the cluster is this
// server.
func (s *Server) OnUserPresence(f func(user string, online bool)) {
	s.hooks.update(func(h *hookSet) { h.presence = appendCopy(h.presence, f) })
}

func (s *Server) presence(user string, online bool) {
	for _, f := range s.hooks.load().presence {
		f(user, online)
	}
}

// DeliverToUser delivers data on channel to every session of user, on this
// node and, with a broker, on every other node (what CometD's Seti does).
// Like ServerSession.Deliver, it is a private delivery: the sessions need
// not subscribe to channel, and outgoing extensions see the message. It
// returns the number of sessions on this node that got it.
func (s *Server) DeliverToUser(ctx context.Context, user, channel string, data any) (int, error) {
	channel = bayeux.Normalize(channel)
	if !bayeux.ValidChannel(channel) || bayeux.IsWild(channel) {
		return 0, fmt.Errorf("runtime: deliver to user %q: invalid channel %q", user, channel)
	}
	raw, err := toRaw(data)
	if err != nil {
		return 0, fmt.Errorf("runtime: deliver to user %q on %s: %w", user, channel, err)
	}
	m := &bayeux.Message{Channel: channel, Data: raw}
	if s.opts.Broker != nil {
		if err := s.Healthy(); err != nil {
			return 0, fmt.Errorf("runtime: deliver to user %q: %w", user, errNodeUnhealthy)
		}
		if err := s.opts.Broker.PublishUser(user, encodeMessage(m)); err != nil {
			return 0, fmt.Errorf("runtime: deliver to user %q: %w", user, err)
		}
		s.stats.brokerOut.Add(1)
	}
	return s.deliverToLocalUser(ctx, user, m), nil
}

func (s *Server) deliverToLocalUser(ctx context.Context, user string, m *bayeux.Message) int {
	n := 0
	for _, sess := range s.users.sessions(user) {
		own := *m
		if sess.deliver(ctx, &own, 0) == nil {
			n++
		}
	}
	return n
}

// userIndex maps user ids to the sessions of this node that carry them. A
// user's first session and last session are changes told to the broker (or,
// without one, to the presence listeners) in the order they happened: they
// queue under mu, and whoever finds no one telling them tells them all.
type userIndex struct {
	mu      sync.Mutex
	m       map[string][]*ServerSession
	changes orderedQueue[userChange] // told to the broker, in order
}

type userChange struct {
	user   string
	online bool
}

// addLocked records sess under user and reports whether it is the user's
// first session here.
func (u *userIndex) addLocked(user string, sess *ServerSession) bool {
	if u.m == nil {
		u.m = make(map[string][]*ServerSession)
	}
	list := u.m[user]
	u.m[user] = append(list[:len(list):len(list)], sess)
	return len(list) == 0
}

// removeLocked forgets sess and reports whether user has no session left
// here.
func (u *userIndex) removeLocked(user string, sess *ServerSession) bool {
	list := u.m[user]
	out := make([]*ServerSession, 0, len(list))
	found := false
	for _, x := range list {
		if x == sess {
			found = true
			continue
		}
		out = append(out, x)
	}
	if !found {
		return false
	}
	if len(out) == 0 {
		delete(u.m, user)
		return true
	}
	u.m[user] = out
	return false
}

func (u *userIndex) sessions(user string) []*ServerSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m[user] // never modified in place
}

func (u *userIndex) list() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.m))
	for k := range u.m {
		out = append(out, k)
	}
	return out
}

// indexUser records that sess carries user. A removal that races with it
// finds the session indexed, or finds it removed here and undone.
func (s *Server) indexUser(sess *ServerSession, user string) {
	sess.mu.Lock()
	removed := sess.removed
	if !removed {
		sess.indexedUser = user
	}
	sess.mu.Unlock()
	if removed {
		return
	}
	s.userOnline(user, sess)
	if sess.isRemoved() {
		s.userOffline(user, sess) // removeSession may have looked before add
	}
}

// UserSessions returns the sessions of user on this server (those whose
// SetUser ran during the handshake).
func (s *Server) UserSessions(user string) []*ServerSession {
	return slices.Clone(s.users.sessions(user))
}

// userOnline is called when sess, carrying user, joined this node.
func (s *Server) userOnline(user string, sess *ServerSession) {
	s.users.mu.Lock()
	var changed []userChange
	if s.users.addLocked(user, sess) {
		changed = append(changed, userChange{user, true})
	}
	s.users.changes.tellLocked(&s.users.mu, s.tellUser, changed...)
}

// userOffline is called when sess, carrying user, left this node.
func (s *Server) userOffline(user string, sess *ServerSession) {
	s.users.mu.Lock()
	var changed []userChange
	if s.users.removeLocked(user, sess) {
		changed = append(changed, userChange{user, false})
	}
	s.users.changes.tellLocked(&s.users.mu, s.tellUser, changed...)
}

// tellUser tells a change of this node's users to the broker, or without
// one to the presence listeners.
func (s *Server) tellUser(c userChange) {
	if b := s.opts.Broker; b != nil {
		b.SetUserOnline(c.user, c.online)
	} else {
		s.presence(c.user, c.online)
	}
}

// orderedQueue tells things in the order they were queued, one goroutine
// at a time, without holding the lock that guards the queue while it tells
// them (listeners may call back into what holds the lock).
type orderedQueue[T any] struct {
	pending  []T
	draining bool
}

// tellLocked queues items and, unless another goroutine is already
// telling, tells everything queued, in order. mu, which guards q, is held
// on entry and released on return.
func (q *orderedQueue[T]) tellLocked(mu *sync.Mutex, tell func(T), items ...T) {
	q.pending = append(q.pending, items...)
	if q.draining {
		mu.Unlock()
		return
	}
	q.draining = true
	for len(q.pending) > 0 {
		batch := q.pending
		q.pending = nil
		mu.Unlock()
		for _, it := range batch {
			tell(it)
		}
		mu.Lock()
	}
	q.draining = false
	mu.Unlock()
}
