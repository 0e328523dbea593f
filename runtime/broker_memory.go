package runtime

import (
	"errors"
	"sync"
)

// MemoryCluster links Servers of one process into a cluster: give each
// Server its own MemoryCluster.Broker. Delivery to the other nodes happens
// on the publisher's goroutine, so it is ordered and nothing is lost; it is
// the reference behaviour that brokers over a network (runtime/natsbroker)
// are tested against, and a way to shard sessions over several Servers in
// one process.
type MemoryCluster struct {
	mu     sync.Mutex
	nodes  []*memoryBroker                       // copied on change, never changed in place
	online map[string]map[*memoryBroker]struct{} // user -> nodes holding it
	// Presence changes are told in the order they happened: they queue
	// here, and whoever finds no one telling them tells them all.
	events orderedQueue[memoryPresence]
}

type memoryPresence struct {
	nodes  []*memoryBroker // copied on change, never changed in place
	user   string
	online bool
}

// tellLocked queues presence changes and tells them in order, without
// holding c.mu (listeners may call back into the cluster). c.mu is held on
// entry and released on return.
func (c *MemoryCluster) tellLocked(evs ...memoryPresence) {
	c.events.tellLocked(&c.mu, func(e memoryPresence) {
		for _, n := range e.nodes {
			n.node.SetPresence(e.user, e.online)
		}
	}, evs...)
}

// NewMemoryCluster returns an empty cluster.
func NewMemoryCluster() *MemoryCluster {
	return &MemoryCluster{online: make(map[string]map[*memoryBroker]struct{})}
}

// Broker returns a new node's broker, for Options.Broker of one Server.
func (c *MemoryCluster) Broker() Broker { return &memoryBroker{cluster: c} }

var _ Broker = (*memoryBroker)(nil)

type memoryBroker struct {
	cluster *MemoryCluster
	node    *Node
	closed  bool // out of the cluster (guarded by cluster.mu)
}

func (b *memoryBroker) Start(n *Node) error {
	if b.node != nil {
		return errors.New("runtime: memory broker already started: give each Server its own MemoryCluster.Broker()")
	}
	b.node = n
	c := b.cluster
	c.mu.Lock()
	c.nodes = append(c.nodes[:len(c.nodes):len(c.nodes)], b)
	c.mu.Unlock()
	return nil
}

// nodes returns the started nodes; the slice is never changed in place
// (Start and Close make a new one), so it may be read unlocked.
func (b *memoryBroker) nodes() []*memoryBroker {
	c := b.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes
}

func (b *memoryBroker) Publish(_ string, event []byte) error {
	for _, n := range b.nodes() {
		if n == b {
			continue
		}
		if err := n.node.Deliver(event); err != nil {
			n.node.Logger().Warn("bayeux: remote event dropped", "err", err)
		}
	}
	return nil
}

func (b *memoryBroker) PublishUser(user string, event []byte) error {
	for _, n := range b.nodes() {
		if n == b {
			continue
		}
		if err := n.node.DeliverUser(user, event); err != nil {
			n.node.Logger().Warn("bayeux: remote event dropped", "err", err)
		}
	}
	return nil
}

func (b *memoryBroker) SetUserOnline(user string, online bool) {
	c := b.cluster
	c.mu.Lock()
	if b.closed {
		c.mu.Unlock() // a handshake that raced Close: the node is gone
		return
	}
	set := c.online[user]
	changed := false
	if online {
		if set == nil {
			set = make(map[*memoryBroker]struct{})
			c.online[user] = set
		}
		changed = len(set) == 0
		set[b] = struct{}{}
	} else if _, ok := set[b]; ok {
		delete(set, b)
		if changed = len(set) == 0; changed {
			delete(c.online, user)
		}
	}
	if !changed {
		c.mu.Unlock()
		return
	}
	c.tellLocked(memoryPresence{nodes: c.nodes, user: user, online: online})
}

// Close takes the node out of the cluster; the users it alone held go
// offline for the others.
func (b *memoryBroker) Close() error {
	c := b.cluster
	c.mu.Lock()
	b.closed = true
	var gone []string
	for user, set := range c.online {
		if _, ok := set[b]; ok {
			delete(set, b)
			if len(set) == 0 {
				delete(c.online, user)
				gone = append(gone, user)
			}
		}
	}
	out := c.nodes[:0:0]
	for _, n := range c.nodes {
		if n != b {
			out = append(out, n)
		}
	}
	c.nodes = out
	evs := make([]memoryPresence, 0, len(gone))
	for _, user := range gone {
		evs = append(evs, memoryPresence{nodes: out, user: user, online: false})
	}
	c.tellLocked(evs...)
	return nil
}
