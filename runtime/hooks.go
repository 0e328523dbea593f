package runtime

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// A MessageListener sees every message published on the channel it was
// added to (or, for a wildcard channel, on every channel it matches) after
// the security checks and before the message is frozen and delivered. It may
// modify m (its Data, Ext); the modified message is what subscribers get.
// Returning a non-nil error vetoes the message: the publisher's reply
// carries the error if it is a *bayeux.Error, and "404::message_deleted"
// otherwise.
//
// Listeners of wildcard channels run first, from the root ("/**") towards
// the exact channel. They run on the goroutine that processes the
// publisher's request, with ctx bounded by Options.HookTimeout.
type MessageListener func(ctx context.Context, from *ServerSession, m *bayeux.Message) error

// A SubscriptionListener is told when a session subscribes to or
// unsubscribes from a channel (subscribed is false for an unsubscribe, and
// also when the session ends).
type SubscriptionListener func(s *ServerSession, c *Channel, subscribed bool)

// Operation is what an Authorizer is asked to allow.
type Operation int

// The operations on a channel.
const (
	OpCreate Operation = iota + 1
	OpSubscribe
	OpPublish
)

// String returns "create", "subscribe" or "publish".
func (op Operation) String() string {
	switch op {
	case OpCreate:
		return "create"
	case OpSubscribe:
		return "subscribe"
	case OpPublish:
		return "publish"
	}
	return "unknown"
}

// Decision is an Authorizer's answer: Grant, Deny or Ignore.
type Decision struct {
	kind   int8 // 1 grant, -1 deny, 0 ignore
	reason string
}

// Grant allows the operation.
func Grant() Decision { return Decision{kind: 1} }

// Deny refuses the operation; the client's error carries reason.
func Deny(reason string) Decision { return Decision{kind: -1, reason: reason} }

// Ignore leaves the decision to the other authorizers.
func Ignore() Decision { return Decision{} }

// An Authorizer decides whether a session may create, subscribe to or
// publish on a channel. The authorizers that apply to a channel are those of
// the channel and of every wildcard channel matching it. As in CometD: when
// there are none, the operation is granted; otherwise at least one must
// grant and none may deny (the first deny decides). The SecurityPolicy is
// asked before them, and its refusal wins. Authorizers apply to broadcast
// and service channels, never to meta channels.
type Authorizer interface {
	Authorize(ctx context.Context, op Operation, channel string, s *ServerSession, m *bayeux.Message) Decision
}

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(ctx context.Context, op Operation, channel string, s *ServerSession, m *bayeux.Message) Decision

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, op Operation, channel string, s *ServerSession, m *bayeux.Message) Decision {
	return f(ctx, op, channel, s, m)
}

// A SecurityPolicy is the server-wide gate of every operation. Each method
// returns nil to allow, or an error to refuse: the client receives
// "403:<reason>:handshake_denied" (subscribe_denied, publish_denied,
// create_denied) where reason is the error's text, or the error itself if
// it is a *bayeux.Error.
//
// CanHandshake is where authentication happens: it sees the handshake
// message (credentials in m.Ext) and, through RequestFromContext, the HTTP
// request (headers, cookies); it attaches an identity with s.SetUser. A
// refused handshake is answered with advice reconnect "none".
//
// Embed AllowAll to implement only some of the methods.
type SecurityPolicy interface {
	CanHandshake(ctx context.Context, s *ServerSession, m *bayeux.Message) error
	CanCreate(ctx context.Context, s *ServerSession, channel string, m *bayeux.Message) error
	CanSubscribe(ctx context.Context, s *ServerSession, channel string, m *bayeux.Message) error
	CanPublish(ctx context.Context, s *ServerSession, channel string, m *bayeux.Message) error
}

// AllowAll is a SecurityPolicy that allows everything; embed it in a policy
// to override only some methods.
type AllowAll struct{}

// CanHandshake allows the handshake.
func (AllowAll) CanHandshake(context.Context, *ServerSession, *bayeux.Message) error { return nil }

// CanCreate allows creating the channel.
func (AllowAll) CanCreate(context.Context, *ServerSession, string, *bayeux.Message) error { return nil }

// CanSubscribe allows the subscription.
func (AllowAll) CanSubscribe(context.Context, *ServerSession, string, *bayeux.Message) error {
	return nil
}

// CanPublish allows the publish.
func (AllowAll) CanPublish(context.Context, *ServerSession, string, *bayeux.Message) error {
	return nil
}

// An Extension sees messages as they enter and leave the server, in
// CometD's order: server-wide extensions, then the session's, on the way in;
// on the way out, server-wide extensions once per broadcast (before it is
// frozen) and for every reply and private delivery, then the extensions of
// the receiving session. An extension may modify the message; returning an
// error deletes it (an incoming message is answered "404::message_deleted"
// or with the error if it is a *bayeux.Error; an outgoing one is not sent).
//
// Outgoing extensions of a session make every broadcast to that session be
// encoded for it alone; without session extensions a broadcast is encoded
// once for everyone.
type Extension interface {
	Incoming(ctx context.Context, from *ServerSession, m *bayeux.Message) error
	Outgoing(ctx context.Context, to *ServerSession, m *bayeux.Message) error
}

// serverHooks holds the server-wide listeners and extensions; readers load a
// snapshot without locking.
type serverHooks struct {
	mu sync.Mutex
	p  atomic.Pointer[hookSet]
}

type hookSet struct {
	sessionAdded   []func(*ServerSession, *bayeux.Message)
	sessionRemoved []func(*ServerSession, RemoveReason)
	channelAddedL  []func(*Channel)
	channelRemoveL []func(*Channel)
	subscriptionL  []SubscriptionListener
	extensions     []Extension
	policy         SecurityPolicy
	shutdown       []func()
	presence       []func(user string, online bool)
}

var noHooks = &hookSet{}

func (h *serverHooks) load() *hookSet {
	if p := h.p.Load(); p != nil {
		return p
	}
	return noHooks
}

func (h *serverHooks) update(f func(*hookSet)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hs := *h.load()
	f(&hs)
	h.p.Store(&hs)
}

func (h *serverHooks) channelAdded(c *Channel) {
	for _, f := range h.load().channelAddedL {
		f(c)
	}
}

func (h *serverHooks) channelRemoved(c *Channel) {
	for _, f := range h.load().channelRemoveL {
		f(c)
	}
}

func (h *serverHooks) subscribed(s *ServerSession, c *Channel) { h.subscription(s, c, true) }

func (h *serverHooks) unsubscribed(s *ServerSession, c *Channel) { h.subscription(s, c, false) }

func (h *serverHooks) subscription(s *ServerSession, c *Channel, on bool) {
	for _, f := range h.load().subscriptionL {
		f(s, c, on)
	}
	for _, f := range c.conf.Load().subListeners {
		f(s, c, on)
	}
}

// OnSessionAdded registers f to be called after every successful handshake,
// with the new session and its handshake message.
func (s *Server) OnSessionAdded(f func(sess *ServerSession, handshake *bayeux.Message)) {
	s.hooks.update(func(h *hookSet) { h.sessionAdded = appendCopy(h.sessionAdded, f) })
}

// OnSessionRemoved registers f to be called when a session ends, with the
// reason.
func (s *Server) OnSessionRemoved(f func(sess *ServerSession, reason RemoveReason)) {
	s.hooks.update(func(h *hookSet) { h.sessionRemoved = appendCopy(h.sessionRemoved, f) })
}

// OnShutdown registers f to be called when Shutdown starts, before held
// connects are answered, so the application can still deliver a last
// message (a notice that the server is going away).
func (s *Server) OnShutdown(f func()) {
	s.hooks.update(func(h *hookSet) { h.shutdown = appendCopy(h.shutdown, f) })
}

// OnChannelAdded registers f to be called when a channel is created.
func (s *Server) OnChannelAdded(f func(*Channel)) {
	s.hooks.update(func(h *hookSet) { h.channelAddedL = appendCopy(h.channelAddedL, f) })
}

// OnChannelRemoved registers f to be called when a channel is removed.
func (s *Server) OnChannelRemoved(f func(*Channel)) {
	s.hooks.update(func(h *hookSet) { h.channelRemoveL = appendCopy(h.channelRemoveL, f) })
}

// OnSubscription registers a listener of every subscribe and unsubscribe on
// every channel.
func (s *Server) OnSubscription(f SubscriptionListener) {
	s.hooks.update(func(h *hookSet) { h.subscriptionL = appendCopy(h.subscriptionL, f) })
}

// AddExtension adds a server-wide extension.
func (s *Server) AddExtension(e Extension) {
	s.hooks.update(func(h *hookSet) { h.extensions = appendCopy(h.extensions, e) })
}

// SetSecurityPolicy sets the server's SecurityPolicy; nil restores the
// default, which allows handshakes, and subscribe and publish on every
// broadcast and service channel (meta channels are always refused to remote
// clients).
func (s *Server) SetSecurityPolicy(p SecurityPolicy) {
	s.hooks.update(func(h *hookSet) { h.policy = p })
}
