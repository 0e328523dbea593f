package filter

import (
	"strings"
	"testing"

	"github.com/cometgen/cometgen/runtime"
)

// render writes steps back as a path, to compare parses.
func render(p path) string {
	var b strings.Builder
	for i, st := range p.steps {
		if st.each {
			b.WriteString("[]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString("<" + st.key + ">")
	}
	return b.String()
}

func TestParsePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"text", "<text>"},
		{"user.name", "<user>.<name>"},
		{"items[].text", "<items>[].<text>"},
		{"matrix[][]", "<matrix>[][]"},
		{"[]", "[]"},
		{"[][].x", "[][].<x>"},
		{"a.b.c.d", "<a>.<b>.<c>.<d>"},
		{"with space.ünïcödé.😀", "<with space>.<ünïcödé>.<😀>"},
		{"a*b.$x", "<a*b>.<$x>"},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.in)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.in, err)
			continue
		}
		if got := render(p); got != tt.want {
			t.Errorf("parsePath(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{".", "empty key"},
		{".a", "empty key"},
		{"a..b", "empty key"},
		{"a.", "empty key at the end"},
		{"a[].", "empty key at the end"},
		{"a.[]", `expected a key before "["`},
		{"]", `expected a key before "]"`},
		{"a]", `unexpected "]" after "a"`},
		{"a[]b", `unexpected "b" after "a[]"`},
		{"a[0]", `only [] (every element of an array) may follow a key, not "[0]"`},
		{"a[", `not "["`},
		{"a[x", `not "[x"`},
		{"[0].a", `not "[0]"`},
		{"*", "wildcard keys are not supported"},
		{"a.**", "wildcard keys are not supported"},
	}
	for _, tt := range tests {
		_, err := parsePath(tt.in)
		if err == nil {
			t.Errorf("parsePath(%q): no error, want %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parsePath(%q): %v, want %q", tt.in, err, tt.want)
		}
	}
}

// Every constructor refuses a malformed path, saying which filter and which
// path, even when the empty path (every string) comes first.
func TestConstructorsRejectMalformedPaths(t *testing.T) {
	ctors := map[string]func(paths ...string) (runtime.DataFilter, error){
		"trim":       Trim,
		"no-markup":  NoMarkup,
		"no-scripts": NoScripts,
		"regex-replace": func(paths ...string) (runtime.DataFilter, error) {
			return RegexReplace("a", "b", paths...)
		},
		"regex-abort": func(paths ...string) (runtime.DataFilter, error) {
			return RegexAbort("a", "no a", paths...)
		},
		"max-length": func(paths ...string) (runtime.DataFilter, error) {
			return MaxLength(3, paths...)
		},
	}
	for name, ctor := range ctors {
		for _, paths := range [][]string{{"a..b"}, {"ok", "a..b"}, {"", "a..b"}} {
			f, err := ctor(paths...)
			want := `filter: ` + name + `: path "a..b": empty key`
			if err == nil || err.Error() != want {
				t.Errorf("%s(%q): %v, want %q", name, paths, err, want)
			}
			if f != nil {
				t.Errorf("%s(%q) returned a filter with its error", name, paths)
			}
		}
	}
}

func TestParsePathsDeduplicates(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, []string{""}},
		{[]string{"a", "b", "a"}, []string{"a", "b"}},
		{[]string{"a", "", "b"}, []string{""}},
		{[]string{"a[].b", "a[].b", "a"}, []string{"a[].b", "a"}},
	}
	for _, tt := range tests {
		ps, err := parsePaths(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.text)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("parsePaths(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := RegexReplace("(", "x"); err == nil || !strings.HasPrefix(err.Error(), "filter: regex-replace: error parsing regexp") {
		t.Errorf("RegexReplace(\"(\"): %v", err)
	}
	if _, err := RegexAbort("[", "x"); err == nil || !strings.HasPrefix(err.Error(), "filter: regex-abort: error parsing regexp") {
		t.Errorf("RegexAbort(\"[\"): %v", err)
	}
	if _, err := MaxLength(-1); err == nil || err.Error() != "filter: max-length: negative length -1" {
		t.Errorf("MaxLength(-1): %v", err)
	}
}
