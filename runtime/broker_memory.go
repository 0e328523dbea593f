package runtime

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
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
	hist   *memoryHistory // NewMemoryClusterWithHistory
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
// With a history (NewMemoryClusterWithHistory) it is a HistoryBroker.
func (c *MemoryCluster) Broker() Broker {
	if c.hist != nil {
		b := &memoryHistoryBroker{memoryBroker: memoryBroker{cluster: c}}
		b.hist = b
		return b
	}
	return &memoryBroker{cluster: c}
}

var _ Broker = (*memoryBroker)(nil)

type memoryBroker struct {
	cluster *MemoryCluster
	node    *Node
	closed  bool                 // out of the cluster (guarded by cluster.mu)
	hist    *memoryHistoryBroker // the node, in a cluster with a history
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

// NewMemoryClusterWithHistory returns an empty cluster whose brokers are
// HistoryBrokers that keep the last size broadcasts: every node delivers
// the cluster's broadcasts in one order, each stamped with its position,
// and a client can resume on another node where it stopped (see
// HistoryBroker). Each node delivers on a goroutine of its own, so a
// publish returns before the subscribers, even on the publisher's node,
// have the message. Each such cluster's history has a name of its own, a
// random epoch (see Node.Begin): a client that kept a position of another
// cluster's history (the process started again) is told of a gap when it
// resumes on this one, and is replayed this one from its start.
func NewMemoryClusterWithHistory(size int) *MemoryCluster {
	c := NewMemoryCluster()
	c.hist = &memoryHistory{
		epoch: "m" + strconv.FormatUint(rand.Uint64(), 36),
		evs:   newRing[memoryEvent](max(size, 1)),
	}
	return c
}

// memoryHistory is a MemoryCluster's history: a ring of the last events.
// order serialises appends with their hand-over to the nodes, so that
// every node gets them in position order; mu guards last and evs.
type memoryHistory struct {
	epoch string // the history's name, for Node.Begin
	order sync.Mutex
	mu    sync.Mutex
	last  uint64            // position of the newest event
	evs   ring[memoryEvent] // the kept events
}

type memoryEvent struct {
	pos     uint64
	event   []byte
	exclude string
	stored  time.Time
}

var _ HistoryBroker = (*memoryHistoryBroker)(nil)

// memoryHistoryBroker is a node of a MemoryCluster with a history. Its
// inbox is unbounded: a node slower than the cluster's publishers grows it.
type memoryHistoryBroker struct {
	memoryBroker
	mu     sync.Mutex
	inbox  []memoryEvent
	wake   chan struct{}
	stop   chan struct{}
	closed bool
}

// KeepsHistory reports true. Part of HistoryBroker.
func (b *memoryHistoryBroker) KeepsHistory() bool { return true }

func (b *memoryHistoryBroker) Start(n *Node) error {
	// The node begins after the last event appended: the others are
	// replayed to resuming clients. No append runs meanwhile.
	h := b.cluster.hist
	h.order.Lock()
	defer h.order.Unlock()
	h.mu.Lock()
	last := h.last
	// The newest kept events, for the node's replay buffer (Node.Remember).
	var tail []HistoryEvent
	if k := min(h.evs.len, n.ReplayBuffer()); k > 0 {
		tail = make([]HistoryEvent, 0, k)
		for i := h.evs.len - k; i < h.evs.len; i++ {
			e := h.evs.at(i)
			tail = append(tail, HistoryEvent{Pos: e.pos, Event: e.event, Exclude: e.exclude})
		}
	}
	h.mu.Unlock()
	n.Begin(h.epoch, last)
	if err := n.Remember(tail); err != nil {
		n.Logger().Info("bayeux: replay buffer not filled from the history", "err", err)
	}
	if err := b.memoryBroker.Start(n); err != nil {
		return err
	}
	b.wake, b.stop = make(chan struct{}, 1), make(chan struct{})
	go b.deliver()
	return nil
}

func (b *memoryHistoryBroker) deliver() {
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
		}
		for {
			b.mu.Lock()
			evs := b.inbox
			b.inbox = nil
			b.mu.Unlock()
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				if err := b.node.DeliverStored(e.pos, e.stored, e.event, e.exclude); err != nil {
					b.node.Logger().Warn("bayeux: remote event dropped", "err", err)
				}
			}
		}
	}
}

func (b *memoryHistoryBroker) push(e memoryEvent) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.inbox = append(b.inbox, e)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Publish is not used: a node with a HistoryBroker appends its broadcasts.
func (b *memoryHistoryBroker) Publish(channel string, event []byte) error {
	_, err := b.Append(channel, event, "")
	return err
}

func (b *memoryHistoryBroker) Append(_ string, event []byte, exclude string) (uint64, error) {
	h := b.cluster.hist
	h.order.Lock()
	defer h.order.Unlock()
	h.mu.Lock()
	h.last++
	e := memoryEvent{pos: h.last, event: event, exclude: exclude, stored: time.Now()}
	h.evs.push(e)
	h.mu.Unlock()
	for _, n := range b.nodes() {
		n.hist.push(e)
	}
	return e.pos, nil
}

func (b *memoryHistoryBroker) Replay(ctx context.Context, patterns []string, after, upto uint64, f func(uint64, []byte, string) error) (bool, error) {
	h := b.cluster.hist
	h.mu.Lock()
	complete := after >= h.last || h.evs.len > 0 && after+1 >= h.evs.at(0).pos
	var evs []memoryEvent
	for i := range h.evs.len {
		if e := h.evs.at(i); e.pos > after && e.pos <= upto {
			evs = append(evs, *e)
		}
	}
	h.mu.Unlock()
	for _, e := range evs {
		if err := ctx.Err(); err != nil {
			return complete, err
		}
		if err := f(e.pos, e.event, e.exclude); err != nil {
			return complete, err
		}
	}
	return complete, nil
}

func (b *memoryHistoryBroker) Close() error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.inbox = nil
	b.mu.Unlock()
	err := b.memoryBroker.Close()
	if !already && b.stop != nil {
		// Not waiting for the delivery goroutine: Close may run on it (a
		// listener that shuts the server down). It ends by itself.
		close(b.stop)
	}
	return err
}
