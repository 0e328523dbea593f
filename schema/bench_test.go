package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

const benchSpec = `cometgen: 1
name: bench
schemas:
  ChatMessage:
    type: object
    required: [user, text, room]
    additionalProperties: false
    properties:
      user: {type: string, minLength: 1, maxLength: 32}
      text: {type: string, minLength: 1, maxLength: 500}
      room: {type: string, pattern: "^[a-z0-9-]{1,32}$"}
      sent: {type: string, format: date-time}
channels:
  /chat/{room}:
    params: {room: {pattern: "^[a-z0-9-]{1,32}$"}}
    message: ChatMessage
`

// BenchmarkValidate checks a typical chat message (4 fields) against its
// compiled schema, as the gateway does on every publish: decode, validate.
func BenchmarkValidate(b *testing.B) {
	spec, err := schema.Parse("bench.yaml", []byte(benchSpec), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s := spec.Channels[0].Message
	msg := json.RawMessage(`{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		if v := s.Validate(msg); len(v) != 0 {
			b.Fatal(v)
		}
	}
}
