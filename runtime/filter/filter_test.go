package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// decode decodes JSON as the runtime does for a message's data.
func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// encode encodes v with sorted keys and without HTML escaping.
func encode(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// reason returns the reason of a rejection, or fails.
func reason(t testing.TB, err error) string {
	t.Helper()
	var be *bayeux.Error
	if !errors.As(err, &be) || be.Code != 400 || be.Message != "data_rejected" || len(be.Args) != 1 {
		t.Fatalf("error %v is not a runtime.Reject", err)
	}
	return be.Args[0]
}

// A filterCase runs a filter over data (JSON); it expects the data after
// filtering (JSON, compared after re-encoding) or a rejection reason.
type filterCase struct {
	name   string
	paths  []string
	data   string
	want   string
	reject string
}

func runCases(t *testing.T, ctor func(paths ...string) (runtime.DataFilter, error), cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ctor(tc.paths...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.FilterData(context.Background(), nil, "/chat", decode(t, tc.data))
			if tc.reject != "" {
				if err == nil {
					t.Fatalf("accepted, got %s, want rejection %q", encode(t, got), tc.reject)
				}
				if r := reason(t, err); r != tc.reject {
					t.Fatalf("rejected with %q, want %q", r, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if g, w := encode(t, got), encode(t, decode(t, tc.want)); g != w {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// nonStrings is data with every JSON kind but strings at the usual paths.
const nonStrings = `{"text":42,"user":{"name":null},"items":[true,1.5,{"text":["<x> "]}],"n":[[1]]}`

func TestTrim(t *testing.T) {
	runCases(t, Trim, []filterCase{
		{name: "one field", paths: []string{"text"},
			data: `{"text":"  hi there \n","room":" lobby "}`,
			want: `{"text":"hi there","room":" lobby "}`},
		{name: "nested", paths: []string{"user.name"},
			data: `{"user":{"name":"\talice\t","bio":" x "}}`,
			want: `{"user":{"name":"alice","bio":" x "}}`},
		{name: "array elements", paths: []string{"items[].text"},
			data: `{"items":[{"text":" a "},{"text":"b "},{"other":" c "},"d ",{"text":5}]}`,
			want: `{"items":[{"text":"a"},{"text":"b"},{"other":" c "},"d ",{"text":5}]}`},
		{name: "arrays of arrays", paths: []string{"m[][]"},
			data: `{"m":[[" a "," b "]," c ",[[" d "]]]}`,
			want: `{"m":[["a","b"]," c ",[[" d "]]]}`},
		{name: "top-level array", paths: []string{"[]"},
			data: `[" a ",{"x":" b "}]`,
			want: `["a",{"x":" b "}]`},
		{name: "whole tree", paths: nil,
			data: `{"a":" x ","b":[" y ",{"c":[" z "]}],"k ":1}`,
			want: `{"a":"x","b":["y",{"c":["z"]}],"k ":1}`},
		{name: "empty path", paths: []string{""},
			data: `[[[" deep "]]]`, want: `[[["deep"]]]`},
		{name: "data is a string", paths: nil, data: `"  hi  "`, want: `"hi"`},
		{name: "missing path skipped", paths: []string{"text", "user.name", "items[].text"},
			data: `{"room":" r "}`, want: `{"room":" r "}`},
		{name: "path through a non-map", paths: []string{"text.inner", "n[].x", "text[]"},
			data: `{"text":" s ","n":[" t "]}`, want: `{"text":" s ","n":[" t "]}`},
		{name: "non-strings untouched", paths: []string{"text", "user.name", "items[]", "items[].text", "n[]"},
			data: nonStrings, want: nonStrings},
		{name: "null data", paths: []string{"text"}, data: `null`, want: `null`},
		{name: "null data whole tree", data: `null`, want: `null`},
		{name: "unicode white space", paths: []string{"text"},
			data: `{"text":"\u00a0\u2003\u3000hi\u2028\u0085"}`, want: `{"text":"hi"}`},
		{name: "not white space", paths: []string{"text"},
			// zero-width space, byte order mark, right-to-left mark
			data: `{"text":"\u200bhi\ufeff\u200f"}`, want: `{"text":"\u200bhi\ufeff\u200f"}`},
		{name: "only spaces", paths: []string{"text"}, data: `{"text":" \t\n "}`, want: `{"text":""}`},
		{name: "rtl text", paths: []string{"text"},
			data: `{"text":"  שלום עולם  "}`, want: `{"text":"שלום עולם"}`},
		{name: "combining mark kept", paths: []string{"text"},
			data: `{"text":" e\u0301 "}`, want: `{"text":"e\u0301"}`},
	})
}

func TestNoMarkup(t *testing.T) {
	runCases(t, NoMarkup, []filterCase{
		{name: "tags", paths: []string{"text"},
			data: `{"text":"hello <b>world</b>","user":"<i>"}`,
			want: `{"text":"hello &lt;b&gt;world&lt;/b&gt;","user":"<i>"}`},
		{name: "ampersand first", paths: []string{"text"},
			data: `{"text":"a & b &lt; c <"}`,
			want: `{"text":"a &amp; b &amp;lt; c &lt;"}`},
		{name: "quotes untouched", paths: []string{"text"},
			data: `{"text":"\"it's\""}`, want: `{"text":"\"it's\""}`},
		{name: "nothing to escape", paths: []string{"text"},
			data: `{"text":"plain"}`, want: `{"text":"plain"}`},
		{name: "whole tree", data: `{"a":["<",{"b":">"}],"c":"&"}`,
			want: `{"a":["&lt;",{"b":"&gt;"}],"c":"&amp;"}`},
		{name: "array elements", paths: []string{"items[].text"},
			data: `{"items":[{"text":"<a>"},{"text":1},{}]}`,
			want: `{"items":[{"text":"&lt;a&gt;"},{"text":1},{}]}`},
		{name: "keys untouched", data: `{"<k>":"<v>"}`, want: `{"<k>":"&lt;v&gt;"}`},
		{name: "non-strings untouched", paths: []string{"text", "user.name", "items[].text"},
			data: nonStrings, want: nonStrings},
		{name: "emoji and rtl", paths: []string{"text"},
			data: `{"text":"😀<שלום>👍🏽"}`, want: `{"text":"😀&lt;שלום&gt;👍🏽"}`},
	})
}

func TestNoScripts(t *testing.T) {
	runCases(t, NoScripts, []filterCase{
		{name: "element", paths: []string{"text"},
			data: `{"text":"<script>alert(1)</script>"}`,
			want: `{"text":"<span>alert(1)</span>"}`},
		{name: "any case", paths: []string{"text"},
			data: `{"text":"<ScRiPt src=x></SCRIPT >"}`,
			want: `{"text":"<span src=x></span >"}`},
		{name: "several", paths: []string{"text"},
			data: `{"text":"<<script<script</script</"}`,
			want: `{"text":"<<span<span</span</"}`},
		{name: "prefix of a longer name", paths: []string{"text"},
			data: `{"text":"<scripts>"}`, want: `{"text":"<spans>"}`},
		{name: "not a tag", paths: []string{"text"},
			data: `{"text":"< script> script <scrip <a>script</a> <!--script-->"}`,
			want: `{"text":"< script> script <scrip <a>script</a> <!--script-->"}`},
		{name: "truncated", paths: []string{"text"},
			data: `{"text":"<scrip"}`, want: `{"text":"<scrip"}`},
		{name: "at the end", paths: []string{"text"},
			data: `{"text":"x</script"}`, want: `{"text":"x</span"}`},
		{name: "unicode folding does not count", paths: []string{"text"},
			// U+017F LATIN SMALL LETTER LONG S folds to s, but HTML does not.
			data: `{"text":"<\u017fcript>"}`, want: `{"text":"<\u017fcript>"}`},
		{name: "whole tree", data: `[{"a":"<script>"},"</SCRIPT>"]`,
			want: `[{"a":"<span>"},"</span>"]`},
		{name: "non-strings untouched", paths: []string{"text", "user.name", "items[].text"},
			data: nonStrings, want: nonStrings},
	})
}

func TestRegexReplace(t *testing.T) {
	ctor := func(pattern, repl string) func(paths ...string) (runtime.DataFilter, error) {
		return func(paths ...string) (runtime.DataFilter, error) { return RegexReplace(pattern, repl, paths...) }
	}
	runCases(t, ctor(`(?i)\bdarn\b`, "****"), []filterCase{
		{name: "words", paths: []string{"text"},
			data: `{"text":"Darn it, darn. darnation","user":"darn"}`,
			want: `{"text":"**** it, ****. darnation","user":"darn"}`},
		{name: "no match", paths: []string{"text"}, data: `{"text":"fine"}`, want: `{"text":"fine"}`},
		{name: "non-strings untouched", paths: []string{"text", "items[].text"}, data: nonStrings, want: nonStrings},
	})
	runCases(t, ctor(`(\w+)@(\w+)\.com`, "$2 at ${1}"), []filterCase{
		{name: "expansion", paths: []string{"items[].text"},
			data: `{"items":[{"text":"mail bob@example.com"},{"text":"none"}]}`,
			want: `{"items":[{"text":"mail example at bob"},{"text":"none"}]}`},
	})
	runCases(t, ctor(`\p{Mn}`, ""), []filterCase{
		{name: "strip combining marks", paths: []string{"text"},
			data: `{"text":"e\u0301a\u0308"}`, want: `{"text":"ea"}`},
	})
	runCases(t, ctor(`^`, ">"), []filterCase{
		{name: "empty match", data: `["", "a"]`, want: `[">", ">a"]`},
	})
}

func TestRegexAbort(t *testing.T) {
	ctor := func(pattern, reason string) func(paths ...string) (runtime.DataFilter, error) {
		return func(paths ...string) (runtime.DataFilter, error) { return RegexAbort(pattern, reason, paths...) }
	}
	runCases(t, ctor(`(?i)https?://`, "links are not allowed"), []filterCase{
		{name: "match", paths: []string{"text"},
			data: `{"text":"see HTTP://x.example"}`, reject: "links are not allowed"},
		{name: "no match", paths: []string{"text"},
			data: `{"text":"see x.example","user":"http://"}`, want: `{"text":"see x.example","user":"http://"}`},
		{name: "second path", paths: []string{"text", "items[].text"},
			data: `{"text":"ok","items":[{"text":"ok"},{"text":"https://"}]}`, reject: "links are not allowed"},
		{name: "whole tree", data: `{"a":[{"b":["http://"]}]}`, reject: "links are not allowed"},
		{name: "non-strings untouched", paths: []string{"text", "items[].text"}, data: nonStrings, want: nonStrings},
	})
	runCases(t, ctor(`secret`, ""), []filterCase{
		{name: "default reason", paths: []string{"items[].text"},
			data: `{"items":[{"text":"a"},{"text":"a secret"}]}`, reject: "items[1].text matches a forbidden pattern"},
		{name: "default reason whole tree", data: `[1,["x","secret"]]`, reject: "[1][1] matches a forbidden pattern"},
		{name: "default reason data", data: `"secret"`, reject: "data matches a forbidden pattern"},
	})
	// Reject makes ':' and ',' safe for the wire.
	runCases(t, ctor(`x`, "no x: none, ever"), []filterCase{
		{name: "sanitized", data: `"x"`, reject: "no x none; ever"},
	})
}

func TestMaxLength(t *testing.T) {
	ctor := func(n int) func(paths ...string) (runtime.DataFilter, error) {
		return func(paths ...string) (runtime.DataFilter, error) { return MaxLength(n, paths...) }
	}
	runCases(t, ctor(5), []filterCase{
		{name: "at the limit", paths: []string{"text"}, data: `{"text":"12345"}`, want: `{"text":"12345"}`},
		{name: "over", paths: []string{"text"}, data: `{"text":"123456"}`, reject: "text is longer than 5 characters"},
		{name: "other field ignored", paths: []string{"text"}, data: `{"text":"1","room":"123456"}`, want: `{"text":"1","room":"123456"}`},
		{name: "nested", paths: []string{"user.name"}, data: `{"user":{"name":"abcdefg"}}`, reject: "user.name is longer than 5 characters"},
		{name: "array element", paths: []string{"text", "items[].text"},
			data: `{"text":"ok","items":[{"text":"ok"},{},{"text":"too long"}]}`, reject: "items[2].text is longer than 5 characters"},
		{name: "arrays of arrays", paths: []string{"m[][]"}, data: `{"m":[[],["a","bbbbbb"]]}`, reject: "m[1][1] is longer than 5 characters"},
		{name: "whole tree", data: `{"a":{"b":[1,"xxxxxx"]}}`, reject: "a.b[1] is longer than 5 characters"},
		{name: "data itself", data: `"xxxxxx"`, reject: "data is longer than 5 characters"},
		{name: "non-strings untouched", paths: []string{"text", "user.name", "items[].text"}, data: nonStrings, want: nonStrings},
		// Code points, not bytes nor graphemes.
		{name: "emoji 5", paths: []string{"text"}, data: `{"text":"😀😀😀😀😀"}`, want: `{"text":"😀😀😀😀😀"}`},
		{name: "emoji 6", paths: []string{"text"}, data: `{"text":"😀😀😀😀😀😀"}`, reject: "text is longer than 5 characters"},
		{name: "combining marks count", paths: []string{"text"}, data: `{"text":"e\u0301e\u0301e\u0301"}`, reject: "text is longer than 5 characters"},
		{name: "skin tone is 2", paths: []string{"text"}, data: `{"text":"👍🏽👍🏽👍"}`, want: `{"text":"👍🏽👍🏽👍"}`},
		{name: "rtl 5", paths: []string{"text"}, data: `{"text":"שלום!"}`, want: `{"text":"שלום!"}`},
		{name: "rtl mark counts", paths: []string{"text"}, data: `{"text":"\u200fשלום!"}`, reject: "text is longer than 5 characters"},
		{name: "key with punctuation", data: `{"a:b,c":"xxxxxx"}`, reject: "a b;c is longer than 5 characters"},
	})
	runCases(t, ctor(0), []filterCase{
		{name: "zero", paths: []string{"text"}, data: `{"text":""}`, want: `{"text":""}`},
		{name: "zero over", paths: []string{"text"}, data: `{"text":"a"}`, reject: "text is longer than 0 characters"},
	})
}

func TestTooLong(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want bool
	}{
		{"", 0, false}, {"a", 0, true}, {"abc", 3, false}, {"abcd", 3, true},
		{"😀", 1, false}, {"😀😀", 1, true}, {"é", 1, false},
		{"\xff\xfe", 1, true}, {"\xff\xfe", 2, false}, // each invalid byte is one
		{strings.Repeat("😀", 100), 100, false}, {strings.Repeat("😀", 101), 100, true},
		{strings.Repeat("x", 401), 100, true},
	} {
		if got := tooLong(tt.s, tt.n); got != tt.want {
			t.Errorf("tooLong(%q, %d) = %v", tt.s, tt.n, got)
		}
	}
}

func TestChain(t *testing.T) {
	chat := Chain(
		Must(Trim("text", "user")),
		Must(NoMarkup("text")),
		Must(MaxLength(10, "text", "user")),
	)
	runCases(t, func(...string) (runtime.DataFilter, error) { return chat, nil }, []filterCase{
		{name: "in order", data: `{"user":" alice ","text":"  <b>  "}`, want: `{"user":"alice","text":"&lt;b&gt;"}`},
		// Escaping lengthens the text past the limit: order matters.
		{name: "length after escape", data: `{"user":"bob","text":" <b><i> "}`, reject: "text is longer than 10 characters"},
		{name: "trimmed before length", data: `{"user":"          bob          ","text":"x"}`, want: `{"user":"bob","text":"x"}`},
	})
	// A chain stops at the first rejection.
	called := false
	spy := runtime.DataFilterFunc(func(_ context.Context, _ *runtime.ServerSession, _ string, data any) (any, error) {
		called = true
		return data, nil
	})
	c := Chain(Must(MaxLength(1)), spy)
	if _, err := c.FilterData(context.Background(), nil, "/a", "xx"); err == nil || called {
		t.Errorf("chain went on after a rejection: err %v, called %v", err, called)
	}
	// Each filter sees what the previous one returned; replacing the data
	// is allowed.
	replace := runtime.DataFilterFunc(func(context.Context, *runtime.ServerSession, string, any) (any, error) {
		return map[string]any{"text": " new "}, nil
	})
	got, err := Chain(replace, Must(Trim("text"))).FilterData(context.Background(), nil, "/a", nil)
	if err != nil || encode(t, got) != `{"text":"new"}` {
		t.Errorf("got %v, %v", got, err)
	}
	// Empty and nested chains.
	if got, err := Chain().FilterData(context.Background(), nil, "/a", " x "); got != " x " || err != nil {
		t.Errorf("empty chain: %v, %v", got, err)
	}
	nested := Chain(Chain(Must(Trim())), Chain(), Must(NoMarkup()))
	if n := len(nested.(chain)); n != 2 {
		t.Errorf("nested chain has %d filters, want 2", n)
	}
	if got, _ := nested.FilterData(context.Background(), nil, "/a", " <x> "); got != "&lt;x&gt;" {
		t.Errorf("nested chain: %v", got)
	}
}

func TestChainNilPanics(t *testing.T) {
	f, _ := Trim("a..b") // the error ignored, f is nil
	defer func() {
		if r := recover(); r != "filter: Chain: filter 1 is nil" {
			t.Errorf("recovered %v", r)
		}
	}()
	Chain(Must(Trim()), f)
}

func TestMust(t *testing.T) {
	if f := Must(Trim("text")); f == nil {
		t.Fatal("Must returned nil")
	}
	defer func() {
		r := recover()
		if err, ok := r.(error); !ok || err.Error() != `filter: trim: path "a..b": empty key` {
			t.Errorf("recovered %v", r)
		}
	}()
	Must(Trim("a..b"))
}

// The rejection goes on the wire as CometD's data_rejected error.
func TestRejectionWireForm(t *testing.T) {
	_, err := Must(MaxLength(3, "text")).FilterData(context.Background(), nil, "/chat", map[string]any{"text": "abcd"})
	if got, want := err.Error(), "400:text is longer than 3 characters:data_rejected"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A string filter visits each string once, whatever paths it is given:
// NoMarkup, which is not idempotent, escapes once.
func TestEachStringOnce(t *testing.T) {
	for _, paths := range [][]string{{"text", "text"}, {"", "text"}, {"text", ""}, {"items[].text", "items[].text", "items"}} {
		f := Must(NoMarkup(paths...))
		data := map[string]any{"text": "<", "items": []any{map[string]any{"text": "<"}}}
		if _, err := f.FilterData(context.Background(), nil, "/a", data); err != nil {
			t.Fatal(err)
		}
		if s := encode(t, data); strings.Contains(s, "&amp;") {
			t.Errorf("paths %q: escaped twice: %s", paths, s)
		}
	}
}

func TestNoMarkupNotIdempotent(t *testing.T) {
	f := Must(NoMarkup())
	once, _ := f.FilterData(context.Background(), nil, "/a", "<&>")
	twice, _ := f.FilterData(context.Background(), nil, "/a", once)
	if once != "&lt;&amp;&gt;" || twice != "&amp;lt;&amp;amp;&amp;gt;" {
		t.Errorf("once %q, twice %q", once, twice)
	}
}

func TestNoScriptsIdempotent(t *testing.T) {
	f := Must(NoScripts())
	for _, s := range []string{"<script>", "<<script</SCRIPT", "</scr<script>ipt>", "<scr<script ipt"} {
		once, _ := f.FilterData(context.Background(), nil, "/a", s)
		twice, _ := f.FilterData(context.Background(), nil, "/a", once)
		if once != twice || strings.Contains(strings.ToLower(once.(string)), "<script") {
			t.Errorf("%q: once %q, twice %q", s, once, twice)
		}
	}
}

// Filters modify the data in place: the map passed in is the one returned.
func TestInPlace(t *testing.T) {
	data := map[string]any{"text": " x "}
	got, err := Must(Trim("text")).FilterData(context.Background(), nil, "/a", data)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%p", got) != fmt.Sprintf("%p", data) || data["text"] != "x" {
		t.Errorf("got %v, data %v", got, data)
	}
}

// Values that are not decoded JSON are left alone, without panicking.
func TestOtherTypes(t *testing.T) {
	type msg struct{ Text string }
	inputs := []any{
		msg{Text: " <script> "}, &msg{Text: " x "}, map[string]string{"text": " x "},
		[]string{" x "}, json.RawMessage(`" x "`), 42, true, nil, []any{nil, []any{}}, map[string]any{"text": nil},
	}
	for _, f := range allFilters() {
		for _, in := range inputs {
			before := fmt.Sprintf("%#v", in)
			got, err := f.FilterData(context.Background(), nil, "/a", in)
			if err != nil {
				t.Errorf("%#v rejected: %v", in, err)
			}
			if after := fmt.Sprintf("%#v", got); after != before {
				t.Errorf("%s became %s", before, after)
			}
		}
	}
}

// allFilters returns every built-in, with a mix of paths, for the tests that
// must hold for all of them.
func allFilters() []runtime.DataFilter {
	paths := []string{"text", "user.name", "items[].text", "[]", "m[][]"}
	var fs []runtime.DataFilter
	for _, ps := range [][]string{nil, paths} {
		fs = append(fs,
			Must(Trim(ps...)),
			Must(NoMarkup(ps...)),
			Must(NoScripts(ps...)),
			Must(RegexReplace(`(a+)(b*)`, "$2$1", ps...)),
			Must(RegexAbort(`zz`, "", ps...)),
			Must(MaxLength(8, ps...)),
		)
	}
	return append(fs, Chain(fs...))
}

// One filter value serves many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	f := Chain(
		Must(Trim("text", "items[].text")),
		Must(NoScripts()),
		Must(NoMarkup("text", "items[].text")),
		Must(RegexReplace(`\s+`, " ", "text")),
		Must(RegexAbort(`forbidden`, "no")),
		Must(MaxLength(50, "text")),
	)
	const goroutines, rounds = 16, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				data := map[string]any{
					"text":  fmt.Sprintf("  <script>%d   %d</script>  ", g, i),
					"items": []any{map[string]any{"text": " <b> "}, 7},
				}
				if i%10 == 0 {
					data["user"] = "forbidden"
				}
				got, err := f.FilterData(context.Background(), nil, "/chat", data)
				if i%10 == 0 {
					if err == nil {
						t.Errorf("goroutine %d round %d: not rejected", g, i)
					}
					continue
				}
				want := fmt.Sprintf("&lt;span&gt;%d %d&lt;/span&gt;", g, i)
				if err != nil || got.(map[string]any)["text"] != want {
					t.Errorf("goroutine %d round %d: %v, %v", g, i, got, err)
				}
			}
		})
	}
	wg.Wait()
}

// Strings that need no change cost no allocation.
func TestNoAllocsWhenClean(t *testing.T) {
	if raceEnabled {
		t.Skip("-race adds allocations")
	}
	f := Chain(
		Must(Trim("user", "text", "room")),
		Must(NoMarkup("user", "text", "room")),
		Must(NoScripts("user", "text", "room")),
		Must(MaxLength(500, "user", "text", "room")),
		Must(RegexAbort(`badword`, "no", "text")),
		Must(RegexReplace(`badword`, "***", "text")),
	)
	data := map[string]any{"user": "alice", "text": "hello world", "room": "lobby"}
	whole := Must(Trim())
	nested := map[string]any{"a": []any{"x", map[string]any{"b": "y"}}, "n": 1.0}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := f.FilterData(context.Background(), nil, "/chat", data); err != nil {
			t.Fatal(err)
		}
		if _, err := whole.FilterData(context.Background(), nil, "/chat", nested); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}
