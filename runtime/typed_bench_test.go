package runtime_test

import (
	"encoding/json"
	"testing"

	"github.com/cometgen/cometgen/generator/testdata/dispatch/want/dispatch"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/validate"
)

// BenchmarkTypedDataDispatch measures TypedData.Dispatch alone on the chat
// message of BenchmarkFanOutDispatch (the schema check, the direct decode,
// the handler call and the comparison with the pristine copy).
func BenchmarkTypedDataDispatch(b *testing.B) {
	sch := validate.MustCompile(`{"type":"object","required":["user","text","room"],"additionalProperties":false,"properties":{"user":{"type":"string","minLength":1,"maxLength":32},"text":{"type":"string","minLength":1,"maxLength":500},"room":{"type":"string","pattern":"^[a-z0-9-]{1,32}$"},"sent":{"type":"string","format":"date-time"}}}`)
	td := runtime.NewTypedData[dispatch.ChatMessage](sch, "ChatMessage")
	m := &bayeux.Message{Channel: "/chat/lobby", Data: json.RawMessage(`{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}`)}
	handle := func(*dispatch.ChatMessage) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := td.Dispatch(m, handle); err != nil {
			b.Fatal(err)
		}
	}
}
