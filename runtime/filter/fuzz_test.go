package filter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime"
)

// FuzzFilters feeds arbitrary JSON through every built-in filter, on the
// whole tree and on paths: nothing may panic, the result must still encode
// as JSON, and on the whole tree each filter's promise must hold for every
// string.
func FuzzFilters(f *testing.F) {
	for _, s := range []string{
		`{"user":"alice","text":"hello <b>world</b>  ","room":"lobby"}`,
		`{"items":[{"text":" <script>x</script> "},{"text":1},null,[]],"m":[["a"],"b",[["c"]]]}`,
		`[" a ",{"text":"&<>"},["aab","zz"]]`,
		`"  <SCRIPT  "`, `null`, `true`, `1e308`, `[]`, `{}`, `[[[[[[[[["deep"]]]]]]]]]`,
		`{"text":"\u00a0e\u0301😀\u200fשלום\ufffd\u0000"}`, `{"":"","[]":{"":[""]}}`,
	} {
		f.Add([]byte(s))
	}
	whole := map[string]runtime.DataFilter{
		"trim":          Must(Trim()),
		"no-markup":     Must(NoMarkup()),
		"no-scripts":    Must(NoScripts()),
		"regex-replace": Must(RegexReplace(`(a+)(b*)`, "$2$1")),
		"regex-abort":   Must(RegexAbort(`zz`, "")),
		"max-length":    Must(MaxLength(8)),
	}
	onPaths := allFilters()
	f.Fuzz(func(t *testing.T, body []byte) {
		var probe any
		if json.Unmarshal(body, &probe) != nil {
			return
		}
		fresh := func() any {
			var v any
			_ = json.Unmarshal(body, &v)
			return v
		}
		for _, f := range onPaths {
			out, err := f.FilterData(context.Background(), nil, "/fuzz", fresh())
			if err == nil {
				if _, err := json.Marshal(out); err != nil {
					t.Fatalf("result does not encode: %v", err)
				}
			}
		}
		for name, f := range whole {
			in := fresh()
			var strs []string
			collectStrings(in, &strs)
			out, err := f.FilterData(context.Background(), nil, "/fuzz", in)
			if err != nil {
				r := reason(t, err)
				switch name {
				case "regex-abort":
					if !anyString(strs, func(s string) bool { return strings.Contains(s, "zz") }) {
						t.Fatalf("%s rejected %q: %s", name, strs, r)
					}
				case "max-length":
					if !anyString(strs, func(s string) bool { return utf8.RuneCountInString(s) > 8 }) {
						t.Fatalf("%s rejected %q: %s", name, strs, r)
					}
				default:
					t.Fatalf("%s rejected: %v", name, err)
				}
				continue
			}
			var got []string
			collectStrings(out, &got)
			if len(got) != len(strs) {
				t.Fatalf("%s: %d strings became %d", name, len(strs), len(got))
			}
			for _, s := range got {
				switch name {
				case "trim":
					if s != strings.TrimFunc(s, unicode.IsSpace) {
						t.Fatalf("%s left %q", name, s)
					}
				case "no-markup":
					if strings.ContainsAny(s, "<>") {
						t.Fatalf("%s left %q", name, s)
					}
				case "no-scripts":
					if l := asciiLower(s); strings.Contains(l, "<script") || strings.Contains(l, "</script") {
						t.Fatalf("%s left %q", name, s)
					}
				case "regex-abort":
					if strings.Contains(s, "zz") {
						t.Fatalf("%s accepted %q", name, s)
					}
				case "max-length":
					if utf8.RuneCountInString(s) > 8 {
						t.Fatalf("%s accepted %q", name, s)
					}
				}
			}
		}
	})
}

// strings_ appends the strings in v, in no particular order.
func collectStrings(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			collectStrings(e, out)
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(e, out)
		}
	}
}

func anyString(ss []string, f func(string) bool) bool {
	for _, s := range ss {
		if f(s) {
			return true
		}
	}
	return false
}

// asciiLower lowers ASCII letters only, as HTML does for tag names
// (strings.ToLower would turn U+0130 into i).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
