package generator_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cometgen/cometgen/generator/testdata/dispatch/want/dispatch"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// handlers is the generated interface's cheapest implementation.
type handlers struct{}

func (handlers) OnChatRoom(context.Context, *runtime.ServerSession, dispatch.ChatRoom, *dispatch.ChatMessage) error {
	return nil
}

var benchData = json.RawMessage(`{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}`)

// BenchmarkDispatch measures one publish from a local session through the
// server's pipeline, with no subscribers, so that the difference between
// the two is the cost of the generated code: the rules and the guard, the
// schema check, the typed decode, the handler call and the re-encode when
// the handler changed the message ("typed"), against a listener that does
// nothing ("untyped"). runtime's BenchmarkFanOutDispatch measures the same
// with 1, 100 and 1,000 subscribers, and docs/performance.md relates the
// two.
func BenchmarkDispatch(b *testing.B) {
	run := func(b *testing.B, install func(*runtime.Server)) {
		srv := runtime.New(runtime.Options{})
		defer srv.Shutdown(context.Background())
		install(srv)
		pub := srv.NewLocalSession("bench")
		if err := pub.Handshake(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer pub.Disconnect()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := pub.Publish(ctx, "/chat/lobby", benchData); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("untyped", func(b *testing.B) {
		run(b, func(srv *runtime.Server) {
			c, _, _ := srv.CreateChannel("/chat/*")
			c.AddListener(func(context.Context, *runtime.ServerSession, *bayeux.Message) error { return nil })
		})
	})
	b.Run("typed", func(b *testing.B) {
		run(b, func(srv *runtime.Server) {
			if err := dispatch.Register(srv, handlers{}); err != nil {
				b.Fatal(err)
			}
		})
	})
}
