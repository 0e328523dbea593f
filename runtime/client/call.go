package client

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// call is one message waiting for its reply, correlated by id.
type call struct {
	id   bayeux.ID
	gen  uint64                       // websocket connection the message went out on
	done chan struct{}                // closed when resolved (synchronous calls)
	cb   func(*bayeux.Message, error) // run when resolved (asynchronous calls)

	resolved atomic.Bool
	timer    *time.Timer
	reply    *bayeux.Message
	err      error
}

// newCall gives m the next id and returns a call waiting for its reply. With
// a nil cb the call is synchronous: wait on done.
func (c *Client) newCall(m *bayeux.Message, cb func(*bayeux.Message, error)) *call {
	cl := c.newCallID(cb)
	m.ID = cl.id
	return cl
}

// newCallID returns a call with the next id, for a message encoded by hand.
func (c *Client) newCallID(cb func(*bayeux.Message, error)) *call {
	cl := &call{id: bayeux.ID(strconv.FormatUint(c.nextID.Add(1), 10)), cb: cb}
	if cb == nil {
		cl.done = make(chan struct{})
	}
	return cl
}

// resolve completes the call once; later resolutions are ignored.
func (cl *call) resolve(reply *bayeux.Message, err error) {
	if !cl.resolved.CompareAndSwap(false, true) {
		return
	}
	if cl.timer != nil {
		cl.timer.Stop()
	}
	cl.reply, cl.err = reply, err
	if cl.done != nil {
		close(cl.done)
	}
	if cl.cb != nil {
		cl.cb(reply, err)
	}
}

// register records calls as pending on connection generation gen. With a
// positive timeout each call fails with ErrNoReply when no reply came in
// time (the websocket transport; long-polling bounds the HTTP request instead).
func (c *Client) register(calls []*call, gen uint64, timeout time.Duration) {
	if timeout > 0 {
		// The timers are set before the calls are published in the map,
		// whose lock orders them before any resolve.
		for _, cl := range calls {
			cl.timer = time.AfterFunc(timeout, func() { c.fail(cl, ErrNoReply) })
		}
	}
	c.pmu.Lock()
	for _, cl := range calls {
		cl.gen = gen
		c.pending[cl.id] = cl
	}
	c.pmu.Unlock()
}

// take removes and returns the pending call with the id, or nil.
func (c *Client) take(id bayeux.ID) *call {
	c.pmu.Lock()
	cl := c.pending[id]
	if cl != nil {
		delete(c.pending, id)
	}
	c.pmu.Unlock()
	return cl
}

// fail resolves cl with err unless it is resolved already, and removes it
// from the pending calls if it was registered.
func (c *Client) fail(cl *call, err error) {
	c.take(cl.id)
	cl.resolve(nil, err)
}

// failAll fails every pending call of connection generation gen (or of all
// generations when all is true) with err.
func (c *Client) failAll(gen uint64, all bool, err error) {
	var failed []*call
	c.pmu.Lock()
	for id, cl := range c.pending {
		if all || cl.gen == gen {
			delete(c.pending, id)
			failed = append(failed, cl)
		}
	}
	c.pmu.Unlock()
	for _, cl := range failed {
		cl.resolve(nil, err)
	}
}

// wait blocks until every call is resolved or ctx ends, and returns the
// replies in order. On the first failed call it returns that call's error.
func (c *Client) wait(ctx context.Context, calls []*call) ([]*bayeux.Message, error) {
	replies := make([]*bayeux.Message, len(calls))
	for i, cl := range calls {
		select {
		case <-cl.done:
		case <-ctx.Done():
			for _, cl := range calls {
				c.fail(cl, ctx.Err())
			}
			return nil, ctx.Err()
		}
		if cl.err != nil {
			return nil, cl.err
		}
		replies[i] = cl.reply
	}
	return replies, nil
}

// replyError returns the *bayeux.Error of an unsuccessful reply, or nil.
func replyError(reply *bayeux.Message) error {
	if reply.IsSuccessful() {
		return nil
	}
	if reply.Error == "" {
		return &bayeux.Error{Message: "unsuccessful"}
	}
	return bayeux.ParseError(reply.Error)
}

// isReplyShaped reports whether m can be the reply to a request: meta
// replies, messages with a successful field, and messages without data. An
// event that happens to carry the id of one of our requests (some servers
// keep the publisher's id on deliveries) is therefore not taken for a reply.
func isReplyShaped(m *bayeux.Message) bool {
	// A publish reply never carries data: a message on a non-meta channel
	// with data is an event, even with successful and an id (a remote
	// call's result reuses the request's id).
	return bayeux.KindOf(m.Channel) == bayeux.Meta || len(m.Data) == 0
}

// Errors returned by the Client. Replies with successful:false are returned
// as *bayeux.Error.
var (
	// ErrNotConnected is returned when the Client has no session: it never
	// handshook, it was disconnected, or the server advised reconnect "none".
	ErrNotConnected = errors.New("client: not connected")
	// ErrNoReply is returned when the server did not answer a message in time
	// or its response held no reply to it.
	ErrNoReply = errors.New("client: no reply from server")
	// ErrAlreadyConnected is returned by Handshake on a Client that has a
	// session or is establishing one.
	ErrAlreadyConnected = errors.New("client: already handshaken")
)
