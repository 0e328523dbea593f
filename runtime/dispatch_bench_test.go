package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cometgen/cometgen/generator/testdata/dispatch/want/dispatch"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// chatHandlers is the cheapest implementation of the generated Handlers of
// generator/testdata/dispatch.
type chatHandlers struct{}

func (chatHandlers) OnChatRoom(context.Context, *runtime.ServerSession, dispatch.ChatRoom, *dispatch.ChatMessage) error {
	return nil
}

// BenchmarkFanOutDispatch is BenchmarkFanOut with a chat message (the
// schema of generator/testdata/dispatch: 4 fields, one a date-time) on
// /chat/lobby, once with a listener on /chat/* that does nothing
// ("untyped") and once with the generated Register and a handler that
// does nothing ("typed": the rules and the guard as authorizers, the
// schema check, the typed decode, the handler call, and the re-encode when
// the handler changed the message). The difference is what typed dispatch
// adds to a publish to that many subscribers; docs/performance.md records it.
func BenchmarkFanOutDispatch(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		for _, variant := range []string{"untyped", "typed"} {
			b.Run(fmt.Sprintf("subscribers=%d/%s", subs, variant), func(b *testing.B) {
				srv := runtime.New(runtime.Options{MaxQueue: 1 << 20})
				defer srv.Shutdown(b.Context())
				switch variant {
				case "untyped":
					c, _, err := srv.CreateChannel("/chat/*")
					if err != nil {
						b.Fatal(err)
					}
					c.AddListener(func(context.Context, *runtime.ServerSession, *bayeux.Message) error { return nil })
				case "typed":
					if err := dispatch.Register(srv, chatHandlers{}); err != nil {
						b.Fatal(err)
					}
				}
				pub, drain := runtime.BenchSubscribers(b, srv, subs, "/chat/lobby")
				body := []byte(`[{"channel":"/chat/lobby","clientId":"` + pub + `","id":"1","data":` +
					`{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}}]`)
				// The message must reach every subscriber, or the
				// benchmark measures a refusal.
				if err := runtime.BenchPublish(srv, body); err != nil {
					b.Fatal(err)
				}
				if n := drain(); n != subs {
					b.Fatalf("the message reached %d of %d subscribers", n, subs)
				}
				publishLoop(b, srv, body, drain)
				b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// publishLoop publishes body (a batch from the publisher) b.N times,
// draining the subscribers' queues as it goes.
func publishLoop(b *testing.B, srv *runtime.Server, body []byte, drain func() int) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := runtime.BenchPublish(srv, body); err != nil {
			b.Fatal(err)
		}
		if i++; i%256 == 0 {
			drain()
		}
	}
}
