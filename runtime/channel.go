package runtime

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// Channel is a channel the server knows: one that has subscribers, or that
// the application created or configured (with Server.CreateChannel). A
// channel name may be a wildcard ("/chat/*", "/chat/**"): listeners,
// filters, authorizers and the lazy setting of a wildcard channel apply to
// every channel it matches.
//
// A Channel's methods are safe for concurrent use. Publishers read its
// subscribers and configuration from snapshots without taking a lock;
// changes replace the snapshots.
type Channel struct {
	name string
	srv  *Server
	wild bool

	mu   sync.Mutex
	subs map[*ServerSession]struct{}
	dead bool // removed from the registry; whoever holds it must look again
	idle int  // sweeps seen without subscribers

	snap atomic.Pointer[[]*ServerSession]
	conf atomic.Pointer[channelConfig]
	tmpl atomic.Pointer[resolved] // the contract's template of the name
}

// channelConfig is the immutable configuration of a channel; a change
// stores a modified copy.
type channelConfig struct {
	persistent  bool
	nodeLocal   bool
	lazy        bool
	lazyTimeout time.Duration
	// toPublisher: 0 follows the server (true), 1 true, -1 false.
	toPublisher  int8
	listeners    []*listenerEntry
	filters      []DataFilter
	authorizers  []Authorizer
	subListeners []SubscriptionListener
}

var emptyConfig = &channelConfig{}

// hooked reports whether the configuration has anything the publish path
// must run.
func (c *channelConfig) hooked() bool {
	return len(c.listeners) > 0 || len(c.filters) > 0 || len(c.authorizers) > 0 || c.lazy || c.toPublisher != 0 || c.nodeLocal
}

// inUse reports whether the configuration keeps the channel from being
// swept when it has no subscribers.
func (c *channelConfig) inUse() bool {
	return c.persistent || c.hooked() || len(c.subListeners) > 0
}

func newChannel(srv *Server, name string) *Channel {
	c := &Channel{name: name, srv: srv, wild: bayeux.IsWild(name), subs: make(map[*ServerSession]struct{})}
	c.conf.Store(emptyConfig)
	return c
}

// Name returns the channel's name.
func (c *Channel) Name() string { return c.name }

// Kind returns whether the channel is a broadcast, service or meta channel.
func (c *Channel) Kind() bayeux.ChannelKind { return bayeux.KindOf(c.name) }

// IsWild reports whether the channel name ends in "*" or "**".
func (c *Channel) IsWild() bool { return c.wild }

// configure applies f to a copy of the configuration and stores it.
func (c *Channel) configure(f func(*channelConfig)) {
	c.mu.Lock()
	conf := *c.conf.Load()
	f(&conf)
	c.conf.Store(&conf)
	c.mu.Unlock()
}

// SetPersistent keeps the channel (and its configuration) when it has no
// subscribers. Channels with listeners, filters or authorizers are kept
// anyway; a channel with nothing of that is removed when its last
// subscriber leaves.
func (c *Channel) SetPersistent(v bool) { c.configure(func(cf *channelConfig) { cf.persistent = v }) }

// SetNodeLocal keeps the channel's messages on this node: with a Broker,
// they are delivered to this server's subscribers only and never cross to
// the other nodes. A node-local wildcard channel makes every channel it
// matches node-local. Without a broker it changes nothing.
func (c *Channel) SetNodeLocal(v bool) { c.configure(func(cf *channelConfig) { cf.nodeLocal = v }) }

// SetLazy makes messages published on the channel lazy: they are queued
// without waking the subscriber's connection, and leave with the next
// non-lazy message, after the lazy timeout, or with the reply of the held
// /meta/connect, whichever comes first. A lazy wildcard channel makes every
// channel it matches lazy.
func (c *Channel) SetLazy(v bool) { c.configure(func(cf *channelConfig) { cf.lazy = v }) }

// SetLazyTimeout sets how long a lazy message of this channel may wait; zero
// means Options.MaxLazyTimeout.
func (c *Channel) SetLazyTimeout(d time.Duration) {
	c.configure(func(cf *channelConfig) { cf.lazyTimeout = d })
}

// SetBroadcastToPublisher sets whether a message published on the channel
// is delivered back to its publisher when the publisher is subscribed. The
// default is true, as in CometD.
func (c *Channel) SetBroadcastToPublisher(v bool) {
	c.configure(func(cf *channelConfig) {
		cf.toPublisher = -1
		if v {
			cf.toPublisher = 1
		}
	})
}

// AddListener adds a message listener, called for every message published
// on the channel (or on a channel it matches, for a wildcard channel) before
// the message is delivered. It returns a function that removes it.
func (c *Channel) AddListener(l MessageListener) (remove func()) {
	e := &listenerEntry{fn: l}
	c.configure(func(cf *channelConfig) { cf.listeners = appendCopy(cf.listeners, e) })
	return func() {
		c.configure(func(cf *channelConfig) {
			out := make([]*listenerEntry, 0, len(cf.listeners))
			for _, x := range cf.listeners {
				if x != e {
					out = append(out, x)
				}
			}
			cf.listeners = out
		})
	}
}

// listenerEntry gives a listener an identity, so it can be removed.
type listenerEntry struct{ fn MessageListener }

// AddFilter appends data filters to the channel's chain.
func (c *Channel) AddFilter(filters ...DataFilter) {
	c.configure(func(cf *channelConfig) { cf.filters = appendCopy(cf.filters, filters...) })
}

// AddAuthorizer adds an authorizer. See Authorizer for how several combine.
func (c *Channel) AddAuthorizer(a Authorizer) {
	c.srv.hasAuthorizers.Store(true)
	c.configure(func(cf *channelConfig) { cf.authorizers = appendCopy(cf.authorizers, a) })
}

// OnSubscription adds a listener of the channel's subscribe and unsubscribe
// events.
func (c *Channel) OnSubscription(l SubscriptionListener) {
	c.configure(func(cf *channelConfig) { cf.subListeners = appendCopy(cf.subListeners, l) })
}

// Subscribers returns the sessions subscribed to the channel (by its exact
// name, not through wildcards).
func (c *Channel) Subscribers() []*ServerSession {
	return append([]*ServerSession(nil), c.subscribers()...)
}

// Publish broadcasts data (any value encoding/json accepts, or a
// json.RawMessage) on the channel from the server, as if a client had
// published it: listeners, filters and lazy settings apply; security
// checks do not. It returns the number of sessions the message was queued
// for.
func (c *Channel) Publish(data any) (int, error) {
	return c.srv.Publish(c.name, data)
}

// subscribers returns the current subscribers. The slice must not be
// modified.
func (c *Channel) subscribers() []*ServerSession {
	if p := c.snap.Load(); p != nil {
		return *p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.snap.Load(); p != nil {
		return *p
	}
	list := make([]*ServerSession, 0, len(c.subs))
	for s := range c.subs {
		list = append(list, s)
	}
	c.snap.Store(&list)
	return list
}

func appendCopy[T any](list []T, more ...T) []T {
	out := make([]T, 0, len(list)+len(more))
	return append(append(out, list...), more...)
}
