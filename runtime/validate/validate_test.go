package validate

import (
	"encoding/json"
	"testing"
)

// TestViolationMessages: bounds read as a person writes them, and a
// message is the same for the same data every time.
func TestViolationMessages(t *testing.T) {
	tests := []struct {
		schema, data, want string
	}{
		{`{"type":"integer","maximum":100000000}`, `100000001`, "400:(root) maximum got 100000001; want at most 100000000:invalid_message"},
		{`{"type":"number","minimum":0.5}`, `0.25`, "400:(root) minimum got 0.25; want at least 0.5:invalid_message"},
		{`{"type":"integer","exclusiveMinimum":1000000}`, `-3`, "400:(root) exclusiveMinimum got -3; want more than 1000000:invalid_message"},
		{`{"type":"object","properties":{"a":{}},"additionalProperties":false}`, `{"z":1,"y":2,"x":3,"w":4}`,
			"400:(root) additionalProperties 'w'; 'x'; 'y'; 'z' not allowed:invalid_message"},
	}
	for _, tt := range tests {
		s := MustCompile(tt.schema)
		for range 20 { // the validator lists extra properties in a map's order
			vs := s.ValidateJSON(json.RawMessage(tt.data))
			if got := Error(vs).Error(); got != tt.want {
				t.Fatalf("%s against %s: %s, want %s", tt.data, tt.schema, got, tt.want)
			}
		}
	}
}
