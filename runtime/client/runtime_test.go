package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/client"
)

// restartable serves a runtime.Server that the test can replace with a
// fresh one, as a restarted process would be.
type restartable struct {
	cur atomic.Pointer[runtime.Server]
}

func (h *restartable) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.cur.Load().ServeHTTP(w, r) }

func (h *restartable) restart(t *testing.T) {
	t.Helper()
	old := h.cur.Swap(newRuntimeServer())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = old.Shutdown(ctx)
}

func newRuntimeServer() *runtime.Server {
	return runtime.New(runtime.Options{Timeout: time.Second})
}

// TestAgainstRuntimeServer runs the client against cometgen's own server:
// a round trip with wildcards, then a server restart, after which the
// client must handshake again and get its subscriptions back by itself.
func TestAgainstRuntimeServer(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		h := &restartable{}
		h.cur.Store(newRuntimeServer())
		srv := httptest.NewServer(h)
		defer srv.Close()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			_ = h.cur.Load().Shutdown(ctx)
		}()

		states := make(chan client.State, 20)
		c := client.New(srv.URL+"/cometd", append(transportOptions(tr),
			client.WithBackoff(50*time.Millisecond, 200*time.Millisecond),
			client.WithStateHandler(func(s client.State, _ error) { states <- s }))...)
		ctx := testCtx(t)
		if err := c.Handshake(ctx); err != nil {
			t.Fatalf("Handshake: %v", err)
		}
		defer c.Disconnect(context.Background())
		h1, events := collector()
		if _, err := c.Subscribe(ctx, "/rt/**", h1); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		if err := c.Publish(ctx, "/rt/a/b", "deep"); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		receive(t, events, `/rt/a/b "deep"`)

		for len(states) > 0 {
			<-states
		}
		h.restart(t)
		deadline := time.After(3 * waitFor)
		for connected := false; !connected; {
			select {
			case s := <-states:
				connected = s == client.StateConnected
			case <-deadline:
				t.Fatalf("no re-handshake after the restart (state %v)", c.State())
			}
		}
		if err := c.Publish(ctx, "/rt/c", "after restart"); err != nil {
			t.Fatalf("Publish after restart: %v", err)
		}
		receive(t, events, `/rt/c "after restart"`)
	})
}

// TestAck: with WithAck the server grants the ack extension, every
// /meta/connect acknowledges the batch before it, and each message arrives
// once; a server that refuses the extension is used without it.
func TestAck(t *testing.T) {
	tests := []struct {
		name       string
		disableAck bool
		opt        client.Option
		want       bool
	}{
		{"granted", false, client.WithAck(), true},
		{"refused by the server", true, client.WithAck(), false},
		// Asked for in the handshake's ext rather than with WithAck: the
		// client must still acknowledge, or the server sends every batch
		// again.
		{"asked through WithHandshakeExt", false, client.WithHandshakeExt(map[string]any{"ack": true}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr string) {
				rs := runtime.New(runtime.Options{Timeout: time.Second, DisableAck: tt.disableAck})
				srv := httptest.NewServer(rs)
				defer srv.Close()
				defer rs.Shutdown(context.Background())
				c := client.New(srv.URL+"/cometd", append(transportOptions(tr), tt.opt)...)
				ctx := testCtx(t)
				if err := c.Handshake(ctx); err != nil {
					t.Fatalf("Handshake: %v", err)
				}
				defer c.Disconnect(context.Background())
				if got := c.AckGranted(); got != tt.want {
					t.Fatalf("AckGranted = %v, want %v", got, tt.want)
				}
				h, events := collector()
				if _, err := c.Subscribe(ctx, "/ack", h); err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				const n = 50
				for i := range n {
					if err := c.Publish(ctx, "/ack", i); err != nil {
						t.Fatalf("Publish: %v", err)
					}
				}
				for i := range n {
					receive(t, events, fmt.Sprintf("/ack %d", i))
				}
				// An unacknowledged batch would come again: nothing more may
				// arrive once the connects have moved on.
				if err := c.Publish(ctx, "/ack", "last"); err != nil {
					t.Fatalf("Publish: %v", err)
				}
				receive(t, events, `/ack "last"`)
				select {
				case e := <-events:
					t.Errorf("unexpected event %s (a batch sent again?)", e)
				case <-time.After(100 * time.Millisecond):
				}
			})
		})
	}
}
