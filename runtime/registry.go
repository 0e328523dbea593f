package runtime

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// channelRegistry maps channel names to the channels the server knows.
type channelRegistry struct {
	srv *Server
	m   sync.Map     // string -> *Channel
	n   atomic.Int64 // channels in m
}

func (r *channelRegistry) get(name string) *Channel {
	if v, ok := r.m.Load(name); ok {
		return v.(*Channel)
	}
	return nil
}

// getOrCreate returns the channel name, creating it with the initializers
// when it does not exist. Initializers run before the channel is visible to
// anyone else, so creation and configuration are one atomic step. It
// reports whether this call created the channel.
func (r *channelRegistry) getOrCreate(name string, init ...func(*Channel)) (*Channel, bool) {
	if c := r.get(name); c != nil {
		return c, false
	}
	c := newChannel(r.srv, name)
	for _, f := range init {
		f(c)
	}
	v, loaded := r.m.LoadOrStore(name, c)
	if loaded {
		return v.(*Channel), false
	}
	r.n.Add(1)
	r.srv.stats.channelsCreated.Add(1)
	r.srv.hooks.channelAdded(c)
	return c, true
}

// remove takes c out of the registry; c.mu must be held.
func (r *channelRegistry) removeLocked(c *Channel) bool {
	if c.dead {
		return false
	}
	c.dead = true
	if !r.m.CompareAndDelete(c.name, c) {
		return false
	}
	r.n.Add(-1)
	return true
}

// subscribe adds s to the subscribers of name and records the channel on the
// session. It reports false when the session has been removed. Listeners
// are told of the subscription before the session's removal can tell them
// of the unsubscription, so they see the two in order.
func (r *channelRegistry) subscribe(s *ServerSession, name string) bool {
	for {
		c, _ := r.getOrCreate(name)
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			continue
		}
		_, already := c.subs[s]
		c.subs[s] = struct{}{}
		c.idle = 0
		c.snap.Store(nil)
		c.mu.Unlock()
		if !already {
			r.srv.stats.subscriptions.Add(1)
			r.srv.hooks.subscribed(s, c)
		}

		s.mu.Lock()
		removed := s.removed
		if !removed {
			s.subs[c] = struct{}{}
		}
		s.mu.Unlock()
		if removed {
			// The session was removed while we subscribed it; its cleanup
			// may have run before we added it, so undo our part (which
			// tells the listeners of the unsubscription).
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
// subscribers and nothing else keeps it.
func (r *channelRegistry) drop(c *Channel, s *ServerSession) {
	c.mu.Lock()
	_, was := c.subs[s]
	delete(c.subs, s)
	c.snap.Store(nil)
	removed := len(c.subs) == 0 && !c.conf.Load().inUse() && r.removeLocked(c)
	c.mu.Unlock()
	if was {
		r.srv.stats.subscriptions.Add(-1)
		r.srv.hooks.unsubscribed(s, c)
	}
	if removed {
		r.srv.hooks.channelRemoved(c)
	}
}

// sweep removes channels that have had no subscribers and nothing to keep
// them for two sweeps (channels created by the application and never
// configured nor subscribed).
func (r *channelRegistry) sweep() {
	r.m.Range(func(_, v any) bool {
		c := v.(*Channel)
		c.mu.Lock()
		removed := false
		if len(c.subs) == 0 && !c.conf.Load().inUse() {
			c.idle++
			if c.idle >= 2 {
				removed = r.removeLocked(c)
			}
		}
		c.mu.Unlock()
		if removed {
			r.srv.hooks.channelRemoved(c)
		}
		return true
	})
}

// count returns the number of channels.
func (r *channelRegistry) count() int { return int(r.n.Load()) }

// routeNames appends to dst the names whose channels see a message on name:
// name itself, then the wildcard channels matching it from the most
// specific to the root ("/a/b/c": "/a/b/*", "/a/b/**", "/a/**", "/**"). For
// a wildcard name ("/a/*") the wildcards of its parent follow it ("/a/**",
// "/**").
func routeNames(dst []string, name string) []string {
	dst = append(dst, name)
	if !bayeux.IsWild(name) {
		return bayeux.AppendWilds(dst, name)
	}
	parent := name[:strings.LastIndexByte(name, '/')]
	for p := parent; ; {
		if deep := p + "/**"; deep != name {
			dst = append(dst, deep)
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	if parent != "" && name != "/**" {
		dst = append(dst, "/**")
	}
	return dst
}

// route returns the existing channels that see a message on name, in the
// order of routeNames.
func (r *channelRegistry) route(dst []*Channel, name string) []*Channel {
	var buf [12]string
	for _, n := range routeNames(buf[:0], name) {
		if c := r.get(n); c != nil {
			dst = append(dst, c)
		}
	}
	return dst
}
