package runtime

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// lazyContext is the context hooks receive: the parent's values (and the
// request, for RequestFromContext) and the parent's cancellation, bounded by
// a deadline. The timer and the cancelable context that enforce the
// deadline are made only when a hook asks for Done or Err; hooks that only
// read values or never look at the context (the usual extensions, run on
// every /meta/connect) cost one small allocation instead of a
// context.WithTimeout and its timer.
//
// It behaves as context.WithDeadline(parent with the request as a value,
// deadline), canceled when the batch is done.
type lazyContext struct {
	parent   context.Context // never nil
	req      *http.Request   // returned for requestKey{}; may be nil
	deadline time.Time

	mu       sync.Mutex
	ctx      context.Context // the real context, made on demand
	cancel   context.CancelFunc
	canceled bool // done was called before ctx was made
}

var _ context.Context = (*lazyContext)(nil)

func newLazyContext(parent context.Context, req *http.Request, timeout time.Duration) *lazyContext {
	return &lazyContext{parent: parent, req: req, deadline: time.Now().Add(timeout)}
}

// Deadline returns the earlier of the timeout's deadline and the parent's.
func (c *lazyContext) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done returns the channel closed at the deadline, when the parent is
// canceled, or when the batch is done.
func (c *lazyContext) Done() <-chan struct{} { return c.real().Done() }

// Err reports why Done is closed, as the context package does.
func (c *lazyContext) Err() error { return c.real().Err() }

// Value returns the request for requestKey{} and the parent's values
// otherwise.
func (c *lazyContext) Value(key any) any {
	if _, ok := key.(requestKey); ok && c.req != nil {
		return c.req
	}
	return c.parent.Value(key)
}

// real returns the cancelable context, making it on first use.
func (c *lazyContext) real() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		parent := c.parent
		if c.req != nil {
			parent = context.WithValue(parent, requestKey{}, c.req)
		}
		c.ctx, c.cancel = context.WithDeadline(parent, c.deadline)
		if c.canceled {
			c.cancel()
		}
	}
	return c.ctx
}

// done cancels the context: the batch's hooks have all returned.
func (c *lazyContext) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = true
	if c.cancel != nil {
		c.cancel()
	}
}
