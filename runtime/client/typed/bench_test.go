package typed_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/contracttest/gen/genclient"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchDeliveries measures deliveries of a bid from the server to one
// client over websocket: subscribe subscribes the client with a handler
// that calls done once per delivery. It reports the process's CPU time
// per delivery (server and client, in this one process) as cpu-ns/op.
func benchDeliveries(b *testing.B, subscribe func(ctx context.Context, c *genclient.Client, done func()) error) {
	srv := runtime.New(runtime.Options{})
	if err := genclient.Register(srv, handlers{}); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer func() {
		hs.Close()
		srv.Shutdown(context.Background())
	}()
	ctx := context.Background()
	c := genclient.NewClient(client.New(hs.URL + "/cometd"))
	if err := c.Handshake(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(ctx)
	var got atomic.Int64
	signal := make(chan struct{}, 1)
	var want atomic.Int64
	if err := subscribe(ctx, c, func() {
		if got.Add(1) == want.Load() {
			signal <- struct{}{}
		}
	}); err != nil {
		b.Fatal(err)
	}
	bid := json.RawMessage(`{"amount":125000,"currency":"EUR","at":"2026-05-01T12:00:00.5Z"}`)
	const window = 256 // publishes ahead of deliveries, below the session's queue limit
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	want.Store(int64(b.N))
	for i := range b.N {
		for int64(i)-got.Load() >= window {
			time.Sleep(50 * time.Microsecond)
		}
		if _, err := srv.Publish("/lot/lot-7/bids", bid); err != nil {
			b.Fatal(err)
		}
	}
	<-signal
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDelivery compares a delivery to a typed subscription (decoded
// into a Bid, with the channel's parameters) with one to the runtime
// client's untyped subscription, whose handler gets the raw message, and
// ones that decode the data as an untyped application would: into
// map[string]any, or into the generated struct by hand.
func BenchmarkDelivery(b *testing.B) {
	b.Run("untyped", func(b *testing.B) {
		benchDeliveries(b, func(ctx context.Context, c *genclient.Client, done func()) error {
			_, err := c.Client.Client.Subscribe(ctx, "/lot/lot-7/bids", func(m *bayeux.Message) { done() })
			return err
		})
	})
	b.Run("untyped-map", func(b *testing.B) {
		benchDeliveries(b, func(ctx context.Context, c *genclient.Client, done func()) error {
			_, err := c.Client.Client.Subscribe(ctx, "/lot/lot-7/bids", func(m *bayeux.Message) {
				var v map[string]any
				if json.Unmarshal(m.Data, &v) == nil {
					done()
				}
			})
			return err
		})
	})
	b.Run("untyped-struct", func(b *testing.B) {
		benchDeliveries(b, func(ctx context.Context, c *genclient.Client, done func()) error {
			_, err := c.Client.Client.Subscribe(ctx, "/lot/lot-7/bids", func(m *bayeux.Message) {
				var bid genclient.Bid
				if json.Unmarshal(m.Data, &bid) == nil {
					done()
				}
			})
			return err
		})
	})
	b.Run("typed", func(b *testing.B) {
		benchDeliveries(b, func(ctx context.Context, c *genclient.Client, done func()) error {
			_, err := c.LotIDBids("lot-7").Subscribe(ctx, func(genclient.LotIDBids, *genclient.Bid) { done() })
			return err
		})
	})
}
