package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// channel holds the subscribers of one channel name (concrete or wildcard).
// Publishers read a snapshot of the subscribers without taking a lock; a
// subscribe or unsubscribe drops the snapshot and the next publish rebuilds
// it.
type channel struct {
	name string
	mu   sync.Mutex
	subs map[*ServerSession]struct{}
	dead bool // removed from the registry; subscribe must retry
	snap atomic.Pointer[[]*ServerSession]
}

// subscribers returns the current subscribers. The slice must not be
// modified.
func (c *channel) subscribers() []*ServerSession {
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

// channelRegistry maps channel names to channels that have subscribers.
type channelRegistry struct {
	m sync.Map // string -> *channel
}

func (r *channelRegistry) get(name string) *channel {
	if v, ok := r.m.Load(name); ok {
		return v.(*channel)
	}
	return nil
}

// subscribe adds s to the subscribers of name and records the channel on the
// session. It reports false when the session has been removed.
func (r *channelRegistry) subscribe(s *ServerSession, name string) bool {
	for {
		c := r.get(name)
		if c == nil {
			v, _ := r.m.LoadOrStore(name, &channel{name: name, subs: make(map[*ServerSession]struct{})})
			c = v.(*channel)
		}
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			continue
		}
		c.subs[s] = struct{}{}
		c.snap.Store(nil)
		c.mu.Unlock()

		s.mu.Lock()
		removed := s.removed
		if !removed {
			s.subs[c] = struct{}{}
		}
		s.mu.Unlock()
		if removed {
			// The session was removed while we subscribed it; its cleanup
			// may have run before we added it, so undo our part.
			r.drop(c, s)
			return false
		}
		return true
	}
}

// unsubscribe removes s from name's subscribers. It reports whether s was
// subscribed.
func (r *channelRegistry) unsubscribe(s *ServerSession, name string) bool {
	c := r.get(name)
	if c == nil {
		return false
	}
	s.mu.Lock()
	_, ok := s.subs[c]
	delete(s.subs, c)
	s.mu.Unlock()
	if ok {
		r.drop(c, s)
	}
	return ok
}

// drop removes s from c and removes c from the registry once it has no
// subscribers left.
func (r *channelRegistry) drop(c *channel, s *ServerSession) {
	c.mu.Lock()
	delete(c.subs, s)
	c.snap.Store(nil)
	if len(c.subs) == 0 && !c.dead {
		c.dead = true
		r.m.CompareAndDelete(c.name, c)
	}
	c.mu.Unlock()
}

// count returns the number of channels with subscribers.
func (r *channelRegistry) count() int {
	n := 0
	r.m.Range(func(any, any) bool { n++; return true })
	return n
}

// fanOut queues msg for every session subscribed to name or to a wildcard
// channel matching it. Each session gets the message at most once, however
// many of its subscriptions match. It returns the number of sessions the
// message was queued for.
func (r *channelRegistry) fanOut(name string, msg []byte, from *ServerSession, toPublisher bool) int {
	var buf [12]string
	names := bayeux.AppendWilds(append(buf[:0], name), name)

	// Most messages match a single subscribed channel: deliver from its
	// snapshot directly. Only when several match is a set needed.
	var first []*ServerSession
	matched := 0
	var seen map[*ServerSession]struct{}
	delivered := 0
	deliver := func(s *ServerSession) {
		if s == from && !toPublisher {
			return
		}
		if s.enqueue(msg) {
			delivered++
		}
	}
	for _, n := range names {
		c := r.get(n)
		if c == nil {
			continue
		}
		subs := c.subscribers()
		if len(subs) == 0 {
			continue
		}
		matched++
		switch matched {
		case 1:
			first = subs
			continue
		case 2:
			seen = make(map[*ServerSession]struct{}, len(first)+len(subs))
			for _, s := range first {
				seen[s] = struct{}{}
				deliver(s)
			}
		}
		for _, s := range subs {
			if _, dup := seen[s]; dup {
				continue
			}
			seen[s] = struct{}{}
			deliver(s)
		}
	}
	if matched == 1 {
		for _, s := range first {
			deliver(s)
		}
	}
	return delivered
}
