package validate

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// Pattern is a compiled regular expression (Go syntax, unanchored, as
// regexp.Compile takes it) of a pattern keyword or of a channel parameter.
// It matches what the regexp matches; the commonest form of such patterns,
// one character class repeated within bounds and anchored at both ends
// (^[a-z0-9-]{1,32}$), is matched by a loop over the runes instead of the
// regexp machine. It is safe for concurrent use.
type Pattern struct {
	re *regexp.Regexp
	// The class form, when class is true: every rune in the class
	// (ascii for runes below utf8.RuneSelf, ranges for the others), and
	// min to max runes (max -1: no bound).
	class    bool
	ascii    [2]uint64
	ranges   []rune // lo, hi pairs, as regexp/syntax gives them
	min, max int
}

// CompilePattern compiles expr as regexp.Compile does.
func CompilePattern(expr string) (*Pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	p := &Pattern{re: re}
	p.classForm(expr)
	return p, nil
}

// MustCompilePattern is CompilePattern for patterns known to be valid, such
// as those cometgen embeds in generated code; it panics otherwise.
func MustCompilePattern(expr string) *Pattern {
	p, err := CompilePattern(expr)
	if err != nil {
		panic("validate: pattern " + expr + ": " + err.Error())
	}
	return p
}

// String returns the source text of the pattern.
func (p *Pattern) String() string { return p.re.String() }

// classForm sets the class form of p when expr is a class repeated within
// bounds between ^ and $.
func (p *Pattern) classForm(expr string) {
	t, err := syntax.Parse(expr, syntax.Perl) // as regexp.Compile parses
	if err != nil || t.Op != syntax.OpConcat || len(t.Sub) != 3 ||
		t.Sub[0].Op != syntax.OpBeginText || t.Sub[2].Op != syntax.OpEndText {
		return
	}
	rep := t.Sub[1]
	cc := rep
	switch rep.Op {
	case syntax.OpCharClass:
		p.min, p.max = 1, 1
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		cc = rep.Sub[0]
		switch rep.Op {
		case syntax.OpStar:
			p.min, p.max = 0, -1
		case syntax.OpPlus:
			p.min, p.max = 1, -1
		case syntax.OpQuest:
			p.min, p.max = 0, 1
		default:
			p.min, p.max = rep.Min, rep.Max
		}
	default:
		return
	}
	if cc.Op != syntax.OpCharClass {
		return
	}
	for i := 0; i+1 < len(cc.Rune); i += 2 {
		lo, hi := cc.Rune[i], cc.Rune[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			p.ascii[r/64] |= 1 << (r % 64)
		}
		if hi >= utf8.RuneSelf {
			p.ranges = append(p.ranges, max(lo, utf8.RuneSelf), hi)
		}
	}
	p.class = true
}

// in reports whether the rune r is in the class.
func (p *Pattern) in(r rune) bool {
	if r < utf8.RuneSelf {
		return p.ascii[r/64]&(1<<(r%64)) != 0
	}
	for i := 0; i < len(p.ranges); i += 2 {
		if p.ranges[i] <= r && r <= p.ranges[i+1] {
			return true
		}
	}
	return false
}

// MatchString reports whether s contains a match of the pattern.
func (p *Pattern) MatchString(s string) bool {
	if !p.class {
		return p.re.MatchString(s)
	}
	n := 0
	for _, r := range s { // an invalid byte is utf8.RuneError, as the regexp reads it
		if !p.in(r) {
			return false
		}
		n++
	}
	return n >= p.min && (p.max < 0 || n <= p.max)
}

// Match reports whether b contains a match of the pattern.
func (p *Pattern) Match(b []byte) bool {
	if !p.class {
		return p.re.Match(b)
	}
	n := 0
	for i := 0; i < len(b); n++ {
		r, size := utf8.DecodeRune(b[i:])
		if !p.in(r) {
			return false
		}
		i += size
	}
	return n >= p.min && (p.max < 0 || n <= p.max)
}
