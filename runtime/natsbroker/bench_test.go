package natsbroker_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/natsbroker"
)

// BenchmarkCrossing measures what crossing NATS costs one message: one op
// is one Server.Publish on the first node, counted once a local session
// subscribed on the receiving node has it queued. "local" has no broker,
// "nats-1-node" publishes into NATS with no other node, "nats-2-nodes"
// delivers on the other node; "history-*" do the same with a history
// (Options.History), where every publish waits for JetStream to store it
// and every node, the publisher's included, delivers from the stream.
func BenchmarkCrossing(b *testing.B) {
	data := json.RawMessage(`{"seq":1,"ts":1732500000000000000,"text":"hello, world"}`)
	for _, bc := range []struct {
		name    string
		broker  bool
		remote  bool
		history bool
	}{
		{"local", false, false, false},
		{"nats-1-node", true, false, false},
		{"nats-2-nodes", true, true, false},
		{"history-1-node", true, false, true},
		{"history-2-nodes", true, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ns := startNATS(b, 0, b.TempDir())
			newNode := func() *runtime.Server {
				o := runtime.Options{Logger: quiet(), MaxQueue: 1 << 22}
				if bc.broker {
					bo := natsbroker.Options{URL: ns.ClientURL(), Logger: quiet()}
					if bc.history {
						bo.History = time.Minute
					}
					br, err := natsbroker.Connect(b.Context(), bo)
					if err != nil {
						b.Fatal(err)
					}
					o.Broker = br
				}
				srv := runtime.New(o)
				b.Cleanup(func() { srv.Shutdown(b.Context()) })
				return srv
			}
			pub := newNode()
			recv := pub
			if bc.remote {
				recv = newNode()
			}
			ls := recv.NewLocalSession("bench")
			if err := ls.Handshake(b.Context()); err != nil {
				b.Fatal(err)
			}
			if err := ls.Subscribe("/bench/room", func(*bayeux.Message) {}); err != nil {
				b.Fatal(err)
			}
			start := recv.Stats().Deliveries
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := pub.Publish("/bench/room", data); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(time.Minute)
			for recv.Stats().Deliveries-start < int64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("delivered %d of %d", recv.Stats().Deliveries-start, b.N)
				}
				time.Sleep(50 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
