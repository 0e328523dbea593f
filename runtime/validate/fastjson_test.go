package validate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// compareFastJSON checks the JSON text data against s: the fast path on
// the text may say valid only when the text is JSON and the library finds
// no violation in it.
func compareFastJSON(t testing.TB, s *Schema, data []byte, tally *fastTally) {
	t.Helper()
	if !fastOf(s).acceptsJSON(data) {
		return
	}
	if !json.Valid(data) {
		t.Fatalf("schema %s: the fast path accepts %q, which is not JSON", s.doc, data)
	}
	if lib := libraryOnly(s).ValidateJSON(data); len(lib) != 0 {
		t.Fatalf("schema %s, text %s: fast valid, library %v", s.doc, data, lib)
	}
	if tally != nil {
		tally.jsonValid++
	}
}

// chatSchema is the chat message of BenchmarkValidateFastPath.
const chatSchema = `{"type": "object", "required": ["user", "text", "room"], "additionalProperties": false,
	"properties": {"user": {"type": "string", "minLength": 1, "maxLength": 32},
	"text": {"type": "string", "minLength": 1, "maxLength": 500},
	"room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
	"sent": {"type": "string", "format": "date-time"}}}`

// TestFastPathJSON checks the verdicts of the fast path on JSON text,
// which must be those of decoding it and validating the value, and that
// it is not left to the library for ordinary messages.
func TestFastPathJSON(t *testing.T) {
	for _, tc := range []struct {
		schema, data string
		fast         bool // the fast path on the text says valid
	}{
		{chatSchema, `{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}`, true},
		{chatSchema, " {\n\t\"user\" : \"alice\" , \"text\":\"héllo 日本\",\"room\":\"a-1\"} \r\n", true},
		{chatSchema, `{"user":"alice","text":"hello","room":"Lobby"}`, false},                // pattern
		{chatSchema, `{"user":"alice","text":"","room":"lobby"}`, false},                     // minLength
		{chatSchema, `{"user":"alice","room":"lobby"}`, false},                               // required
		{chatSchema, `{"user":"alice","text":"x","room":"lobby","x":1}`, false},              // additionalProperties
		{chatSchema, `{"user":"alice","text":"x","room":"lobby","sent":"yesterday"}`, false}, // format
		{chatSchema, `{"user":"alice","text":"x","room":"lobby","sent":null}`, false},        // type
		{chatSchema, `{"user":"alice","text":"a\nb","room":"lobby"}`, false},                 // an escape: ask
		{chatSchema, `{"user":"alice","user":"bob","text":"x","room":"lobby"}`, false},       // twice: ask
		{chatSchema, "{\"user\":\"al\xffice\",\"text\":\"x\",\"room\":\"lobby\"}", false},    // invalid UTF-8: ask
		{chatSchema, `{"user":"alice","text":"x","room":"lobby"}x`, false},                   // trailing text
		{chatSchema, `{"user":"alice","text":"x","room":"lobby",}`, false},                   // trailing comma
		{chatSchema, `{"user":"alice","text":"x","room":"lobby"`, false},                     // truncated
		{chatSchema, "{\"user\":\"alice\",\"text\":\"a\tb\",\"room\":\"lobby\"}", false},     // a control character
		{`{}`, `[1, -0.5e+3, 0, true, false, null, {"a": [{}], "": "x"}, "s"]`, true},
		{`{}`, `01`, false},
		{`{}`, `1.`, false},
		{`{}`, `.5`, false},
		{`{}`, `-`, false},
		{`{}`, `1e`, false},
		{`{}`, `+1`, false},
		{`{}`, `1e400`, false},
		{`{}`, `tru`, false},
		{`{}`, `nul`, false},
		{`{}`, `truex`, false},
		{`{}`, `[1,]`, false},
		{`{}`, `[1 2]`, false},
		{`{}`, `{"a" 1}`, false},
		{`{}`, `{a: 1}`, false},
		{`{}`, `'a'`, false},
		{`{}`, ``, false},
		{`{}`, ` `, false},
		{`{"type": "integer", "minimum": 1, "maximum": 10}`, `10`, true},
		{`{"type": "integer", "minimum": 1, "maximum": 10}`, `10.0`, true},
		{`{"type": "integer", "minimum": 1, "maximum": 10}`, `10.5`, false},
		{`{"type": "integer", "minimum": 1, "maximum": 10}`, `11`, false},
		{`{"enum": ["a", 1, true, null]}`, `1`, true},
		{`{"enum": ["a", 1, true, null]}`, `null`, true},
		{`{"enum": ["a", 1, true, null]}`, `false`, false},
		{`{"enum": ["a", 1, true, null]}`, `"a"`, true},
		{`{"enum": ["a", 1, true, null]}`, `"b"`, false},
		{`{"const": "a"}`, `"a"`, true},
		{`{"const": "a"}`, `{}`, false},
		{`{"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}`, `["a", "b"]`, true},
		{`{"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}`, `[]`, false},
		{`{"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}`, `["a", 1]`, false},
		{`{"type": "array", "uniqueItems": true}`, `[1, 2]`, false}, // ask
		{`{"maxProperties": 1}`, `{"a": 1, "a": 2}`, false},         // ask: counted once
		{`{"maxProperties": 1, "properties": {"a": {}}}`, `{"a": 1}`, true},
		{`{"additionalProperties": {"type": "string"}}`, `{"a": "x", "b": "y"}`, true},
		{`{"additionalProperties": {"type": "string"}}`, `{"a": "x", "b": 1}`, false},
		{`{"required": ["b"], "properties": {"a": {}}}`, `{"b": 1}`, false}, // ask: not declared
		{`{"properties": {"a": true, "b": false}}`, `{"a": {"x": [1]}}`, true},
		{`{"properties": {"a": true, "b": false}}`, `{"b": 1}`, false},
		{`{"type": "string", "format": "email"}`, `"a@b.c"`, true},
		{`{"type": "string", "format": "email"}`, `"a"`, false},
	} {
		s := fastSchema(t, tc.schema)
		if s == nil || fastOf(s) == nil {
			t.Fatalf("schema %s is not on the fast path", tc.schema)
		}
		if got := fastOf(s).acceptsJSON([]byte(tc.data)); got != tc.fast {
			t.Errorf("schema %s, text %q: fast path on the text %v, want %v", tc.schema, tc.data, got, tc.fast)
		}
		compareFastJSON(t, s, []byte(tc.data), nil)
		// ValidateJSON answers what it answered before the fast path on
		// the text: decode, then validate.
		var want []Violation
		if v, err := decodeData([]byte(tc.data)); err != nil {
			want = []Violation{{Message: "not JSON: " + err.Error()}}
		} else {
			want = libraryOnly(s).Validate(v)
		}
		got := s.ValidateJSON([]byte(tc.data))
		if !strings.Contains(tc.schema, "additionalProperties") && show(got) != show(want) || (len(got) == 0) != (len(want) == 0) {
			t.Errorf("schema %s, text %q: ValidateJSON %v, want %v", tc.schema, tc.data, got, want)
		}
	}
}

// TestFastPathJSONDepth: text nested deeper than MaxDepth is left to the
// decoder and checkData.
func TestFastPathJSONDepth(t *testing.T) {
	s := fastSchema(t, `{}`)
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if fastOf(s).acceptsJSON([]byte(deep)) {
		t.Error("the fast path accepts data nested deeper than MaxDepth")
	}
	if vs := s.ValidateJSON([]byte(deep)); len(vs) != 1 || !strings.HasPrefix(vs[0].Message, "nested deeper") {
		t.Errorf("ValidateJSON of deep data: %v", vs)
	}
}

// TestFastPathJSONAllocs: the fast path on the text of a chat message
// allocates nothing.
func TestFastPathJSONAllocs(t *testing.T) {
	s := MustCompile(chatSchema)
	msg := []byte(`{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}`)
	if n := testing.AllocsPerRun(100, func() {
		if vs := s.ValidateJSON(msg); len(vs) != 0 {
			t.Fatal(vs)
		}
	}); n != 0 {
		t.Errorf("ValidateJSON of a chat message: %v allocations, want none", n)
	}
}

// dateTimeInputs are date-times and near misses.
var dateTimeInputs = []string{
	"2026-11-25T13:00:00Z", "2026-11-25t13:00:00z", "2026-11-25T13:00:00.123456789Z", "2026-11-25T13:00:00+01:00",
	"2026-11-25T13:00:00-23:59", "2026-11-25T23:59:60Z", "2026-11-25T13:00:60Z", "2024-02-29T00:00:00Z",
	"2026-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "0000-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
	"2026-12-31T23:59:59Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-11-25T24:00:00Z",
	"2026-11-25T13:60:00Z", "2026-11-25T13:00:00.Z", "2026-11-25T13:00:00.5", "2026-11-25T13:00:00+24:00",
	"2026-11-25T13:00:00+01:60", "2026-11-25T13:00:00+0100", "2026-11-25 13:00:00Z", "2026-11-25T13:00:00", "2026-11-25T+1:00:00Z",
	"+026-11-25T13:00:00Z", "2026-+1-25T13:00:00Z", "2026-11-25T13:00:00ZZ", "2026-11-25T13:00:00+01:00Z", "２０２６-11-25T13:00:00Z",
}

// TestFastDateTime: the fast date-time check says valid only of what the
// library's format accepts, and does so for the usual forms.
func TestFastDateTime(t *testing.T) {
	lib := jsonschema.Formats["date-time"]
	for _, s := range dateTimeInputs {
		if fastDateTime([]byte(s)) && !lib(s) {
			t.Errorf("%q: fast valid, the library says invalid", s)
		}
	}
	for _, s := range []string{"2026-11-25T13:00:00Z", "2026-11-25T13:00:00.123456789Z", "2026-11-25T13:00:00+01:00", "2024-02-29T00:00:00z"} {
		if !fastDateTime([]byte(s)) {
			t.Errorf("%q: left to the library", s)
		}
	}
}

// FuzzFastDateTime: the fast date-time check says valid only of what the
// library's format accepts.
func FuzzFastDateTime(f *testing.F) {
	for _, s := range dateTimeInputs {
		f.Add(s)
	}
	lib := jsonschema.Formats["date-time"]
	f.Fuzz(func(t *testing.T, s string) {
		if fastDateTime([]byte(s)) && !lib(s) {
			t.Fatalf("%q: fast valid, the library says invalid", s)
		}
	})
}
