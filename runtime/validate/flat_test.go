package validate

import "testing"

// TestFlat checks which schemas the decoder may check field by field, and
// the verdicts on single values.
func TestFlat(t *testing.T) {
	chat := MustCompile(`{"type":"object","required":["user","text"],"additionalProperties":false,"properties":{"user":{"type":"string","minLength":1,"maxLength":3},"text":{"type":"string","pattern":"^[a-z]+$"},"n":{"type":"integer","maximum":5},"ok":{"const":true},"at":{"type":"string","format":"date-time"}}}`)
	f := chat.Flat([]string{"user", "text", "n", "ok", "at"})
	if f == nil {
		t.Fatal("the chat schema has no flat check")
	}
	if f.Required() != 0b11 {
		t.Errorf("required = %b, want 11", f.Required())
	}
	for _, c := range []struct {
		name string
		got  bool
		want bool
	}{
		{"user ok", f.String(0, "ann"), true},
		{"user empty", f.String(0, ""), false},
		{"user long", f.String(0, "anna"), false},
		{"user multi-byte", f.String(0, "日本語"), true},
		{"text pattern", f.String(1, "abc"), true},
		{"text pattern fails", f.String(1, "ab1"), false},
		{"n integer", f.Number(2, 5), true},
		{"n over", f.Number(2, 6), false},
		{"n fraction", f.Number(2, 1.5), false},
		{"ok const", f.Bool(3, true), true},
		{"ok not const", f.Bool(3, false), false},
		{"at date-time", f.String(4, "2026-11-25T13:00:00Z"), true},
		{"at not a date-time", f.String(4, "yesterday"), false},
		{"at read as a date-time", f.DateTime(4, "2026-11-25T13:00:00Z"), true},
		{"user read as a date-time still has its length", f.DateTime(0, "2026-11-25T13:00:00Z"), false},
		{"string for a number", f.String(2, "5"), false},
		{"number for a string", f.Number(0, 5), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if chat.Flat([]string{"user", "text", "other"}) != nil {
		t.Error("a field the schema refuses (additionalProperties: false) has a flat check")
	}
	for _, s := range []string{
		`{"type":"object","minProperties":1,"properties":{"a":{"type":"string"}}}`,
		`{"type":"object","required":["b"],"properties":{"a":{"type":"string"}}}`,
		`{"type":"object","additionalProperties":{"type":"string"},"properties":{"a":{"type":"string"}}}`,
		`{"type":"array"}`,
	} {
		if MustCompile(s).Flat([]string{"a"}) != nil {
			t.Errorf("%s has a flat check", s)
		}
	}
}
