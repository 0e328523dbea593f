package validate

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// patternCases are patterns of the class form and others, for the
// differential tests.
var patternCases = []struct {
	expr  string
	class bool
}{
	{`^[a-z0-9-]{1,32}$`, true},
	{`^[a-z]+$`, true},
	{`^[a-z]*$`, true},
	{`^[a-z]?$`, true},
	{`^[a-z]$`, true},
	{`^[a-z]{2,}$`, true},
	{`^\d{3}$`, true},
	{`^[^/]{1,4}$`, true},
	{`^(?i)[a-c]{1,3}$`, true},
	{`^[é日-本a]{1,2}$`, true},
	{`^[\x{FFFD}a]+$`, true},
	{`^[a-z]+`, false},
	{`[a-z]+$`, false},
	{`^a+$`, false},
	{`^.+$`, false},
	{`^[a-z]+$|^x$`, false},
	{`(?m)^[a-z]+$`, false},
	{`^[a-z]+\z`, true}, // \z is $ without (?m)
	{`^$`, false},
	{`ab`, false},
}

// patternInputs are strings to match, and random ones are made from their
// runes.
var patternInputs = []string{"", "a", "abc", "a-1", "ABC", "Abc", "a/b", "123", "1234", "日", "日本", "é", "é日",
	"\xff", "a\xffb", "\ufffd", "a\n", "\na", strings.Repeat("a", 32), strings.Repeat("a", 33), "x", "-", "_"}

// TestPatternMatchesRegexp: a Pattern matches exactly what its regexp
// matches, in both forms.
func TestPatternMatchesRegexp(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var runes []rune
	for _, in := range patternInputs {
		runes = append(runes, []rune(in)...)
	}
	inputs := append([]string(nil), patternInputs...)
	for range 2000 {
		var b strings.Builder
		for range rng.Intn(40) {
			if rng.Intn(20) == 0 {
				b.WriteByte(byte(rng.Intn(256))) // invalid UTF-8 too
				continue
			}
			b.WriteRune(runes[rng.Intn(len(runes))])
		}
		inputs = append(inputs, b.String())
	}
	for _, tc := range patternCases {
		p := MustCompilePattern(tc.expr)
		if p.class != tc.class {
			t.Errorf("%s: class form %v, want %v", tc.expr, p.class, tc.class)
		}
		if p.String() != tc.expr {
			t.Errorf("%s: String %q", tc.expr, p.String())
		}
		re := regexp.MustCompile(tc.expr)
		for _, in := range inputs {
			want := re.MatchString(in)
			if got := p.MatchString(in); got != want {
				t.Errorf("%s MatchString(%q) = %v, the regexp says %v", tc.expr, in, got, want)
			}
			if got := p.Match([]byte(in)); got != want {
				t.Errorf("%s Match(%q) = %v, the regexp says %v", tc.expr, in, got, want)
			}
		}
	}
	if _, err := CompilePattern(`^[a-z`); err == nil {
		t.Error("CompilePattern accepts an invalid pattern")
	}
}

// FuzzPattern: a Pattern matches exactly what its regexp matches.
func FuzzPattern(f *testing.F) {
	for _, tc := range patternCases {
		for _, in := range patternInputs {
			f.Add(tc.expr, in)
		}
	}
	f.Fuzz(func(t *testing.T, expr, in string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		p := MustCompilePattern(expr)
		if got, want := p.MatchString(in), re.MatchString(in); got != want {
			t.Fatalf("%q MatchString(%q) = %v, the regexp says %v", expr, in, got, want)
		}
		if got, want := p.Match([]byte(in)), re.Match([]byte(in)); got != want {
			t.Fatalf("%q Match(%q) = %v, the regexp says %v", expr, in, got, want)
		}
	})
}
