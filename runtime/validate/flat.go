package validate

import (
	"math"
	"unicode/utf8"
)

// Flat judges the values of a flat object (an object of scalar properties)
// one property at a time, for a decoder that has already read them: the
// runtime's typed dispatch decodes a message and checks it in the same
// walk of its text. It judges as the fast path does, and like it, it only
// says "valid" when the library would find no violation; false means: ask
// ValidateJSON, which gives the violations.
type Flat struct {
	props    []*fastNode // by the decoder's field index
	strs     []flatStringCheck
	required uint64 // the required fields, by index
}

// flatStringCheck is what String needs of a property's node, packed so
// that the checks of a message's fields take few cache lines (a message is
// judged between the deliveries of the one before, which take the cache);
// anything else it leaves to the node.
type flatStringCheck struct {
	node           *fastNode
	pattern        *Pattern
	minLen, maxLen int // -1: none
	always         int8
	notString      bool // the node's types exclude strings
	other          bool // a const, an enum or a format other than date-time: the node judges
	dateTime       bool // the format is date-time
}

func newFlatStringCheck(n *fastNode) flatStringCheck {
	return flatStringCheck{
		node:      n,
		pattern:   n.pattern,
		minLen:    n.minLen,
		maxLen:    n.maxLen,
		always:    n.always,
		notString: n.types != 0 && n.types&tString == 0,
		other:     n.hasConst || n.hasEnum || n.format != nil && !n.dateTime,
		dateTime:  n.format != nil && n.dateTime,
	}
}

// judge is fastNode.flatString of c's node.
func (c *flatStringCheck) judge(v string, dateTime bool) bool {
	switch c.always {
	case 1:
		return true
	case -1:
		return false
	}
	switch {
	case c.notString:
		return false
	case c.other:
		return c.node.flatString(v, dateTime)
	case c.dateTime && !dateTime && !fastDateTimeString(v) && !c.node.format(v):
		return false
	}
	if c.minLen >= 0 || c.maxLen >= 0 {
		l := utf8.RuneCountInString(v)
		if c.minLen >= 0 && l < c.minLen || c.maxLen >= 0 && l > c.maxLen {
			return false
		}
	}
	return c.pattern == nil || c.pattern.MatchString(v)
}

// Flat returns the check of the schema for an object whose only possible
// properties are names (the decoder refuses any other), or nil when the
// schema is not one the fast path covers as such an object: a type, const
// or enum of the object itself, minProperties or maxProperties, a schema for
// additional properties, or a required property not in names.
func (s *Schema) Flat(names []string) *Flat {
	n := s.fast
	if n == nil || n.always != 0 || len(names) > 64 ||
		n.types != 0 && n.types&tObject == 0 || n.hasConst || n.hasEnum || n.format != nil ||
		n.minProps >= 0 || n.maxProps >= 0 || n.addl != nil || n.reqOther {
		return nil
	}
	f := &Flat{props: make([]*fastNode, len(names))}
	for i, name := range names {
		if j := n.propIndexOf([]byte(name)); j >= 0 {
			// The decoder reads only scalars: the keywords of objects and
			// arrays say nothing of them, the others are judged below.
			f.props[i] = n.props[j].node
		} else if n.addlFalse {
			return nil // the decoder would accept what the schema refuses
		} else {
			f.props[i] = anyJSON
		}
	}
	f.strs = make([]flatStringCheck, len(f.props))
	for i, p := range f.props {
		f.strs[i] = newFlatStringCheck(p)
	}
	for _, r := range n.required {
		i := -1
		for j, name := range names {
			if name == r {
				i = j
			}
		}
		if i < 0 {
			return nil
		}
		f.required |= 1 << i
	}
	return f
}

// Required returns the required fields, by index: the decoder checks it
// against the fields it saw.
func (f *Flat) Required() uint64 { return f.required }

// String judges the string v of field i.
func (f *Flat) String(i int, v string) bool { return f.strs[i].judge(v, false) }

// DateTime judges the string v of field i, which the caller has read as an
// RFC 3339 date-time as the fast path reads one (so a date-time format holds).
func (f *Flat) DateTime(i int, v string) bool { return f.strs[i].judge(v, true) }

// flatString judges a string; dateTime says it is known to be an RFC 3339
// date-time.
func (n *fastNode) flatString(v string, dateTime bool) bool {
	switch n.always {
	case 1:
		return true
	case -1:
		return false
	}
	if n.types != 0 && n.types&tString == 0 {
		return false
	}
	if (n.hasConst || n.hasEnum) && !n.allows(v) {
		return false
	}
	if n.format != nil && !(n.dateTime && (dateTime || fastDateTimeString(v))) && !n.format(v) {
		return false
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(v)
		if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return false
		}
	}
	return n.pattern == nil || n.pattern.MatchString(v)
}

// Number judges the number v of field i.
func (f *Flat) Number(i int, v float64) bool {
	n := f.props[i]
	switch n.always {
	case 1:
		return true
	case -1:
		return false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return n.checkJSONNumber(v)
}

// Bool judges the boolean v of field i.
func (f *Flat) Bool(i int, v bool) bool {
	n := f.props[i]
	switch n.always {
	case 1:
		return true
	case -1:
		return false
	}
	return n.checkScalar(v, tBool)
}

// fastDateTimeString is fastDateTime for a string (false for a long one).
func fastDateTimeString(s string) bool {
	if len(s) > 64 {
		return false
	}
	var buf [64]byte
	return fastDateTime(append(buf[:0], s...))
}
