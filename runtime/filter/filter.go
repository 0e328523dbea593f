package filter

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime"
)

// stringFilter applies visit to the strings at its paths.
type stringFilter struct {
	paths []path
	visit visitFunc
	// reason returns the rejection reason for a refused string at loc.
	reason func(loc *location) string
}

// FilterData implements runtime.DataFilter.
func (f *stringFilter) FilterData(_ context.Context, _ *runtime.ServerSession, _ string, data any) (any, error) {
	for i := range f.paths {
		out, changed, loc := f.paths[i].walk(data, f.visit)
		if loc != nil {
			return nil, runtime.Reject(f.reason(loc))
		}
		if changed {
			data = out
		}
	}
	return data, nil
}

// newStringFilter parses paths and returns a filter.
func newStringFilter(paths []string, visit visitFunc, reason func(*location) string) (runtime.DataFilter, error) {
	ps, err := parsePaths(paths)
	if err != nil {
		return nil, err
	}
	return &stringFilter{paths: ps, visit: visit, reason: reason}, nil
}

// pathError wraps the error of a malformed path.
type pathError struct {
	path string
	err  error
}

// Trim returns a filter that removes leading and trailing white space, as
// defined by Unicode (unicode.IsSpace: spaces, tabs, line breaks, no-break
// spaces…; not zero-width spaces nor direction marks), from the strings at
// paths.
func Trim(paths ...string) (runtime.DataFilter, error) {
	f, err := newStringFilter(paths, trim, nil)
	return f, wrap("trim", err)
}

func trim(s string) (string, bool, bool) {
	t := strings.TrimSpace(s)
	return t, len(t) != len(s), false
}

// markupEscaper escapes & first: every & in the output that is not the
// start of an escape was put there by an escape.
var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// NoMarkup returns a filter that escapes "&", "<" and ">" as "&amp;",
// "&lt;" and "&gt;" in the strings at paths, so that a client inserting them
// into HTML element content shows them as text. Quotes are not escaped: the
// strings are not safe inside attribute values.
//
// NoMarkup is not idempotent: applied twice, it escapes its own escapes
// ("<" becomes "&amp;lt;"), as CometD's NoMarkupFilter does; put it once in
// a chain. Unlike CometD's filter, which leaves "&" alone, it also escapes
// "&", so that the output always reads back as the input.
func NoMarkup(paths ...string) (runtime.DataFilter, error) {
	f, err := newStringFilter(paths, noMarkup, nil)
	return f, wrap("no-markup", err)
}

func noMarkup(s string) (string, bool, bool) {
	if strings.IndexAny(s, "&<>") < 0 {
		return s, false, false
	}
	return markupEscaper.Replace(s), true, false
}

// NoScripts returns a filter that turns "<script" into "<span" and
// "</script" into "</span", ignoring ASCII case ("<SCRIPT" becomes "<span"
// too), in the strings at paths. It is idempotent.
//
// NoScripts defeats the plain script element, not cross-site scripting:
// event handler attributes ("<img onerror=…>") and other elements pass
// through. Use NoMarkup where the strings are shown as text.
func NoScripts(paths ...string) (runtime.DataFilter, error) {
	f, err := newStringFilter(paths, noScripts, nil)
	return f, wrap("no-scripts", err)
}

func noScripts(s string) (string, bool, bool) {
	i := strings.IndexByte(s, '<')
	if i < 0 {
		return s, false, false
	}
	var b []byte
	last := 0 // s[:last] is in b
	for i >= 0 {
		j := i + 1
		if j < len(s) && s[j] == '/' {
			j++
		}
		next := i + 1
		if hasScript(s[j:]) {
			if b == nil {
				b = make([]byte, 0, len(s))
			}
			b = append(b, s[last:j]...)
			b = append(b, "span"...)
			last = j + len("script")
			next = last
		}
		k := strings.IndexByte(s[next:], '<')
		if k < 0 {
			break
		}
		i = next + k
	}
	if b == nil {
		return s, false, false
	}
	return string(append(b, s[last:]...)), true, false
}

// hasScript reports whether s starts with "script" in any ASCII case.
func hasScript(s string) bool {
	const word = "script"
	if len(s) < len(word) {
		return false
	}
	for i := range len(word) {
		// Setting bit 0x20 lowers an ASCII capital; only 's' and 'S'
		// become 's', and so on for the other letters.
		if s[i]|0x20 != word[i] {
			return false
		}
	}
	return true
}

// RegexReplace returns a filter that replaces the matches of the regular
// expression pattern (Go's regexp syntax) in the strings at paths with
// replacement, in which $1, ${name}… expand as in
// regexp.Regexp.ReplaceAllString. The pattern is compiled once.
func RegexReplace(pattern, replacement string, paths ...string) (runtime.DataFilter, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("filter: regex-replace: %w", err)
	}
	f, err := newStringFilter(paths, func(s string) (string, bool, bool) {
		// Matching first spares a copy of every string that has no match.
		if !re.MatchString(s) {
			return s, false, false
		}
		return re.ReplaceAllString(s, replacement), true, false
	}, nil)
	return f, wrap("regex-replace", err)
}

// RegexAbort returns a filter that rejects a message when a string at paths
// matches the regular expression pattern (Go's regexp syntax; use (?i) to
// ignore case). The rejection carries reason; an empty reason becomes
// "<location> matches a forbidden pattern", location being where the
// string was found, like items[2].text.
func RegexAbort(pattern, reason string, paths ...string) (runtime.DataFilter, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("filter: regex-abort: %w", err)
	}
	f, err := newStringFilter(paths, func(s string) (string, bool, bool) {
		return s, false, re.MatchString(s)
	}, func(loc *location) string {
		if reason == "" {
			return loc.String() + " matches a forbidden pattern"
		}
		return reason
	})
	return f, wrap("regex-abort", err)
}

// MaxLength returns a filter that rejects a message when a string at paths
// is longer than n Unicode code points (not bytes, not user-perceived
// characters: "é" written as "e" and a combining accent counts 2, a flag
// emoji 2; each byte of invalid UTF-8 counts 1). The reason says where and
// the limit: "text is longer than 500 characters", or "items[2].text …".
func MaxLength(n int, paths ...string) (runtime.DataFilter, error) {
	if n < 0 {
		return nil, fmt.Errorf("filter: max-length: negative length %d", n)
	}
	suffix := " is longer than " + strconv.Itoa(n) + " characters"
	f, err := newStringFilter(paths, func(s string) (string, bool, bool) {
		return s, false, tooLong(s, n)
	}, func(loc *location) string {
		return loc.String() + suffix
	})
	return f, wrap("max-length", err)
}

// tooLong reports whether s has more than n code points.
func tooLong(s string, n int) bool {
	switch {
	case len(s) <= n: // a code point takes at least a byte
		return false
	case len(s)/utf8.UTFMax > n: // and at most UTFMax
		return true
	}
	return utf8.RuneCountInString(s) > n
}

// wrap adds the filter's name to a path error.
func wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pathError
	if errors.As(err, &pe) {
		return fmt.Errorf("filter: %s: path %q: %w", name, pe.path, pe.err)
	}
	return fmt.Errorf("filter: %s: %w", name, err)
}

func (e *pathError) Error() string { return fmt.Sprintf("path %q: %v", e.path, e.err) }

func (e *pathError) Unwrap() error { return e.err }

// Chain returns a filter that runs filters in order, each on the data the
// previous one returned, and stops at the first that rejects the message.
// Nested chains are flattened. Chain panics if a filter is nil, which is
// what a constructor returns with its error: see Must.
func Chain(filters ...runtime.DataFilter) runtime.DataFilter {
	var c chain
	for i, f := range filters {
		switch f := f.(type) {
		case nil:
			panic(fmt.Sprintf("filter: Chain: filter %d is nil", i))
		case chain:
			c = append(c, f...)
		default:
			c = append(c, f)
		}
	}
	return c
}

type chain []runtime.DataFilter

// FilterData implements runtime.DataFilter.
func (c chain) FilterData(ctx context.Context, from *runtime.ServerSession, channel string, data any) (any, error) {
	for _, f := range c {
		var err error
		if data, err = f.FilterData(ctx, from, channel, data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// Must returns f, or panics if err is not nil. It is meant for filters
// built from constant arguments:
//
//	trim := filter.Must(filter.Trim("text"))
func Must(f runtime.DataFilter, err error) runtime.DataFilter {
	if err != nil {
		panic(err)
	}
	return f
}

// Spec names a built-in filter and its arguments, as a cometgen spec
// writes it: `{trim: [text]}` is Spec{Name: "trim", Paths: []string{"text"}}.
// The gateway (`cometgen serve --spec`) and generated code build their
// filters from Specs with New, so a name means one filter on both.
type Spec struct {
	// Name is trim, no-markup, no-scripts, max-length, regex-replace or
	// regex-abort.
	Name string
	// Paths are the field paths the filter applies to; none: every string.
	Paths []string
	// Max is max-length's limit.
	Max int
	// Pattern is the regular expression of regex-replace and regex-abort.
	Pattern string
	// Replacement is regex-replace's replacement.
	Replacement string
	// Reason is regex-abort's rejection reason ("": a default).
	Reason string
}

// Builtins are the names New knows, in the order the spec language
// documents them.
var Builtins = []string{"trim", "no-markup", "no-scripts", "max-length", "regex-replace", "regex-abort"}

// New returns the built-in filter s names.
func New(s Spec) (runtime.DataFilter, error) {
	switch s.Name {
	case "trim":
		return Trim(s.Paths...)
	case "no-markup":
		return NoMarkup(s.Paths...)
	case "no-scripts":
		return NoScripts(s.Paths...)
	case "max-length":
		return MaxLength(s.Max, s.Paths...)
	case "regex-replace":
		return RegexReplace(s.Pattern, s.Replacement, s.Paths...)
	case "regex-abort":
		return RegexAbort(s.Pattern, s.Reason, s.Paths...)
	}
	return nil, fmt.Errorf("filter: unknown filter %q (built-in: %s)", s.Name, strings.Join(Builtins, ", "))
}
