package natsbroker

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// presence is a node's view of which users are online in the cluster: the
// users of this node and of every other node heard from within the TTL.
// Changes of the view are queued and told to emit, in order, on one
// goroutine (run), so that listeners may call back into the server.
type presence struct {
	ttl  time.Duration
	emit func(user string, online bool)

	mu      sync.Mutex
	mine    map[string]bool
	nodes   map[string]*remoteNode
	count   map[string]int // user -> nodes holding it, this one included
	pending []presenceEvent
	wake    chan struct{}
}

type remoteNode struct {
	users map[string]bool
	seen  time.Time
	// The heartbeat being received in parts: its number, the users of the
	// parts so far, and how many parts came.
	beatSeq   uint64
	beatUsers map[string]bool
	beatParts int
}

type presenceEvent struct {
	user   string
	online bool
}

func newPresence(ttl time.Duration) *presence {
	return &presence{
		ttl:   ttl,
		mine:  make(map[string]bool),
		nodes: make(map[string]*remoteNode),
		count: make(map[string]int),
		wake:  make(chan struct{}, 1),
	}
}

// add and sub change a user's node count; mu is held.
func (p *presence) add(user string) {
	if p.count[user]++; p.count[user] == 1 {
		p.pending = append(p.pending, presenceEvent{user, true})
	}
}

func (p *presence) sub(user string) {
	if p.count[user]--; p.count[user] <= 0 {
		delete(p.count, user)
		p.pending = append(p.pending, presenceEvent{user, false})
	}
}

// set records whether set (a node's users) holds user; mu is held.
func (p *presence) set(set map[string]bool, user string, online bool) {
	switch {
	case online && !set[user]:
		set[user] = true
		p.add(user)
	case !online && set[user]:
		delete(set, user)
		p.sub(user)
	}
}

func (p *presence) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// local records a change of this node's users.
func (p *presence) local(user string, online bool) {
	p.mu.Lock()
	p.set(p.mine, user, online)
	p.mu.Unlock()
	p.signal()
}

func (p *presence) nodeLocked(node string) *remoteNode {
	n := p.nodes[node]
	if n == nil {
		n = &remoteNode{users: make(map[string]bool)}
		p.nodes[node] = n
	}
	n.seen = time.Now()
	return n
}

// remote records a change of another node's users.
func (p *presence) remote(node, user string, online bool) {
	p.mu.Lock()
	p.set(p.nodeLocked(node).users, user, online)
	p.mu.Unlock()
	p.signal()
}

// beat records one of the parts (parts in all) of another node's heartbeat
// number seq, which list the node's users. Users are online as soon as a
// part names them; those no part of a heartbeat named go offline once all
// its parts came. A heartbeat with a part lost removes no one; the next one
// starts over.
func (p *presence) beat(node string, seq uint64, parts int, users []string) {
	p.mu.Lock()
	n := p.nodeLocked(node)
	for _, u := range users {
		p.set(n.users, u, true)
	}
	if parts <= 1 {
		n.beatUsers, n.beatParts = nil, 0
		p.dropMissing(n, users, nil)
	} else {
		if seq != n.beatSeq || n.beatUsers == nil {
			n.beatSeq, n.beatUsers, n.beatParts = seq, make(map[string]bool), 0
		}
		for _, u := range users {
			n.beatUsers[u] = true
		}
		if n.beatParts++; n.beatParts == parts {
			p.dropMissing(n, nil, n.beatUsers)
			n.beatUsers, n.beatParts = nil, 0
		}
	}
	p.mu.Unlock()
	p.signal()
}

// dropMissing takes offline the users of n that a complete heartbeat did
// not name (list, or the keys of named); mu is held.
func (p *presence) dropMissing(n *remoteNode, list []string, named map[string]bool) {
	if named == nil {
		named = make(map[string]bool, len(list))
		for _, u := range list {
			named[u] = true
		}
	}
	for u := range n.users {
		if !named[u] {
			p.set(n.users, u, false)
		}
	}
}

// forget drops a node that left or died, with its users; mu is held.
func (p *presence) forgetLocked(node string) {
	n := p.nodes[node]
	if n == nil {
		return
	}
	delete(p.nodes, node)
	for u := range n.users {
		p.sub(u)
	}
}

func (p *presence) forget(node string) {
	p.mu.Lock()
	p.forgetLocked(node)
	p.mu.Unlock()
	p.signal()
}

// expire forgets the nodes not heard from within the TTL.
func (p *presence) expire(now time.Time) {
	p.mu.Lock()
	for id, n := range p.nodes {
		if now.Sub(n.seen) > p.ttl {
			p.forgetLocked(id)
		}
	}
	p.mu.Unlock()
}

// online reports whether user is online in this node's view.
func (p *presence) online(user string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[user] > 0
}

// run tells emit of the changes and expires silent nodes until stop.
func (p *presence) run(stop <-chan struct{}) {
	t := time.NewTicker(max(p.ttl/10, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p.expire(now)
		case <-p.wake:
		}
		p.mu.Lock()
		evs := p.pending
		p.pending = nil
		p.mu.Unlock()
		for _, e := range evs {
			p.emit(e.user, e.online)
		}
	}
}

// nodeView is what presence knows of another node.
type nodeView struct {
	id    string
	users int
	seen  time.Time
}

// view returns how many users this node has, and the other nodes heard
// from within the TTL, by id.
func (p *presence) view() (mine int, others []nodeView) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, n := range p.nodes {
		others = append(others, nodeView{id: id, users: len(n.users), seen: n.seen})
	}
	slices.SortFunc(others, func(a, b nodeView) int { return strings.Compare(a.id, b.id) })
	return len(p.mine), others
}
