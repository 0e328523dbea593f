package validate

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The fast path.
//
// Most message schemas use a small part of JSON Schema: types, required
// and known properties, string lengths and patterns, number ranges, enums.
// For such a schema the loader also builds a fastNode tree, which answers
// the one question the gateway asks of every message, "is it valid?",
// without the library's allocations. It only ever answers valid when the
// library would find no violation; on anything else (a violation, or a
// value it cannot judge exactly) the library validates again and says
// what is wrong, so the violations are always the library's.
//
// The subset (anything else, $ref and $defs included, leaves the schema to
// the library alone):
//
//   - $schema at the root: none (draft 2020-12, formats asserted, as the
//     library does when $schema is absent), 2020-12 (formats not asserted)
//     or draft-07 (formats asserted);
//   - type, enum and const of scalars, format (asserted with the library's
//     own functions when the library asserts it);
//   - required, properties, additionalProperties (a boolean or a schema),
//     minProperties, maxProperties;
//   - items (a schema), minItems, maxItems, uniqueItems;
//   - minLength, maxLength (code points), pattern (Go regexp, unanchored);
//   - minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers),
//     multipleOf (a decimal of at most 17 significant digits);
//   - the annotations title, description, default, examples, $comment,
//     deprecated, readOnly, writeOnly, and x-* keys.
//
// Numbers are judged as the library judges them: it compares the shortest
// decimal of a float64 (fmt.Sprint) with the keyword's decimal, exactly.

// fastVerdict is what the fast path makes of a value.
type fastVerdict uint8

const (
	fastValid   fastVerdict = iota // the library finds no violation
	fastInvalid                    // the library finds a violation
	fastUnknown                    // ask the library
)

// The JSON types, as a bit set.
const (
	tNull uint8 = 1 << iota
	tBool
	tInteger
	tNumber
	tString
	tArray
	tObject
)

var fastTypes = map[string]uint8{
	"null": tNull, "boolean": tBool, "integer": tInteger, "number": tNumber,
	"string": tString, "array": tArray, "object": tObject,
}

// fastNode is a schema of the subset, compiled.
type fastNode struct {
	always int8  // 1: the schema true; -1: the schema false; 0: its keywords decide
	types  uint8 // the types allowed; 0: any

	format   func(any) bool // an asserted format, or nil
	dateTime bool           // the format is date-time (fastDateTime)
	hasConst bool
	konst    fastScalar
	hasEnum  bool
	enum     []fastScalar

	// strings
	minLen, maxLen int // -1: none
	pattern        *Pattern

	// numbers
	minimum, maximum, exclMin, exclMax *fastLimit
	multipleOf                         *fastMultiple

	// objects
	minProps, maxProps int // -1: none
	required           []string
	props              []fastProp
	propIndex          map[string]*fastNode // props by name, when there are many
	addlFalse          bool                 // additionalProperties: false
	addl               *fastNode            // additionalProperties: a schema
	reqMask            uint64               // the required properties, by index in props (fastjson.go)
	reqOther           bool                 // a required property is not in props, or past the mask

	// arrays
	minItems, maxItems int // -1: none
	unique             bool
	items              *fastNode
}

type fastProp struct {
	name string
	node *fastNode
}

// fastScalar is a scalar of an enum or a const.
type fastScalar struct {
	kind  uint8 // tNull, tBool, tNumber or tString
	b     bool
	s     string
	f     float64
	exact bool // a number some float64's shortest decimal equals
}

// fastLimit is a number a number is compared with: the library compares
// the shortest decimal d of a float64 v with the limit's decimal L. f is
// the float64 nearest L; as rounding is monotonic, v < f means d < L and
// v > f means d > L; when v == f, d is the shortest decimal of f and eq is
// how it compares with L (0 when L is that decimal).
type fastLimit struct {
	f  float64
	eq int
}

// cmp compares the shortest decimal of v with the limit, as big.Rat.Cmp.
func (l *fastLimit) cmp(v float64) int {
	switch {
	case v < l.f:
		return -1
	case v > l.f:
		return 1
	}
	return l.eq
}

// maxFastUnique bounds the arrays whose uniqueItems the fast path checks:
// up to it, the library compares every pair in the same order (beyond, it
// hashes every item, which fails on values it cannot hash).
const maxFastUnique = 20

// newFastPath returns the fast validator of the schema data (JSON), or nil
// when the schema is not within the subset.
func newFastPath(data []byte) (n *fastNode) {
	defer func() {
		if recover() != nil {
			n = nil
		}
	}()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // as the library decodes schemas
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	if _, err := dec.Token(); err == nil {
		return nil // something after the schema: the library's business
	}
	assertFormat := true // no $schema: the library asserts formats (its meta-schema is unset)
	if m, ok := doc.(map[string]any); ok {
		if v, ok := m["$schema"]; ok {
			s, ok := v.(string)
			if !ok {
				return nil
			}
			switch fastDraft(s) {
			case 2020:
				assertFormat = false
			case 7:
				assertFormat = true
			default:
				return nil
			}
		}
	}
	b := fastBuilder{assertFormat: assertFormat}
	return b.node(doc, true)
}

// fastDraft returns the draft the $schema url names, as the library finds
// it (2020 or 7), or 0 for another.
func fastDraft(url string) int {
	if strings.HasPrefix(url, "http://") {
		url = "https://" + strings.TrimPrefix(url, "http://")
	}
	if strings.HasSuffix(url, "#") || strings.HasSuffix(url, "#/") {
		url = url[:strings.IndexByte(url, '#')]
	}
	switch url {
	case "https://json-schema.org/schema", "https://json-schema.org/draft/2020-12/schema":
		return 2020
	case "https://json-schema.org/draft-07/schema":
		return 7
	}
	return 0
}

type fastBuilder struct {
	assertFormat bool
}

// node compiles the schema s, or returns nil when it is outside the subset.
func (b *fastBuilder) node(s any, root bool) *fastNode {
	switch s := s.(type) {
	case bool:
		if s {
			return &fastNode{always: 1}
		}
		return &fastNode{always: -1}
	case map[string]any:
		n := &fastNode{minLen: -1, maxLen: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}
		for k, v := range s {
			if !b.keyword(n, k, v, root) {
				return nil
			}
		}
		for _, r := range n.required {
			i := slices.IndexFunc(n.props, func(p fastProp) bool { return p.name == r })
			if i < 0 || i >= 64 {
				n.reqOther = true
				continue
			}
			n.reqMask |= 1 << i
		}
		if len(n.props) > 8 {
			n.propIndex = make(map[string]*fastNode, len(n.props))
			for _, p := range n.props {
				n.propIndex[p.name] = p.node
			}
		}
		return n
	}
	return nil
}

// keyword compiles the keyword k (value v) into n, and reports whether it
// is within the subset.
func (b *fastBuilder) keyword(n *fastNode, k string, v any, root bool) bool {
	switch k {
	case "title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly":
		return true
	case "$schema":
		return root // checked by newFastPath
	case "type":
		switch v := v.(type) {
		case string:
			t, ok := fastTypes[v]
			n.types = t
			return ok
		case []any:
			for _, e := range v {
				s, _ := e.(string)
				t, ok := fastTypes[s]
				if !ok {
					return false
				}
				n.types |= t
			}
			return true
		}
		return false
	case "enum":
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return false
		}
		n.hasEnum = true
		for _, e := range list {
			sc, ok := newFastScalar(e)
			if !ok {
				return false
			}
			n.enum = append(n.enum, sc)
		}
		return true
	case "const":
		sc, ok := newFastScalar(v)
		n.hasConst, n.konst = true, sc
		return ok
	case "format":
		f, ok := v.(string)
		if ok && b.assertFormat {
			n.format = jsonschema.Formats[f] // the library's own check, or none
			n.dateTime = f == "date-time" && n.format != nil
		}
		return ok
	case "minLength", "maxLength", "minProperties", "maxProperties", "minItems", "maxItems":
		i, ok := fastInt(v)
		switch k {
		case "minLength":
			n.minLen = i
		case "maxLength":
			n.maxLen = i
		case "minProperties":
			n.minProps = i
		case "maxProperties":
			n.maxProps = i
		case "minItems":
			n.minItems = i
		case "maxItems":
			n.maxItems = i
		}
		return ok
	case "pattern":
		s, ok := v.(string)
		if !ok {
			return false
		}
		re, err := CompilePattern(s) // as the library does: regexp.Compile
		n.pattern = re
		return err == nil
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		l, ok := newFastLimit(v)
		switch k {
		case "minimum":
			n.minimum = l
		case "maximum":
			n.maximum = l
		case "exclusiveMinimum":
			n.exclMin = l
		case "exclusiveMaximum":
			n.exclMax = l
		}
		return ok
	case "multipleOf":
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		n.multipleOf, ok = newFastMultiple(string(num))
		return ok
	case "required":
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return false
			}
			n.required = append(n.required, s)
		}
		return true
	case "properties":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for name, sub := range m {
			sn := b.node(sub, false)
			if sn == nil {
				return false
			}
			n.props = append(n.props, fastProp{name, sn})
		}
		return true
	case "additionalProperties":
		if f, ok := v.(bool); ok && !f {
			n.addlFalse = true
			return true
		}
		n.addl = b.node(v, false)
		return n.addl != nil
	case "items":
		n.items = b.node(v, false)
		return n.items != nil
	case "uniqueItems":
		u, ok := v.(bool)
		n.unique = u
		return ok
	}
	return isExtension(k)
}

// fastInt reads a count, as the library does (json.Number to float64 to
// int).
func fastInt(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := num.Float64()
	if err != nil || f < 0 || f > 1<<53 || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
}

// newFastLimit reads a number a number is compared with.
func newFastLimit(v any) (*fastLimit, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(string(num))
	if !ok {
		return nil, false
	}
	f, _ := r.Float64()
	if math.IsInf(f, 0) {
		return nil, false
	}
	d, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		return nil, false
	}
	return &fastLimit{f: f, eq: d.Cmp(r)}, true
}

// newFastScalar reads a scalar of an enum or const.
func newFastScalar(v any) (fastScalar, bool) {
	switch v := v.(type) {
	case nil:
		return fastScalar{kind: tNull}, true
	case bool:
		return fastScalar{kind: tBool, b: v}, true
	case string:
		return fastScalar{kind: tString, s: v}, true
	case json.Number:
		l, ok := newFastLimit(v)
		if !ok {
			return fastScalar{}, false
		}
		return fastScalar{kind: tNumber, f: l.f, exact: l.eq == 0}, true
	}
	return fastScalar{}, false // an object or an array
}

// equals reports whether the value v equals the scalar, as the library's
// equals does.
func (sc *fastScalar) equals(v any) bool {
	switch v := v.(type) {
	case nil:
		return sc.kind == tNull
	case bool:
		return sc.kind == tBool && sc.b == v
	case string:
		return sc.kind == tString && sc.s == v
	case float64:
		// Only a limit that is some float64's shortest decimal can equal
		// one: v's.
		return sc.kind == tNumber && sc.exact && v == sc.f
	}
	return false
}

// accepts reports whether the library would find no violation in v (a
// value checkData accepts). False means: ask the library.
func (n *fastNode) accepts(v any) (ok bool) {
	if n == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return n.check(v) == fastValid
}

// check judges v. It stops at the first value it does not find valid.
func (n *fastNode) check(x any) fastVerdict {
	switch n.always {
	case 1:
		return fastValid
	case -1:
		return fastInvalid
	}
	var t uint8
	switch v := x.(type) {
	case nil:
		t = tNull
	case bool:
		t = tBool
	case string:
		t = tString
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fastUnknown // the library fails on them
		}
		t = tNumber
		if n.types&tInteger != 0 && v == math.Trunc(v) {
			t |= tInteger
		}
	case map[string]any:
		t = tObject
	case []any:
		t = tArray
	default:
		return fastUnknown // json.Number, int, ...: the library's business
	}
	if n.types != 0 && n.types&t == 0 {
		return fastInvalid
	}
	if !n.allows(x) {
		return fastInvalid
	}
	if n.format != nil && !n.format(x) {
		return fastInvalid
	}
	switch v := x.(type) {
	case string:
		return n.checkString(v)
	case float64:
		return n.checkNumber(v)
	case map[string]any:
		return n.checkObject(v)
	case []any:
		return n.checkArray(v)
	}
	return fastValid
}

// allows reports whether const and enum allow the value x.
func (n *fastNode) allows(x any) bool {
	if n.hasConst && !n.konst.equals(x) {
		return false
	}
	if !n.hasEnum {
		return true
	}
	for i := range n.enum {
		if n.enum[i].equals(x) {
			return true
		}
	}
	return false
}

func (n *fastNode) checkString(v string) fastVerdict {
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(v)
		if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return fastInvalid
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(v) {
		return fastInvalid
	}
	return fastValid
}

func (n *fastNode) checkNumber(v float64) fastVerdict {
	if n.minimum != nil && n.minimum.cmp(v) < 0 ||
		n.exclMin != nil && n.exclMin.cmp(v) <= 0 ||
		n.maximum != nil && n.maximum.cmp(v) > 0 ||
		n.exclMax != nil && n.exclMax.cmp(v) >= 0 {
		return fastInvalid
	}
	if n.multipleOf != nil && !n.multipleOf.divides(v) {
		return fastInvalid
	}
	return fastValid
}

// fastMultiple is the value of multipleOf, m×10^j (m not a multiple of
// 10). The library divides the shortest decimal of a number by it, and
// wants an integer.
type fastMultiple struct {
	m    uint64
	j    int
	mInt float64 // m×10^j when it is an integer below 2^53, else 0
}

// newFastMultiple reads the multipleOf num (JSON number text).
func newFastMultiple(num string) (*fastMultiple, bool) {
	r, ok := new(big.Rat).SetString(num)
	if !ok || r.Sign() <= 0 {
		return nil, false
	}
	mant, exp, _ := strings.Cut(strings.ToLower(num), "e")
	j := 0
	if exp != "" {
		e, err := strconv.Atoi(exp)
		if err != nil || e < -400 || e > 400 {
			return nil, false
		}
		j = e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	j -= len(frac)
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		j++
	}
	if len(digits) == 0 || len(digits) > 17 {
		return nil, false
	}
	m, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return nil, false
	}
	f := &fastMultiple{m: m, j: j}
	if j >= 0 && j <= 16 {
		x := float64(m) * math.Pow10(j)
		if x < 1<<53 {
			f.mInt = x
		}
	}
	return f, true
}

// divides reports whether the shortest decimal of v divided by the
// multiple is an integer.
func (f *fastMultiple) divides(v float64) bool {
	if v == 0 {
		return true
	}
	if f.mInt != 0 && math.Abs(v) < 1<<53 {
		// Below 2^53 the shortest decimal of an integral v is v, and that
		// of any other v is no integer, so no multiple of an integer.
		return v == math.Trunc(v) && math.Mod(v, f.mInt) == 0
	}
	// The shortest decimal of v: D×10^k.
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], math.Abs(v), 'e', -1, 64)
	var d uint64
	k, i, point := 0, 0, false
	for ; i < len(b) && b[i] != 'e'; i++ {
		if b[i] == '.' {
			point = true
			continue
		}
		d = d*10 + uint64(b[i]-'0')
		if point {
			k--
		}
	}
	exp, neg := 0, false
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '-':
			neg = true
		case c >= '0' && c <= '9':
			exp = exp*10 + int(c-'0')
		}
	}
	if neg {
		exp = -exp
	}
	k += exp
	for d%10 == 0 {
		d /= 10
		k++
	}
	// d×10^k / (m×10^j) = d/m × 10^e
	e := k - f.j
	if e >= 0 { // m divides d×10^e?
		r := d % f.m
		for ; e > 0 && r != 0; e-- {
			r = r * 10 % f.m
		}
		return r == 0
	}
	div := f.m // m×10^-e divides d?
	for ; e < 0; e++ {
		if div > d/10 {
			return false // div×10 > d
		}
		div *= 10
	}
	return d%div == 0
}

func (n *fastNode) checkObject(v map[string]any) fastVerdict {
	if n.minProps >= 0 && len(v) < n.minProps || n.maxProps >= 0 && len(v) > n.maxProps {
		return fastInvalid
	}
	for _, r := range n.required {
		if _, ok := v[r]; !ok {
			return fastInvalid
		}
	}
	if !n.addlFalse && n.addl == nil {
		for _, p := range n.props {
			if pv, ok := v[p.name]; ok {
				if r := p.node.check(pv); r != fastValid {
					return r
				}
			}
		}
		return fastValid
	}
	for k, pv := range v {
		sub := n.prop(k)
		if sub == nil {
			if n.addlFalse {
				return fastInvalid
			}
			sub = n.addl
		}
		if r := sub.check(pv); r != fastValid {
			return r
		}
	}
	return fastValid
}

// prop returns the schema of the property k, or nil.
func (n *fastNode) prop(k string) *fastNode {
	if n.propIndex != nil {
		return n.propIndex[k]
	}
	for i := range n.props {
		if n.props[i].name == k {
			return n.props[i].node
		}
	}
	return nil
}

func (n *fastNode) checkArray(v []any) fastVerdict {
	if n.minItems >= 0 && len(v) < n.minItems || n.maxItems >= 0 && len(v) > n.maxItems {
		return fastInvalid
	}
	if n.unique && len(v) > 1 {
		if len(v) > maxFastUnique {
			return fastUnknown
		}
		for i := 1; i < len(v); i++ {
			for j := 0; j < i; j++ {
				switch fastEqual(v[i], v[j], 0) {
				case fastValid: // equal
					return fastInvalid
				case fastUnknown:
					return fastUnknown
				}
			}
		}
	}
	if n.items != nil {
		for _, e := range v {
			if r := n.items.check(e); r != fastValid {
				return r
			}
		}
	}
	return fastValid
}

// fastEqual compares two values as the library's equals does: fastValid
// when equal, fastInvalid when not, fastUnknown when it cannot tell.
func fastEqual(a, b any, depth int) fastVerdict {
	if depth > MaxDepth {
		return fastUnknown
	}
	same := func(eq bool) fastVerdict {
		if eq {
			return fastValid
		}
		return fastInvalid
	}
	switch a := a.(type) {
	case nil:
		switch b.(type) {
		case nil:
			return fastValid
		case bool, string, float64, []any, map[string]any:
			return fastInvalid
		}
	case bool:
		switch b := b.(type) {
		case bool:
			return same(a == b)
		case nil, string, float64, []any, map[string]any:
			return fastInvalid
		}
	case string:
		switch b := b.(type) {
		case string:
			return same(a == b)
		case nil, bool, float64, []any, map[string]any:
			return fastInvalid
		}
	case float64:
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return fastUnknown
		}
		switch b := b.(type) {
		case float64:
			if math.IsNaN(b) || math.IsInf(b, 0) {
				return fastUnknown
			}
			// Distinct float64s have distinct shortest decimals; 0 and -0
			// are both 0.
			return same(a == b)
		case nil, bool, string, []any, map[string]any:
			return fastInvalid
		}
	case []any:
		switch b := b.(type) {
		case []any:
			if len(a) != len(b) {
				return fastInvalid
			}
			for i := range a {
				if r := fastEqual(a[i], b[i], depth+1); r != fastValid {
					return r
				}
			}
			return fastValid
		case nil, bool, string, float64, map[string]any:
			return fastInvalid
		}
	case map[string]any:
		switch b := b.(type) {
		case map[string]any:
			if len(a) != len(b) {
				return fastInvalid
			}
			// The library walks the keys in map order: it must not be
			// able to meet a value it fails on (NaN) before the difference
			// found here.
			verdict := fastValid
			for k, av := range a {
				bv, ok := b[k]
				if !ok {
					verdict = max(verdict, fastInvalid)
					continue
				}
				verdict = max(verdict, fastEqual(av, bv, depth+1))
			}
			return verdict
		case nil, bool, string, float64, []any:
			return fastInvalid
		}
	}
	return fastUnknown
}

// isExtension reports whether key is an x-* extension keyword.
func isExtension(key string) bool { return strings.HasPrefix(key, "x-") }
