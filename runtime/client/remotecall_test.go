package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// TestRemoteCallResultIsAnEvent: a remote call's result reuses the
// request's id and carries data; it must reach the subscription of the
// service channel and never be taken for the publish reply (over
// long-polling it often arrives first, on the held connect).
func TestRemoteCallResultIsAnEvent(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		srv := runtime.New(runtime.Options{})
		defer srv.Shutdown(context.Background())
		runtime.HandleCall(srv, "/service/double", func(_ context.Context, _ *runtime.ServerSession, n int) (int, error) {
			return 2 * n, nil
		})
		hs := httptest.NewServer(srv)
		defer hs.Close()
		c := client.New(hs.URL, transportOptions(tr)...)
		ctx := testCtx(t)
		if err := c.Handshake(ctx); err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(context.Background())
		results := make(chan json.RawMessage, 100)
		if _, err := c.Subscribe(ctx, "/service/double", func(m *bayeux.Message) { results <- m.Data }); err != nil {
			t.Fatal(err)
		}
		const calls = 50
		for i := range calls {
			if err := c.Publish(ctx, "/service/double", i); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		sum := 0
		for range calls {
			select {
			case d := <-results:
				var n int
				json.Unmarshal(d, &n)
				sum += n
			case <-time.After(5 * time.Second):
				t.Fatalf("results missing (sum so far %d)", sum)
			}
		}
		if want := calls * (calls - 1); sum != want {
			t.Errorf("sum of results = %d, want %d", sum, want)
		}
	})
}

func TestRemoteCall(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		srv := runtime.New(runtime.Options{})
		defer srv.Shutdown(context.Background())
		runtime.HandleCall(srv, "/service/half", func(_ context.Context, _ *runtime.ServerSession, n int) (int, error) {
			if n%2 != 0 {
				return 0, &runtime.CallError{Data: "odd"}
			}
			return n / 2, nil
		})
		hs := httptest.NewServer(srv)
		defer hs.Close()
		c := client.New(hs.URL, transportOptions(tr)...)
		ctx := testCtx(t)
		if err := c.Handshake(ctx); err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(context.Background())
		for i := 0; i < 40; i += 2 {
			m, err := c.RemoteCall(ctx, "/service/half", i)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			var n int
			json.Unmarshal(m.Data, &n)
			if n != i/2 {
				t.Fatalf("half of %d = %d", i, n)
			}
		}
		m, err := c.RemoteCall(ctx, "/service/half", 3)
		if !errors.Is(err, client.ErrCallFailed) || m == nil || string(m.Data) != `"odd"` {
			t.Errorf("failing call: %v, %v", m, err)
		}
		if _, err := c.RemoteCall(ctx, "/chat", 1); err == nil {
			t.Error("a remote call on a broadcast channel was sent")
		}
	})
}
