package runtime

import (
	"time"

	dto "github.com/prometheus/client_model/go"
)

// What an operator's tools (the admin page, runtime/admin) read of a
// running server, beside Stats and Refusals.

// SessionInfo describes one session, as EachSession reports it.
type SessionInfo struct {
	ID   string
	User string
	// Transport is that of the session's last handshake or connect
	// (websocket, long-polling, callback-polling), or local.
	Transport string
	// Queued is how many messages wait in its queue (a session whose queue
	// reaches Options.MaxQueue is a slow consumer).
	Queued int
	// Subscriptions is how many channels it is subscribed to.
	Subscriptions int
}

// EachSession calls f with a description of every live session, in no
// particular order. f must not call back into the server's sessions.
func (s *Server) EachSession(f func(SessionInfo)) {
	s.sessions.each(func(sess *ServerSession) {
		sess.mu.Lock()
		info := SessionInfo{
			ID: sess.id, User: sess.userID, Transport: sess.transport,
			Queued: len(sess.queue), Subscriptions: len(sess.subs),
		}
		removed := sess.removed
		sess.mu.Unlock()
		if removed {
			return
		}
		if sess.local != nil {
			info.Transport = transportLocal
		}
		f(info)
	})
}

// ChannelTraffic counts the messages of one channel template.
type ChannelTraffic struct {
	// Channel is the template's pattern, or LabelUndeclared for the names
	// no template owns.
	Channel string
	// In counts messages published (refused ones included); Out, copies of
	// broadcasts queued for subscribers.
	In, Out uint64
}

// Traffic returns the messages in and out of each template of the
// contract and of the undeclared names, since the server started: the
// counters of cometgen_messages_in_total and cometgen_messages_out_total.
// Without Options.Metrics, nothing is counted by template and it returns
// nil.
func (s *Server) Traffic() []ChannelTraffic {
	m := s.metrics
	if m == nil {
		return nil
	}
	read := func(tm *templateMetrics) ChannelTraffic {
		var in, out dto.Metric
		tm.in.Write(&in)
		tm.out.Write(&out)
		return ChannelTraffic{Channel: tm.label, In: uint64(in.GetCounter().GetValue()), Out: uint64(out.GetCounter().GetValue())}
	}
	var list []ChannelTraffic
	seen := map[string]bool{}
	if cc := s.contract.Load(); cc != nil {
		for _, t := range cc.templates {
			if tm := t.metrics; tm != nil && !seen[tm.label] {
				seen[tm.label] = true
				list = append(list, read(tm))
			}
		}
	}
	return append(list, read(m.undeclared))
}

// ClusterNode describes one node of a cluster, as its broker sees it.
type ClusterNode struct {
	ID string
	// Self is this node.
	Self bool
	// Users is how many users have sessions on the node.
	Users int
	// LastSeen is when the node was last heard from (now, for Self).
	LastSeen time.Time
	// Healthy reports whether the node can deliver what its clients
	// expect: for this node, Server.Healthy; for another, whether it was
	// heard from as often as it should be.
	Healthy bool
	// Problem says why a node is not healthy.
	Problem string
}

// A NodeLister is a Broker that knows the nodes of its cluster
// (natsbroker's presence does); Server.ClusterNodes asks it.
type NodeLister interface {
	Nodes() []ClusterNode
}

// ClusterNodes returns the nodes of the server's cluster, this one first,
// when its broker is a NodeLister; else nil.
func (s *Server) ClusterNodes() []ClusterNode {
	nl, ok := s.opts.Broker.(NodeLister)
	if !ok {
		return nil
	}
	nodes := nl.Nodes()
	for i := range nodes {
		if nodes[i].Self {
			nodes[i].Healthy, nodes[i].Problem = true, ""
			if err := s.Healthy(); err != nil {
				nodes[i].Healthy, nodes[i].Problem = false, err.Error()
			}
			nodes[0], nodes[i] = nodes[i], nodes[0]
		}
	}
	return nodes
}
