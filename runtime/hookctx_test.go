package runtime

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

type ctxKey struct{}

func TestLazyContext(t *testing.T) {
	req := httptest.NewRequest("POST", "/cometd", nil)
	parent := context.WithValue(context.Background(), ctxKey{}, "v")

	t.Run("values and deadline without a timer", func(t *testing.T) {
		c := newLazyContext(parent, req, time.Minute)
		defer c.done()
		if got := RequestFromContext(c); got != req {
			t.Errorf("RequestFromContext = %p, want %p", got, req)
		}
		if got := c.Value(ctxKey{}); got != "v" {
			t.Errorf("Value = %v, want the parent's", got)
		}
		d, ok := c.Deadline()
		if !ok || time.Until(d) < 50*time.Second || time.Until(d) > time.Minute {
			t.Errorf("Deadline = %v, %v; want about a minute from now", d, ok)
		}
		if c.ctx != nil {
			t.Error("Value and Deadline made the real context")
		}
	})

	t.Run("expires at the deadline", func(t *testing.T) {
		c := newLazyContext(parent, req, 20*time.Millisecond)
		defer c.done()
		if c.Err() != nil {
			t.Fatalf("Err = %v before the deadline", c.Err())
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed at the deadline")
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Errorf("Err = %v, want DeadlineExceeded", c.Err())
		}
		if got := RequestFromContext(c.real()); got != req {
			t.Error("the real context lost the request")
		}
	})

	t.Run("done cancels, before or after Done is asked for", func(t *testing.T) {
		for _, early := range []bool{false, true} {
			c := newLazyContext(parent, nil, time.Minute)
			if early {
				c.Done()
			}
			c.done()
			select {
			case <-c.Done():
			default:
				t.Fatalf("early=%v: Done open after done", early)
			}
			if !errors.Is(c.Err(), context.Canceled) {
				t.Errorf("early=%v: Err = %v, want Canceled", early, c.Err())
			}
			if RequestFromContext(c) != nil {
				t.Error("a request where there is none")
			}
		}
	})

	t.Run("the parent's earlier deadline and cancellation", func(t *testing.T) {
		p, cancel := context.WithTimeout(parent, time.Second)
		c := newLazyContext(p, nil, time.Hour)
		defer c.done()
		if d, _ := c.Deadline(); time.Until(d) > time.Second {
			t.Errorf("Deadline = %v, want the parent's", d)
		}
		cancel()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("parent's cancellation not seen")
		}
	})
}
