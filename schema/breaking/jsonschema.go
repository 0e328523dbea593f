package breaking

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// kind is the aspect of a schema a change is about; with its effect it
// picks the rule.
type kind int

const (
	kType kind = iota
	kEnum
	kPattern
	kRange
	kLength
	kRequired // tighten: newly required; loosen: no longer required
	kProperty // tighten: no longer accepted; loosen: added to a closed object
	kRemoved  // a declared field is gone (loosen)
	kOther    // a keyword not classified
)

// change is one difference between two JSON Schemas.
type change struct {
	kind kind
	// tighten: the new schema refuses something the old one accepted;
	// loosen: it accepts something the old one refused. Both may hold.
	tighten, loosen bool
	ptr             string // JSON pointer of the place, in the new schema, or the old one when inOld
	inOld           bool
	field           string // the field, as a path (text, user.name, items[]); "" for the whole value
	msg             string
}

// differ compares two JSON Schemas (decoded with encoding/json).
type differ struct {
	oldRoot, newRoot any
	seen             map[[2]string]bool
	out              []change
}

// diffSchemas returns the differences between the schemas old and new
// (JSON; nil for none, which accepts anything).
func diffSchemas(old, new json.RawMessage) ([]change, error) {
	o, err := decode(old)
	if err != nil {
		return nil, fmt.Errorf("old schema: %w", err)
	}
	n, err := decode(new)
	if err != nil {
		return nil, fmt.Errorf("new schema: %w", err)
	}
	d := &differ{oldRoot: o, newRoot: n, seen: map[[2]string]bool{}}
	d.schema(o, n, "", "", "")
	return d.out, nil
}

func decode(data json.RawMessage) (any, error) {
	if len(data) == 0 {
		return map[string]any{}, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func (d *differ) add(c change) { d.out = append(d.out, c) }

// resolve follows a $ref within the document ("#/$defs/X"), returning the
// schema it points to and its pointer.
func resolve(root any, s any, ptr string) (any, string) {
	for range 32 {
		m, ok := s.(map[string]any)
		if !ok {
			return s, ptr
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#") || len(m) > 1 {
			return s, ptr
		}
		target := root
		p := strings.TrimPrefix(ref, "#")
		if p != "" {
			for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
				tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
				tm, ok := target.(map[string]any)
				if !ok {
					return s, ptr
				}
				target = tm[tok]
			}
		}
		if target == nil {
			return s, ptr
		}
		s, ptr = target, p
	}
	return s, ptr
}

// asMap returns a schema as a map: true (or nothing) is {}, false is nil.
func asMap(s any) (map[string]any, bool) {
	switch s := s.(type) {
	case map[string]any:
		return s, true
	case bool:
		if s {
			return map[string]any{}, true
		}
		return nil, false
	case nil:
		return map[string]any{}, true
	}
	return nil, false
}

func child(ptr string, toks ...string) string {
	for _, t := range toks {
		ptr += "/" + strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return ptr
}

func fieldJoin(field, name string) string {
	if field == "" {
		return name
	}
	return field + "." + name
}

// at returns the pointer of keyword kw of the schema at ptr in s, or ptr
// when s does not have it.
func at(s map[string]any, ptr, kw string) string {
	if _, ok := s[kw]; ok {
		return child(ptr, kw)
	}
	return ptr
}

// annotations are keywords that do not change what a schema accepts.
var annotations = map[string]bool{
	"title": true, "description": true, "examples": true, "default": true, "deprecated": true,
	"readOnly": true, "writeOnly": true, "$comment": true, "$schema": true, "$id": true,
	"$anchor": true, "$defs": true, "definitions": true, "contentEncoding": true, "contentMediaType": true,
}

// classified are the keywords schema compares one by one.
var classified = map[string]bool{
	"type": true, "enum": true, "const": true, "pattern": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
	"minLength": true, "maxLength": true, "minItems": true, "maxItems": true,
	"minProperties": true, "maxProperties": true, "uniqueItems": true,
	"properties": true, "required": true, "additionalProperties": true, "unevaluatedProperties": true,
	"items": true, "prefixItems": true, "anyOf": true, "oneOf": true,
}

// schema compares the schema o at op (old) with n at np (new); field names
// the value they describe.
func (d *differ) schema(o, n any, op, np, field string) {
	o, op = resolve(d.oldRoot, o, op)
	n, np = resolve(d.newRoot, n, np)
	key := [2]string{op, np}
	if d.seen[key] {
		return // a recursive schema, compared already
	}
	d.seen[key] = true
	om, ook := asMap(o)
	nm, nok := asMap(n)
	if !ook || !nok {
		if canon(o) != canon(n) {
			d.add(change{kind: kOther, tighten: true, loosen: true, ptr: np, field: field,
				msg: fmt.Sprintf("%s changed from %s to %s", what(field), canon(o), canon(n))})
		}
		return
	}
	d.types(om, nm, op, np, field)
	d.enum(om, nm, np, field)
	// The keywords of a type are compared when both schemas accept it: a
	// type dropped or added is one change, not one per keyword.
	ot, nt := typeSet(om), typeSet(nm)
	both := func(t string) bool { return accepts(ot, t) && accepts(nt, t) }
	if both("string") {
		d.pattern(om, nm, np, field, "pattern")
		d.pattern(om, nm, np, field, "format")
		d.bound(om, nm, np, field, kLength, "minLength", true)
		d.bound(om, nm, np, field, kLength, "maxLength", false)
	}
	if both("integer") {
		d.bound(om, nm, np, field, kRange, "minimum", true)
		d.bound(om, nm, np, field, kRange, "exclusiveMinimum", true)
		d.bound(om, nm, np, field, kRange, "maximum", false)
		d.bound(om, nm, np, field, kRange, "exclusiveMaximum", false)
		d.multipleOf(om, nm, np, field)
	}
	if both("array") {
		d.bound(om, nm, np, field, kLength, "minItems", true)
		d.bound(om, nm, np, field, kLength, "maxItems", false)
		if ou, nu := om["uniqueItems"] == true, nm["uniqueItems"] == true; ou != nu {
			d.add(change{kind: kLength, tighten: nu, loosen: ou, ptr: at(nm, np, "uniqueItems"), field: field,
				msg: fmt.Sprintf("%s: uniqueItems changed from %t to %t", what(field), ou, nu)})
		}
		if oi, ni := om["items"], nm["items"]; oi != nil || ni != nil {
			d.schema(oi, ni, child(op, "items"), at(nm, np, "items"), field+"[]")
		}
		d.list(om, nm, op, np, field, "prefixItems")
	}
	if both("object") {
		d.bound(om, nm, np, field, kLength, "minProperties", true)
		d.bound(om, nm, np, field, kLength, "maxProperties", false)
		d.object(om, nm, op, np, field)
	}
	d.alternatives(om, nm, op, np, field, "anyOf")
	d.alternatives(om, nm, op, np, field, "oneOf")
	// Everything else: compared as a whole.
	keys := map[string]bool{}
	for k := range om {
		keys[k] = true
	}
	for k := range nm {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		if annotations[k] || classified[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		if canon(om[k]) != canon(nm[k]) {
			d.add(change{kind: kOther, tighten: true, loosen: true, ptr: at(nm, np, k), field: field,
				msg: fmt.Sprintf("%s: %s changed from %s to %s", what(field), k, canonOr(om[k]), canonOr(nm[k]))})
		}
	}
}

// what names a field in a message.
func what(field string) string {
	if field == "" {
		return "the message"
	}
	return "field " + field
}

// allTypes are the JSON Schema types; integer is a kind of number.
var allTypes = []string{"null", "boolean", "object", "array", "number", "integer", "string"}

func typeSet(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil // any type
}

func accepts(set []string, t string) bool {
	if set == nil {
		return true
	}
	return slices.Contains(set, t) || t == "integer" && slices.Contains(set, "number")
}

func typeName(set []string) string {
	if set == nil {
		return "any type"
	}
	return strings.Join(set, " or ")
}

func (d *differ) types(om, nm map[string]any, op, np, field string) {
	ot, nt := typeSet(om), typeSet(nm)
	var dropped, added []string
	for _, t := range allTypes {
		if accepts(ot, t) && !accepts(nt, t) {
			dropped = append(dropped, t)
		}
		if accepts(nt, t) && !accepts(ot, t) {
			added = append(added, t)
		}
	}
	if len(dropped) == 0 && len(added) == 0 {
		return
	}
	d.add(change{kind: kType, tighten: len(dropped) > 0, loosen: len(added) > 0, ptr: at(nm, np, "type"), field: field,
		msg: fmt.Sprintf("%s: type changed from %s to %s", what(field), typeName(ot), typeName(nt))})
}

// enumSet returns the values enum or const allow, as canonical JSON, or
// nil for no restriction.
func enumSet(s map[string]any) ([]string, string) {
	if c, ok := s["const"]; ok {
		return []string{canon(c)}, "const"
	}
	if e, ok := s["enum"].([]any); ok {
		out := make([]string, len(e))
		for i, v := range e {
			out[i] = canon(v)
		}
		return out, "enum"
	}
	return nil, ""
}

func (d *differ) enum(om, nm map[string]any, np, field string) {
	oe, okw := enumSet(om)
	ne, nkw := enumSet(nm)
	ptr := np
	if nkw != "" {
		ptr = child(np, nkw)
	}
	switch {
	case oe == nil && ne == nil:
	case oe == nil:
		d.add(change{kind: kEnum, tighten: true, ptr: ptr, field: field,
			msg: fmt.Sprintf("%s is now restricted to %s", what(field), strings.Join(ne, ", "))})
	case ne == nil:
		d.add(change{kind: kEnum, loosen: true, ptr: ptr, field: field,
			msg: fmt.Sprintf("%s is no longer restricted to %s (%s removed)", what(field), strings.Join(oe, ", "), okw)})
	default:
		var removed, added []string
		for _, v := range oe {
			if !slices.Contains(ne, v) {
				removed = append(removed, v)
			}
		}
		for _, v := range ne {
			if !slices.Contains(oe, v) {
				added = append(added, v)
			}
		}
		if len(removed) > 0 {
			d.add(change{kind: kEnum, tighten: true, ptr: ptr, field: field,
				msg: fmt.Sprintf("%s no longer accepts %s", what(field), strings.Join(removed, ", "))})
		}
		if len(added) > 0 {
			d.add(change{kind: kEnum, loosen: true, ptr: ptr, field: field,
				msg: fmt.Sprintf("%s may now be %s", what(field), strings.Join(added, ", "))})
		}
	}
}

func (d *differ) pattern(om, nm map[string]any, np, field, kw string) {
	o, oh := om[kw].(string)
	n, nh := nm[kw].(string)
	switch {
	case o == n && oh == nh:
	case !oh:
		d.add(change{kind: kPattern, tighten: true, ptr: child(np, kw), field: field,
			msg: fmt.Sprintf("%s gained %s %s", what(field), kw, n)})
	case !nh:
		d.add(change{kind: kPattern, loosen: true, ptr: np, field: field,
			msg: fmt.Sprintf("%s lost %s %s", what(field), kw, o)})
	default:
		d.add(change{kind: kPattern, tighten: true, loosen: true, ptr: child(np, kw), field: field,
			msg: fmt.Sprintf("%s: %s changed from %s to %s", what(field), kw, o, n)})
	}
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// bound compares a lower (lower true) or upper bound kw.
func (d *differ) bound(om, nm map[string]any, np, field string, k kind, kw string, lower bool) {
	o, oh := number(om[kw])
	n, nh := number(nm[kw])
	var tighter, looser bool
	switch {
	case !oh && !nh:
		return
	case !oh:
		tighter = true
	case !nh:
		looser = true
	case o == n:
		return
	default:
		tighter = n > o == lower
		looser = !tighter
	}
	msg := fmt.Sprintf("%s: %s changed from %s to %s", what(field), kw, numOr(om[kw], oh), numOr(nm[kw], nh))
	d.add(change{kind: k, tighten: tighter, loosen: looser, ptr: at(nm, np, kw), field: field, msg: msg})
}

func numOr(v any, has bool) string {
	if !has {
		return "none"
	}
	return v.(json.Number).String()
}

func (d *differ) multipleOf(om, nm map[string]any, np, field string) {
	o, oh := number(om["multipleOf"])
	n, nh := number(nm["multipleOf"])
	if !oh && !nh || oh && nh && o == n {
		return
	}
	c := change{kind: kRange, ptr: at(nm, np, "multipleOf"), field: field,
		msg: fmt.Sprintf("%s: multipleOf changed from %s to %s", what(field), numOr(om["multipleOf"], oh), numOr(nm["multipleOf"], nh))}
	switch {
	case !oh:
		c.tighten = true
	case !nh:
		c.loosen = true
	case isMultiple(n, o): // every multiple of the new one was a multiple of the old one
		c.tighten = true
	case isMultiple(o, n):
		c.loosen = true
	default:
		c.tighten, c.loosen = true, true
	}
	d.add(c)
}

func isMultiple(a, b float64) bool {
	q := a / b
	return q == math.Trunc(q)
}

func strSet(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// closed reports whether an object schema refuses properties it does not
// name.
func closed(s map[string]any) bool {
	return s["additionalProperties"] == false || s["unevaluatedProperties"] == false
}

func (d *differ) object(om, nm map[string]any, op, np, field string) {
	oprops, _ := om["properties"].(map[string]any)
	nprops, _ := nm["properties"].(map[string]any)
	oreq, nreq := strSet(om["required"]), strSet(nm["required"])
	removed := map[string]bool{}
	for _, name := range sortedKeys(oprops) {
		f := fieldJoin(field, name)
		if _, ok := nprops[name]; ok {
			d.schema(oprops[name], nprops[name], child(op, "properties", name), child(np, "properties", name), f)
			continue
		}
		removed[name] = true
		d.add(change{kind: kRemoved, loosen: true, inOld: true, ptr: child(op, "properties", name), field: f,
			msg: fmt.Sprintf("field %s was removed", f)})
		if closed(nm) {
			d.add(change{kind: kProperty, tighten: true, ptr: at(nm, np, "properties"), field: f,
				msg: fmt.Sprintf("field %s is no longer accepted (the object allows no other properties)", f)})
		}
	}
	if closed(om) {
		for _, name := range sortedKeys(nprops) {
			if _, ok := oprops[name]; !ok {
				f := fieldJoin(field, name)
				d.add(change{kind: kProperty, loosen: true, ptr: child(np, "properties", name), field: f,
					msg: fmt.Sprintf("field %s was added to an object that allowed no other properties", f)})
			}
		}
	}
	for i, name := range nreq {
		if !slices.Contains(oreq, name) {
			f := fieldJoin(field, name)
			msg := fmt.Sprintf("field %s is now required", f)
			if _, ok := oprops[name]; !ok {
				msg = fmt.Sprintf("required field %s was added", f)
			}
			d.add(change{kind: kRequired, tighten: true, ptr: child(np, "required", fmt.Sprint(i)), field: f, msg: msg})
		}
	}
	for _, name := range oreq {
		if !slices.Contains(nreq, name) && !removed[name] {
			f := fieldJoin(field, name)
			ptr := at(nm, np, "required")
			if _, ok := nprops[name]; ok {
				ptr = child(np, "properties", name)
			}
			d.add(change{kind: kRequired, loosen: true, ptr: ptr, field: f,
				msg: fmt.Sprintf("field %s is no longer required", f)})
		}
	}
	switch oc, nc := closed(om), closed(nm); {
	case !oc && nc:
		d.add(change{kind: kProperty, tighten: true, ptr: np, field: field,
			msg: fmt.Sprintf("%s no longer accepts properties it does not name", what(field))})
	case oc && !nc:
		d.add(change{kind: kProperty, loosen: true, ptr: np, field: field,
			msg: fmt.Sprintf("%s now accepts properties it does not name", what(field))})
	}
	for _, kw := range []string{"additionalProperties", "unevaluatedProperties"} {
		oa, oIsMap := om[kw].(map[string]any)
		na, nIsMap := nm[kw].(map[string]any)
		if oIsMap && nIsMap {
			d.schema(oa, na, child(op, kw), child(np, kw), fieldJoin(field, "*"))
		} else if oIsMap != nIsMap && om[kw] != false && nm[kw] != false {
			d.add(change{kind: kOther, tighten: true, loosen: true, ptr: at(nm, np, kw), field: field,
				msg: fmt.Sprintf("%s: %s changed from %s to %s", what(field), kw, canonOr(om[kw]), canonOr(nm[kw]))})
		}
	}
}

// list compares a list of schemas position by position.
func (d *differ) list(om, nm map[string]any, op, np, field, kw string) {
	ol, _ := om[kw].([]any)
	nl, _ := nm[kw].([]any)
	for i := range max(len(ol), len(nl)) {
		var o, n any
		if i < len(ol) {
			o = ol[i]
		}
		if i < len(nl) {
			n = nl[i]
		}
		d.schema(o, n, child(op, kw, fmt.Sprint(i)), at(nm, np, kw), fmt.Sprintf("%s[%d]", field, i))
	}
}

// alternatives compares anyOf or oneOf: alternatives written the same on
// both sides match; the others pair up in order, and what is left over was
// removed (fewer values accepted) or added (more).
func (d *differ) alternatives(om, nm map[string]any, op, np, field, kw string) {
	ol, _ := om[kw].([]any)
	nl, _ := nm[kw].([]any)
	if ol == nil && nl == nil {
		return
	}
	var orest, nrest []int
	for i, o := range ol {
		if !slices.ContainsFunc(nl, func(n any) bool { return canon(n) == canon(o) }) {
			orest = append(orest, i)
		}
	}
	for i, n := range nl {
		if !slices.ContainsFunc(ol, func(o any) bool { return canon(n) == canon(o) }) {
			nrest = append(nrest, i)
		}
	}
	if ol == nil || nl == nil {
		// An alternative list appeared or went: compare as a whole.
		d.add(change{kind: kOther, tighten: true, loosen: true, ptr: at(nm, np, kw), field: field,
			msg: fmt.Sprintf("%s: %s changed from %s to %s", what(field), kw, canonOr(om[kw]), canonOr(nm[kw]))})
		return
	}
	for len(orest) > 0 && len(nrest) > 0 {
		i, j := orest[0], nrest[0]
		d.schema(ol[i], nl[j], child(op, kw, fmt.Sprint(i)), child(np, kw, fmt.Sprint(j)), field)
		orest, nrest = orest[1:], nrest[1:]
	}
	for _, i := range orest {
		d.add(change{kind: kType, tighten: true, ptr: child(np, kw), field: field,
			msg: fmt.Sprintf("%s: alternative %s of %s was removed", what(field), canon(ol[i]), kw)})
	}
	for _, j := range nrest {
		d.add(change{kind: kType, loosen: true, ptr: child(np, kw, fmt.Sprint(j)), field: field,
			msg: fmt.Sprintf("%s: alternative %s was added to %s", what(field), canon(nl[j]), kw)})
	}
}

// canon returns v as canonical JSON (keys sorted).
func canon(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func canonOr(v any) string {
	if v == nil {
		return "none"
	}
	return canon(v)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
