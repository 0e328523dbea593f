package validate

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime/internal/jsontext"
	"github.com/cometgen/cometgen/runtime/internal/rfc3339"
)

// The fast path on JSON text.
//
// ValidateJSON used to decode every message into Go values (maps, slices,
// strings) for the fast path to look at, which cost more than the check
// itself. acceptsJSON asks the fast path's question of the JSON text
// directly, in one walk and without allocating: it answers valid only when
// the text is strict JSON that encoding/json decodes into a value the fast
// path accepts (fastNode.check says fastValid). Whenever it is not sure,
// it answers "ask", and ValidateJSON decodes and validates as before. It is
// not sure of: strings with an escape or invalid UTF-8, numbers outside
// float64, a property seen twice, properties counted (minProperties,
// maxProperties) in an object with undeclared properties, uniqueItems,
// const, enum and format on objects and arrays, and data nested deeper
// than MaxDepth.

// anyJSON is the schema true, walked: it only checks the syntax.
var anyJSON = &fastNode{minLen: -1, maxLen: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}

// acceptsJSON reports whether data is JSON text in which the library would
// find no violation. False means: decode it and ask again.
func (n *fastNode) acceptsJSON(data []byte) (ok bool) {
	if n == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	t := jsontext.NewReader(data)
	t.Space()
	return n.checkJSON(&t, 0) && t.AtEnd()
}

// checkJSON reads one value and reports whether it is valid; false stops
// the walk (invalid, or not sure).
func (n *fastNode) checkJSON(t *jsontext.Reader, depth int) bool {
	switch n.always {
	case 1:
		n = anyJSON
	case -1:
		return false
	}
	switch t.Peek() {
	case '{':
		return n.checkJSONObject(t, depth)
	case '[':
		return n.checkJSONArray(t, depth)
	case '"':
		start, end, ok := t.String()
		v := t.Bytes()[start:end]
		if !ok || n.types != 0 && n.types&tString == 0 {
			return false
		}
		if (n.hasConst || n.hasEnum) && !n.allows(string(v)) {
			return false
		}
		if n.format != nil && !(n.dateTime && fastDateTime(v)) && !n.format(string(v)) {
			return false
		}
		if n.minLen >= 0 || n.maxLen >= 0 {
			l := utf8.RuneCount(v)
			if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
				return false
			}
		}
		return n.pattern == nil || n.pattern.Match(v)
	case 't', 'f', 'n':
		var x any
		var typ uint8
		switch {
		case t.Word("true"):
			x, typ = true, tBool
		case t.Word("false"):
			x, typ = false, tBool
		case t.Word("null"):
			x, typ = nil, tNull
		default:
			return false
		}
		return n.checkScalar(x, typ)
	}
	text, ok := t.Number()
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return false // out of range: encoding/json fails on it
	}
	return n.checkJSONNumber(v)
}

// checkJSONNumber judges the number v read from JSON text (finite).
func (n *fastNode) checkJSONNumber(v float64) bool {
	typ := tNumber
	if n.types&tInteger != 0 && v == math.Trunc(v) {
		typ |= tInteger
	}
	if n.hasConst || n.hasEnum || n.format != nil {
		if !n.checkScalar(v, typ) {
			return false
		}
	} else if n.types != 0 && n.types&typ == 0 {
		return false
	}
	return n.checkNumber(v) == fastValid
}

// checkScalar checks a null, boolean or number x of the JSON type typ
// against type, const, enum and format.
func (n *fastNode) checkScalar(x any, typ uint8) bool {
	if n.types != 0 && n.types&typ == 0 || !n.allows(x) {
		return false
	}
	return n.format == nil || n.format(x)
}

// checkJSONObject reads an object.
func (n *fastNode) checkJSONObject(t *jsontext.Reader, depth int) bool {
	if depth >= MaxDepth || n.types != 0 && n.types&tObject == 0 ||
		n.hasConst || n.hasEnum || n.format != nil || len(n.props) > 64 || n.reqOther {
		return false
	}
	t.Next('{')
	var seen uint64 // the declared properties present, by index
	count, undeclared := 0, false
	if !t.Next('}') {
		for {
			t.Space()
			start, end, ok := t.String()
			if !ok || !t.Next(':') {
				return false
			}
			k := t.Bytes()[start:end]
			t.Space()
			sub := anyJSON
			if i := n.propIndexOf(k); i >= 0 {
				if seen&(1<<i) != 0 {
					return false // the last one counts: let the library see it
				}
				seen |= 1 << i
				sub = n.props[i].node
			} else {
				if n.addlFalse {
					return false
				}
				undeclared = true
				if n.addl != nil {
					sub = n.addl
				}
			}
			count++
			if !sub.checkJSON(t, depth+1) {
				return false
			}
			if t.Next('}') {
				break
			}
			if !t.Next(',') {
				return false
			}
		}
	}
	if n.minProps >= 0 || n.maxProps >= 0 {
		if undeclared {
			return false // one of them may be there twice, and counted once
		}
		if n.minProps >= 0 && count < n.minProps || n.maxProps >= 0 && count > n.maxProps {
			return false
		}
	}
	return seen&n.reqMask == n.reqMask
}

// propIndexOf returns the index of the declared property k, or -1.
func (n *fastNode) propIndexOf(k []byte) int {
	for i := range n.props {
		if n.props[i].name == string(k) {
			return i
		}
	}
	return -1
}

// checkJSONArray reads an array.
func (n *fastNode) checkJSONArray(t *jsontext.Reader, depth int) bool {
	if depth >= MaxDepth || n.types != 0 && n.types&tArray == 0 ||
		n.hasConst || n.hasEnum || n.format != nil || n.unique {
		return false
	}
	t.Next('[')
	items := n.items
	if items == nil {
		items = anyJSON
	}
	count := 0
	if !t.Next(']') {
		for {
			t.Space()
			if !items.checkJSON(t, depth+1) {
				return false
			}
			count++
			if t.Next(']') {
				break
			}
			if !t.Next(',') {
				return false
			}
		}
	}
	return (n.minItems < 0 || count >= n.minItems) && (n.maxItems < 0 || count <= n.maxItems)
}

// fastDateTime reports whether s is a date-time the library's date-time
// format accepts, written as nearly everyone writes one (package rfc3339).
// False means: ask the library, whose check parses the date with package
// time (which takes longer than the rest of a chat message's validation).
func fastDateTime(s []byte) bool {
	_, ok := rfc3339.Parse(s)
	return ok
}
