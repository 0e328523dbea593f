package filter

import (
	"context"
	"testing"
)

// BenchmarkChain runs a schema-sized chain (trim, no-markup and max-length
// on the three fields of a chat message) as the runtime would for each
// publish; decoding the message is not counted.
func BenchmarkChain(b *testing.B) {
	fields := []string{"user", "text", "room"}
	chat := Chain(
		Must(Trim(fields...)),
		Must(NoMarkup(fields...)),
		Must(MaxLength(500, fields...)),
	)
	ctx := context.Background()
	b.Run("dirty", func(b *testing.B) {
		// text needs trimming and escaping; it is put back each time.
		b.ReportAllocs()
		data := map[string]any{"user": "alice", "room": "lobby"}
		for b.Loop() {
			data["text"] = "hello <b>world</b>  "
			if _, err := chat.FilterData(ctx, nil, "/chat/lobby", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clean", func(b *testing.B) {
		// Nothing to change: the cost of the walk and the checks alone.
		b.ReportAllocs()
		data := map[string]any{"user": "alice", "text": "hello world", "room": "lobby"}
		for b.Loop() {
			if _, err := chat.FilterData(ctx, nil, "/chat/lobby", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole-tree", func(b *testing.B) {
		// The same chain on every string (no paths), clean data.
		all := Chain(Must(Trim()), Must(NoMarkup()), Must(MaxLength(500)))
		b.ReportAllocs()
		data := map[string]any{"user": "alice", "text": "hello world", "room": "lobby"}
		for b.Loop() {
			if _, err := all.FilterData(ctx, nil, "/chat/lobby", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
