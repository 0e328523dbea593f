package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fastSchema compiles the JSON Schema text; nil when it does not compile.
func fastSchema(t testing.TB, schemaJSON string) *Schema {
	t.Helper()
	s, err := Compile([]byte(schemaJSON))
	if err != nil {
		return nil
	}
	return s
}

// libraryOnly returns s validated by the library alone, as before the fast
// path.
func libraryOnly(s *Schema) *Schema { return &Schema{doc: s.doc, s: s.s} }

func fastOf(s *Schema) *fastNode { return s.fast }

// fastTally counts the verdicts of the fast path in a differential test.
type fastTally struct{ valid, invalid, unknown, slow, jsonValid int }

// compareFast checks the value v against s with and without the fast path:
// a fast "valid" must be the library's no violation, a fast "invalid" some
// violation, and Validate must return what the library returns.
func compareFast(t testing.TB, s *Schema, v any, tally *fastTally) {
	t.Helper()
	lib := libraryOnly(s).Validate(v)
	got := s.Validate(v)
	if (len(got) == 0) != (len(lib) == 0) {
		t.Fatalf("schema %s, value %s: fast path %v, library %v", s.doc, show(v), got, lib)
	}
	// The same violations (but for the library's own map order, in the
	// list of additional properties).
	if !strings.Contains(show(lib), "additionalProperties") && !reflect.DeepEqual(got, lib) {
		t.Fatalf("schema %s, value %s: violations %v, library %v", s.doc, show(v), got, lib)
	}
	f := fastOf(s)
	if f == nil {
		if tally != nil {
			tally.slow++
		}
		return
	}
	if data, err := json.Marshal(v); err == nil {
		compareFastJSON(t, s, data, tally)
	}
	if checkData(v, 0) != nil {
		return // never reaches the fast path
	}
	switch f.check(v) {
	case fastValid:
		if len(lib) != 0 {
			t.Fatalf("schema %s, value %s: fast valid, library %v", s.doc, show(v), lib)
		}
		if tally != nil {
			tally.valid++
		}
	case fastInvalid:
		if len(lib) == 0 {
			t.Fatalf("schema %s, value %s: fast invalid, library valid", s.doc, show(v))
		}
		if tally != nil {
			tally.invalid++
		}
	default:
		if tally != nil {
			tally.unknown++
		}
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return strings.ReplaceAll(strings.TrimSpace(reflect.ValueOf(v).String()), "\n", " ")
	}
	return string(b)
}

// TestFastPathSubset checks which schemas take the fast path.
func TestFastPathSubset(t *testing.T) {
	for _, tc := range []struct {
		schema string
		fast   bool
	}{
		{`{}`, true},
		{`{"properties": {"a": true, "b": false}, "items": false}`, true},
		{`{"type": "object", "required": ["user"], "additionalProperties": false, "properties": {"user": {"type": "string", "maxLength": 32}, "sent": {"type": "string", "format": "date-time"}}}`, true},
		{`{"type": ["string", "null"], "enum": ["a", null, 1, true], "description": "d", "title": "t", "examples": ["a"], "default": "a", "$comment": "c", "deprecated": true, "readOnly": false, "writeOnly": false, "x-go-type": "X"}`, true},
		{`{"type": "array", "items": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10, "multipleOf": 2}, "minItems": 1, "maxItems": 3, "uniqueItems": true}`, true},
		{`{"type": "object", "additionalProperties": {"type": "number"}, "minProperties": 1, "maxProperties": 2}`, true},
		{`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string", "format": "email"}`, true},
		{`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "string", "format": "email"}`, true},
		{`{"const": "x", "pattern": "^x$"}`, true},
		{`{"multipleOf": 0.5}`, true},
		{`{"multipleOf": 18446744073709551615}`, false},
		{`{"const": {"a": 1}}`, false},
		{`{"enum": [[1]]}`, false},
		{`{"$schema": "https://json-schema.org/draft/2019-09/schema"}`, false},
		{`{"$defs": {"A": {"type": "string"}}, "type": "string"}`, false},
		{`{"$defs": {"A": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/A"}}}`, false},
		{`{"anyOf": [{"type": "string"}, {"type": "null"}]}`, false},
		{`{"allOf": [{"type": "string"}]}`, false},
		{`{"oneOf": [{"type": "string"}]}`, false},
		{`{"not": {"type": "string"}}`, false},
		{`{"if": {"type": "string"}, "then": {"minLength": 1}}`, false},
		{`{"patternProperties": {"^a": {"type": "string"}}}`, false},
		{`{"propertyNames": {"maxLength": 3}}`, false},
		{`{"dependentRequired": {"a": ["b"]}}`, false},
		{`{"prefixItems": [{"type": "string"}]}`, false},
		{`{"contains": {"type": "string"}}`, false},
		{`{"unevaluatedProperties": false}`, false},
		{`{"properties": {"a": {"properties": {"b": {"anyOf": [true]}}}}}`, false},
		{`{"nullable": true}`, false},
		{`{"contentMediaType": "application/json"}`, false},
		{`{"properties": {"a": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}}`, false},
	} {
		s := fastSchema(t, tc.schema)
		if s == nil {
			t.Errorf("%s: refused by the loader", tc.schema)
			continue
		}
		if got := fastOf(s) != nil; got != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.schema, got, tc.fast)
		}
	}
}

// fastTable are schemas and values of the differential tests.
var (
	fastTableSchemas = []string{
		`{}`,
		`{"type": "object", "required": ["user", "text", "room"], "additionalProperties": false, "properties": {"user": {"type": "string", "minLength": 1, "maxLength": 32}, "text": {"type": "string", "minLength": 1, "maxLength": 5}, "room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}, "sent": {"type": "string", "format": "date-time"}}}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "properties": {"sent": {"format": "date-time"}}}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"sent": {"format": "date-time"}, "n": {"type": "integer"}}}`,
		`{"type": "integer"}`, `{"type": "number"}`, `{"type": ["integer", "string"]}`, `{"type": ["null", "boolean"]}`,
		`{"minimum": 1, "maximum": 3}`, `{"exclusiveMinimum": 1, "exclusiveMaximum": 3}`,
		`{"minimum": 0.1}`, `{"maximum": 0.1}`, `{"exclusiveMinimum": 0.1}`, `{"exclusiveMaximum": 0.3}`,
		`{"minimum": 9007199254740993}`, `{"maximum": 9007199254740993}`, `{"exclusiveMaximum": 9007199254740993}`,
		`{"minimum": 18446744073709551615}`, `{"maximum": -18446744073709551615}`,
		`{"multipleOf": 3}`, `{"multipleOf": 1}`, `{"type": "integer", "multipleOf": 2, "minimum": -4}`,
		`{"multipleOf": 0.01}`, `{"multipleOf": 0.1}`, `{"multipleOf": 2.5}`, `{"multipleOf": 1e-7}`, `{"multipleOf": 7e20}`,
		`{"multipleOf": 1e300}`, `{"multipleOf": 4e-324}`, `{"multipleOf": 12345678901234567}`, `{"multipleOf": 3e-5}`,
		`{"enum": ["a", 1, 1.5, null, false, 9007199254740993]}`, `{"const": 0}`, `{"const": "é"}`, `{"const": null}`, `{"const": true}`,
		`{"minLength": 2, "maxLength": 3}`, `{"pattern": "é"}`, `{"pattern": "^a"}`, `{"pattern": "b$"}`, `{"pattern": "(?i)AB"}`,
		`{"format": "email"}`, `{"format": "ipv4"}`, `{"format": "no-such-format"}`,
		`{"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}`,
		`{"uniqueItems": true}`, `{"uniqueItems": false}`, `{"items": false}`, `{"items": {"uniqueItems": true}}`,
		`{"required": ["a", "é"]}`, `{"minProperties": 1, "maxProperties": 2}`,
		`{"properties": {"a": false, "b": true}}`, `{"additionalProperties": {"type": "string"}}`,
		`{"properties": {"a": {"type": "integer"}}, "additionalProperties": false}`,
		`{"properties": {"a": {}, "b": {}, "c": {}, "d": {}, "e": {}, "f": {}, "g": {}, "h": {}, "i": {"type": "string"}}, "additionalProperties": false}`,
		`{"properties": {"a/b": {"type": "string"}, "~": {"type": "string"}}}`,
	}
	fastTableValues = []string{
		`null`, `true`, `false`, `0`, `-0`, `1`, `1.0`, `1.5`, `2`, `3`, `4`, `6`, `-4`, `-6`, `0.1`, `0.3`, `0.30000000000000004`,
		`9007199254740992`, `9007199254740993`, `9007199254740994`, `18446744073709551616`, `-18446744073709551616`, `1e21`, `7e21`, `1e300`, `-2e300`, `5e-324`,
		`0.07`, `1.1`, `19.99`, `-19.99`, `2.5e-7`, `1e-7`, `3e-7`, `0.00009`, `1e-320`, `123456789012345670`, `24691357802469134`,
		`""`, `"a"`, `"ab"`, `"abc"`, `"abcd"`, `"é"`, `"éé"`, `"日本語"`, `"AB"`, `"xab"`, `"2026-11-25T13:00:00Z"`, `"2026-13-25T13:00:00Z"`,
		`"a@b.c"`, `"not an email"`, `"1.2.3.4"`, `"1.2.3"`,
		`[]`, `["a"]`, `["a", "b"]`, `["a", "a"]`, `[1, 1.0]`, `[0, -0]`, `[1, "1"]`, `[{"a": 1}, {"a": 1}]`, `[{"a": 1}, {"a": 2}]`, `[[1, 2], [1, 2]]`, `[[1], [2]]`, `["a", "b", "c", "d"]`, `[null, false]`,
		`{}`, `{"a": 1}`, `{"a": "x"}`, `{"a": 1, "é": 2}`, `{"a": 1, "b": 2, "c": 3}`, `{"i": "x"}`, `{"i": 1}`, `{"z": 1}`, `{"a/b": 1}`, `{"~": "x"}`,
		`{"user": "alice", "text": "hello", "room": "lobby", "sent": "2026-11-25T13:00:00Z"}`,
		`{"user": "alice", "text": "hello", "room": "lobby", "sent": "yesterday"}`,
		`{"user": "alice", "text": "hello!", "room": "lobby"}`,
		`{"user": "alice", "text": "hello", "room": "Lobby"}`,
		`{"user": "alice", "text": "hello"}`,
		`{"user": "alice", "text": "hello", "room": "lobby", "extra": 1}`,
		`{"sent": "2026-11-25T13:00:00Z", "n": 1.0}`, `{"sent": "x", "n": 1}`, `{"n": 1.5}`,
	}
)

// TestFastPathTable runs every table schema on every table value, with and
// without the fast path.
func TestFastPathTable(t *testing.T) {
	var tally fastTally
	for _, sj := range fastTableSchemas {
		s := fastSchema(t, sj)
		if s == nil {
			t.Fatalf("%s: refused by the loader", sj)
		}
		if fastOf(s) == nil {
			t.Errorf("%s: not on the fast path", sj)
			continue
		}
		for _, vj := range fastTableValues {
			v, err := decodeData(json.RawMessage(vj))
			if err != nil {
				t.Fatal(err)
			}
			compareFast(t, s, v, &tally)
		}
	}
	t.Logf("%+v", tally)
	if tally.unknown != 0 {
		t.Errorf("the fast path could not judge %d decoded values", tally.unknown)
	}
}

// TestFastPathNumbers compares the fast path's number comparisons and
// multipleOf with the library's arithmetic (big.Rat of fmt.Sprint), on
// limits the loader would not write too.
func TestFastPathNumbers(t *testing.T) {
	limits := []string{"0", "-0", "1", "-1", "0.1", "0.3", "0.10000000000000000001", "0.09999999999999999999",
		"9007199254740993", "-9007199254740993", "18446744073709551615", "1e-400", "-1e-400", "5e-324", "1e21",
		"123456789012345678901234567890", "1.7976931348623157e308", "2.5", "19.99", "1e-7", "3e-5", "0.01", "7e20",
		"12345678901234567", "1e300", "4e-324", "100", "1E2", "1.50"}
	rnd := rand.New(rand.NewSource(2))
	var values []float64
	for _, l := range limits {
		f, _ := strconv.ParseFloat(l, 64)
		values = append(values, f, -f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1)), f*3, f*7, f/3, math.Trunc(f))
	}
	for range 2000 {
		values = append(values, math.Float64frombits(rnd.Uint64()), float64(rnd.Intn(2000)-1000)/100, float64(rnd.Int63()), rnd.NormFloat64()*1e6)
	}
	rat := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("%s: not a number", s)
		}
		return r
	}
	for _, l := range limits {
		lim, ok := newFastLimit(json.Number(l))
		if !ok {
			if f, _ := strconv.ParseFloat(l, 64); !math.IsInf(f, 0) {
				t.Errorf("%s: no limit", l)
			}
			continue
		}
		sc, _ := newFastScalar(json.Number(l))
		mul, mulOK := newFastMultiple(l)
		for _, v := range values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			d := rat(fmt.Sprint(v))
			if got, want := lim.cmp(v), d.Cmp(rat(l)); got != want {
				t.Errorf("cmp(%v, %s) = %d, want %d", v, l, got, want)
			}
			if got, want := sc.equals(v), d.Cmp(rat(l)) == 0; got != want {
				t.Errorf("equals(%v, %s) = %v, want %v", v, l, got, want)
			}
			if mulOK {
				if got, want := mul.divides(v), new(big.Rat).Quo(d, rat(l)).IsInt(); got != want {
					t.Errorf("multipleOf(%v, %s) = %v, want %v", v, l, got, want)
				}
			}
		}
	}
}

// TestFastPathConcurrent validates with one schema from many goroutines
// (for the race detector).
func TestFastPathConcurrent(t *testing.T) {
	s := fastSchema(t, fastTableSchemas[1])
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, vj := range fastTableValues {
				v, _ := decodeData(json.RawMessage(vj))
				s.Validate(v)
			}
		})
	}
	wg.Wait()
}

// TestFastPathOddValues checks values encoding/json does not produce but
// ValidateValue accepts: the fast path leaves them to the library.
func TestFastPathOddValues(t *testing.T) {
	for _, sj := range []string{`{"type": "integer"}`, `{"minimum": 1}`, `{"enum": [1]}`, `{"uniqueItems": true}`, `{"multipleOf": 3}`, `{}`} {
		s := fastSchema(t, sj)
		for _, v := range []any{json.Number("1"), 1, int64(2), uint8(3), float32(1.5), math.NaN(), math.Inf(1),
			[]any{math.NaN(), math.NaN()}, []any{1, 1}, float64(1 << 60), struct{}{}} {
			compareFast(t, s, v, nil)
		}
	}
	// The library compares objects in map order: it fails on the NaNs, or
	// finds the objects different first. The fast path leaves it to it.
	s := fastSchema(t, `{"uniqueItems": true}`)
	v := []any{map[string]any{"a": math.NaN(), "b": 1.0}, map[string]any{"a": math.NaN(), "b": 2.0}}
	if got := fastOf(s).check(v); got != fastUnknown {
		t.Errorf("fast verdict %d on objects holding NaN", got)
	}
}

// fastGen generates schemas of the subset (and a little beyond) and
// values, from a random source or from the bytes of a fuzz input.
type fastGen struct {
	r   *rand.Rand
	b   []byte
	pos int
}

func (g *fastGen) n(k int) int {
	if g.r != nil {
		return g.r.Intn(k)
	}
	if g.pos >= len(g.b) {
		return 0
	}
	x := int(g.b[g.pos])
	g.pos++
	return x % k
}

func (g *fastGen) pick(list ...string) string { return list[g.n(len(list))] }

var (
	fastGenKeys    = []string{"a", "b", "c", "é", "a/b", "user"}
	fastGenNumbers = []string{"0", "1", "2", "3", "-1", "1.5", "0.1", "0.3", "10", "100", "-7.5", "1e21", "7e21", "19.99", "0.07", "1e-3", "2.5",
		"9007199254740992", "9007199254740993", "18446744073709551615", "0.30000000000000004", "5e-324"}
	fastGenStrings = []string{"", "a", "ab", "abc", "é", "日本語", "AB", "2026-11-25T13:00:00Z", "2026-02-30T13:00:00Z",
		"a@b.c", "1.2.3.4", "a/b", "00", "user"}
	fastGenPatterns = []string{"^a", "b$", "^[a-z]+$", "é", "^.{2}$", `\d`, "(?i)ab", "^$", "a|b"}
)

// schema returns a JSON Schema as a Go value (json.Number for numbers).
func (g *fastGen) schema(depth int, root bool) any {
	switch g.n(12) {
	case 0:
		return true
	case 1:
		return false
	}
	m := map[string]any{}
	if root {
		switch g.n(6) {
		case 0:
			m["$schema"] = "https://json-schema.org/draft/2020-12/schema"
		case 1:
			m["$schema"] = "http://json-schema.org/draft-07/schema#"
		}
	}
	num := func() json.Number { return json.Number(g.pick(fastGenNumbers...)) }
	types := []string{"null", "boolean", "integer", "number", "string", "array", "object"}
	for range g.n(5) + 1 {
		switch g.n(24) {
		case 0:
			m["type"] = g.pick(types...)
		case 1:
			m["type"] = []any{g.pick(types...), g.pick(types...)}
		case 2:
			var list []any
			for range g.n(3) + 1 {
				list = append(list, g.scalar())
			}
			m["enum"] = list
		case 3:
			m["const"] = g.scalar()
		case 4:
			m["minLength"] = json.Number(g.pick("0", "1", "2", "3"))
		case 5:
			m["maxLength"] = json.Number(g.pick("0", "1", "2", "3"))
		case 6:
			m["pattern"] = g.pick(fastGenPatterns...)
		case 7:
			m[g.pick("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")] = num()
		case 8:
			m["multipleOf"] = json.Number(g.pick("1", "2", "3", "10", "0.5", "0.01", "0.1", "2.5", "1e-3", "7e20"))
		case 9:
			m["required"] = []any{g.pick(fastGenKeys...)}
		case 10, 11:
			if depth > 0 {
				props := map[string]any{}
				for range g.n(3) + 1 {
					props[g.pick(fastGenKeys...)] = g.schema(depth-1, false)
				}
				m["properties"] = props
			}
		case 12:
			if g.n(2) == 0 || depth == 0 {
				m["additionalProperties"] = g.n(2) == 0
			} else {
				m["additionalProperties"] = g.schema(depth-1, false)
			}
		case 13:
			if depth > 0 {
				m["items"] = g.schema(depth-1, false)
			}
		case 14:
			m[g.pick("minItems", "maxItems", "minProperties", "maxProperties")] = json.Number(g.pick("0", "1", "2"))
		case 15:
			m["uniqueItems"] = g.n(3) != 0
		case 16:
			m["format"] = g.pick("date-time", "email", "ipv4", "date", "uuid", "no-such-format")
		case 17:
			m[g.pick("description", "title", "$comment", "x-note")] = "note"
		case 18:
			m[g.pick("default", "examples")] = []any{1}
		case 19:
			if g.n(4) == 0 && depth > 0 { // beyond the subset, now and then
				m[g.pick("anyOf", "allOf", "oneOf")] = []any{g.schema(depth-1, false)}
			}
		}
	}
	return m
}

func (g *fastGen) scalar() any {
	switch g.n(5) {
	case 0:
		return nil
	case 1:
		return g.n(2) == 0
	case 2, 3:
		return g.pick(fastGenStrings...)
	}
	return json.Number(g.pick(fastGenNumbers...))
}

// value returns a value as encoding/json decodes one.
func (g *fastGen) value(depth int) any {
	k := 6
	if depth > 0 {
		k = 9
	}
	switch g.n(k) {
	case 0:
		return nil
	case 1:
		return g.n(2) == 0
	case 2, 3:
		return g.pick(fastGenStrings...)
	case 4, 5:
		v, _ := decodeData(json.RawMessage(g.pick(fastGenNumbers...)))
		return v
	case 6, 7:
		m := map[string]any{}
		for range g.n(4) {
			m[g.pick(fastGenKeys...)] = g.value(depth - 1)
		}
		return m
	}
	var a []any
	for range g.n(5) {
		a = append(a, g.value(depth-1))
	}
	if a == nil {
		a = []any{}
	}
	return a
}

// fastRound generates a schema and values and compares the verdicts.
func fastRound(t testing.TB, g *fastGen, extra []any, tally *fastTally) {
	doc, err := json.Marshal(g.schema(2, true))
	if err != nil {
		t.Fatal(err)
	}
	s := fastSchema(t, string(doc))
	if s == nil {
		return // the loader or the compiler refuses it
	}
	for range 12 {
		compareFast(t, s, g.value(3), tally)
	}
	for _, v := range extra {
		compareFast(t, s, v, tally)
	}
}

// TestFastPathGenerated compares the verdicts on generated schemas and
// values.
func TestFastPathGenerated(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	g := &fastGen{r: rand.New(rand.NewSource(1))}
	var tally fastTally
	for range n {
		fastRound(t, g, nil, &tally)
	}
	t.Logf("%+v", tally)
	if tally.valid < 1000 || tally.invalid < 1000 {
		t.Errorf("too few verdicts: %+v", tally)
	}
}

// FuzzFastPath builds a schema of the subset and values from the input
// (and one value from its JSON text): the fast path's verdict is the
// library's, and so are the violations. The JSON text is also checked,
// decoded and as text, against every schema of fastTableSchemas and the
// chat message's. The corpus in testdata/fuzz/FuzzFastPath holds deep
// nesting, huge and tiny numbers, escapes, duplicate keys and invalid
// UTF-8.
func FuzzFastPath(f *testing.F) {
	f.Add([]byte{}, `{}`)
	f.Add([]byte{3, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, `{"a": 1}`)
	f.Add([]byte("some bytes to build a schema from, and more"), `"2026-11-25T13:00:00Z"`)
	f.Add([]byte{2, 10, 0, 11, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20}, `[1, 1.0, "a"]`)
	for _, v := range fastTableValues {
		f.Add([]byte(v), v)
	}
	var table []*Schema
	for _, sj := range append(fastTableSchemas, chatSchema) {
		s := fastSchema(f, sj)
		if s == nil || fastOf(s) == nil {
			f.Fatalf("%s: not on the fast path", sj)
		}
		table = append(table, s)
	}
	f.Fuzz(func(t *testing.T, seed []byte, value string) {
		var extra []any
		if v, err := decodeData(json.RawMessage(value)); err == nil {
			extra = append(extra, v)
		}
		for _, s := range table {
			compareFastJSON(t, s, []byte(value), nil)
			for _, v := range extra {
				compareFast(t, s, v, nil)
			}
		}
		g := &fastGen{b: seed}
		fastRound(t, g, extra, nil)
		// The text itself, as it came, against a schema of its own.
		if doc, err := json.Marshal(g.schema(2, true)); err == nil {
			if s := fastSchema(t, string(doc)); s != nil && fastOf(s) != nil {
				compareFastJSON(t, s, []byte(value), nil)
			}
		}
	})
}

// BenchmarkValidateFastPath compares the library alone with the fast path,
// on the message of BenchmarkValidate: Validate (decode and validate),
// ValidateValue (validate only), and an invalid message (the fast path's
// overhead before the library says why).
func BenchmarkValidateFastPath(b *testing.B) {
	fast := MustCompile(`{"type": "object", "required": ["user", "text", "room"], "additionalProperties": false,
		"properties": {"user": {"type": "string", "minLength": 1, "maxLength": 32},
		"text": {"type": "string", "minLength": 1, "maxLength": 500},
		"room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
		"sent": {"type": "string", "format": "date-time"}}}`)
	if fastOf(fast) == nil {
		b.Fatal("the bench schema is not on the fast path")
	}
	lib := libraryOnly(fast)
	msg := json.RawMessage(`{"user":"alice","text":"hello, world","room":"lobby","sent":"2026-11-25T13:00:00Z"}`)
	bad := json.RawMessage(`{"user":"alice","text":"hello, world","room":"Lobby","sent":"2026-11-25T13:00:00Z"}`)
	val, _ := decodeData(msg)
	badVal, _ := decodeData(bad)
	for _, c := range []struct {
		name string
		s    *Schema
	}{{"library", lib}, {"fast", fast}} {
		b.Run("Validate/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := c.s.ValidateJSON(msg); len(v) != 0 {
					b.Fatal(v)
				}
			}
		})
		b.Run("ValidateValue/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := c.s.Validate(val); len(v) != 0 {
					b.Fatal(v)
				}
			}
		})
		b.Run("Invalid/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := c.s.Validate(badVal); len(v) != 1 {
					b.Fatal(v)
				}
			}
		})
	}
}

// decodeData decodes JSON as Validate expects it.
func decodeData(b []byte) (any, error) {
	var v any
	err := json.Unmarshal(b, &v)
	return v, err
}
