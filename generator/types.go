package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cometgen/cometgen/schema"
	"github.com/dave/jennifer/jen"
)

// The mapping from JSON Schema to Go is documented, as a table, in
// docs/generated-go.md; keep the two in step.

// node is a JSON value with the order of its object keys kept, so that
// struct fields follow the order in which the spec writes the properties.
type node struct {
	keys []string // object keys, in order
	vals []*node  // object values, parallel to keys
	arr  []*node  // array items
	str  string   // string value
	num  string   // number, as written
	b    bool     // boolean value
	kind byte     // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
}

// parseNode parses JSON into a node.
func parseNode(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return readNode(dec)
}

func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readNode(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, kt.(string))
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				v, err := readNode(dec)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, v)
			}
			_, err := dec.Token()
			return n, err
		}
	case string:
		return &node{kind: 's', str: t}, nil
	case json.Number:
		return &node{kind: 'n', num: t.String()}, nil
	case bool:
		return &node{kind: 'b', b: t}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, io.ErrUnexpectedEOF
}

// get returns the value of key in an object node, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != 'o' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// has reports whether an object node has key.
func (n *node) has(key string) bool { return n.get(key) != nil }

// text returns the string value of key, or "".
func (n *node) text(key string) string {
	if v := n.get(key); v != nil && v.kind == 's' {
		return v.str
	}
	return ""
}

// canonical returns n as JSON with sorted keys, to compare schemas.
func (n *node) canonical() string {
	var v any
	b := n.marshal()
	json.Unmarshal(b, &v)
	out, _ := json.Marshal(v)
	return string(out)
}

// marshal returns n as JSON, keys in order.
func (n *node) marshal() []byte {
	var b bytes.Buffer
	var write func(*node)
	write = func(n *node) {
		switch n.kind {
		case 'o':
			b.WriteByte('{')
			for i, k := range n.keys {
				if i > 0 {
					b.WriteByte(',')
				}
				q, _ := json.Marshal(k)
				b.Write(q)
				b.WriteByte(':')
				write(n.vals[i])
			}
			b.WriteByte('}')
		case 'a':
			b.WriteByte('[')
			for i, v := range n.arr {
				if i > 0 {
					b.WriteByte(',')
				}
				write(v)
			}
			b.WriteByte(']')
		case 's':
			q, _ := json.Marshal(n.str)
			b.Write(q)
		case 'n':
			b.WriteString(n.num)
		case 'b':
			b.WriteString(strconv.FormatBool(n.b))
		default:
			b.WriteString("null")
		}
	}
	write(n)
	return b.Bytes()
}

// goType is what a schema maps to.
type goType struct {
	code jen.Code
	// nilable: the Go zero value already stands for "absent" (slices, maps,
	// json.RawMessage), so an optional field needs no pointer.
	nilable bool
	// methods: the type is a named type with methods of its own
	// (time.Time, json.RawMessage, a union), so a named schema of it is an
	// alias rather than a new defined type, which would lose the methods.
	methods bool
	// decl: the type is a declaration generated here (struct, enum, union),
	// named name.
	decl bool
	name string
	// why says why a type fell back to json.RawMessage, for the doc comment.
	why string
	// recursive: the type is still being generated (a #/ ref back to it),
	// so a field of it must be a pointer.
	recursive bool
}

// typeGen generates the message types of one spec.
type typeGen struct {
	g     *goGen
	decls [][]jen.Code // declarations in output order
	// shared maps the canonical JSON of a named schema that is an object,
	// enum or union to its Go name, so that an inlined copy of it (a $ref to
	// a file) uses the one type. Nested inline schemas are never shared: a
	// coincidence between two of them must not rename a type.
	shared map[string]string
	// refs maps a #/ ref (top type name + ref) to the Go name of its
	// target; building holds the refs whose type is being generated.
	refs     map[string]string
	building map[string]bool
}

// ctx is where a schema is: the Go name its type takes if it needs one,
// what it is for error messages and doc comments, and the schema document
// it is in (for #/ refs).
type ctx struct {
	top  string // the name of the document's type
	name string
	what string
	root *node
}

// annotations are keywords that change nothing in the Go type.
var annotations = map[string]bool{
	"description": true, "title": true, "examples": true, "default": true, "deprecated": true,
	"$comment": true, "readOnly": true, "writeOnly": true, "$schema": true, "$id": true, "$defs": true,
	"definitions": true, "x-go-name": true,
	// validation the generated type does not carry; the DataFilter checks it
	"minLength": true, "maxLength": true, "pattern": true, "minimum": true, "maximum": true,
	"exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true, "minItems": true,
	"maxItems": true, "uniqueItems": true, "minProperties": true, "maxProperties": true,
	"contentMediaType": true, "contentEncoding": true, "format": true,
}

// types emits types.go: one Go type per named schema, one per inline
// message, request and reply schema (named after the channel), and named
// types for their nested objects, enums and unions.
func (g *goGen) types(f *jen.File) error {
	t := &typeGen{g: g, shared: sharedSchemas(g.spec), refs: map[string]string{}, building: map[string]bool{}}
	err := eachTypedSchema(g.spec, func(s *schema.Schema, name, what string, ch *schema.Channel, role string) error {
		if ch == nil {
			return t.top(s, name, what, "the schema "+s.Name+" of the spec")
		}
		return t.top(s, name, what, "the "+role+" of the channel "+ch.Pattern)
	})
	if err != nil {
		return err
	}
	for _, d := range t.decls {
		if d == nil {
			continue
		}
		for _, c := range d {
			f.Add(c)
		}
		f.Line()
	}
	return nil
}

// sharedSchemas maps the canonical JSON of every named schema that is an
// object, enum or union to its type name, so that an inlined copy of it (a
// $ref to a file) uses the one type. Nested inline schemas are never
// shared: a coincidence between two of them must not rename a type.
func sharedSchemas(spec *schema.Spec) map[string]string {
	shared := map[string]string{}
	for _, n := range slices.Sorted(maps.Keys(spec.Schemas)) {
		root, err := parseNode(spec.Schemas[n].JSON)
		if err != nil {
			continue // the type's generation reports it
		}
		if root.has("properties") || root.has("enum") || root.has("oneOf") || root.has("anyOf") {
			if key := root.canonical(); shared[key] == "" {
				shared[key] = schemaTypeName(spec.Schemas[n])
			}
		}
	}
	return shared
}

// eachTypedSchema calls f for every schema that has a type of its own:
// the named schemas, by name (ch nil), then the inline message, request and
// reply schemas of the channels (role "message", "request" or "reply"),
// with the type's name and what the schema is, for errors. An error of f
// stops it, with the schema's position.
func eachTypedSchema(spec *schema.Spec, f func(s *schema.Schema, name, what string, ch *schema.Channel, role string) error) error {
	for _, n := range slices.Sorted(maps.Keys(spec.Schemas)) {
		s := spec.Schemas[n]
		if err := f(s, schemaTypeName(s), "schema "+n, nil, ""); err != nil {
			return fmt.Errorf("%s: %w", s.Pos, err)
		}
	}
	for _, ch := range spec.Channels {
		for _, m := range []struct {
			s    *schema.Schema
			role string
		}{{ch.Message, "message"}, {ch.Request, "request"}, {ch.Reply, "reply"}} {
			if m.s == nil || m.s.Name != "" {
				continue
			}
			if err := f(m.s, channelName(ch)+goName(m.role), m.role+" of channel "+ch.Pattern, ch, m.role); err != nil {
				return fmt.Errorf("%s: %w", m.s.Pos, err)
			}
		}
	}
	return nil
}

// messageTypeName returns the Go type generated for a channel's message,
// request or reply schema (role "message", "request" or "reply"), for the
// other parts of the generator.
func messageTypeName(ch *schema.Channel, s *schema.Schema, role string) string {
	if s.Name != "" {
		return schemaTypeName(s)
	}
	return channelName(ch) + goName(role)
}

// schemaTypeName returns the Go name of a named schema: its x-go-name or
// goName of its name.
func schemaTypeName(s *schema.Schema) string {
	if n, err := parseNode(s.JSON); err == nil {
		if x := n.text("x-go-name"); x != "" {
			return x
		}
	}
	return goName(s.Name)
}

// top generates the type of a whole schema under name.
func (t *typeGen) top(s *schema.Schema, name, what, origin string) error {
	root, err := parseNode(s.JSON)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	c := ctx{top: name, name: name, what: what, root: root}
	if err := t.g.names.claim(name, what); err != nil {
		return err
	}
	slot := len(t.decls)
	t.decls = append(t.decls, nil)
	t.refs[name+"#"] = name
	t.building[name+"#"] = true
	gt, err := t.declare(root, c, origin)
	delete(t.building, name+"#")
	if err != nil {
		return err
	}
	if gt.decl && gt.name == name {
		return nil // the struct, enum or union took the name
	}
	doc := t.typeDoc(name, origin, root)
	if gt.why != "" {
		doc = append(doc, jen.Comment(""), jen.Comment("It is kept as JSON: "+gt.why+"."))
	}
	if gt.methods || gt.decl {
		t.decls[slot] = append(doc, jen.Type().Id(name).Op("=").Add(gt.code))
	} else {
		t.decls[slot] = append(doc, jen.Type().Id(name).Add(gt.code))
	}
	return nil
}

// sentence returns a description as a paragraph of a doc comment: trimmed,
// and ending as a sentence does, so that gofmt never reads a short one
// ("ISO 4217 code") as a heading ("# ISO 4217 code").
func sentence(d string) string {
	d = strings.TrimSpace(d)
	if d == "" || strings.ContainsAny(d[len(d)-1:], ".!?:;)]\"'`") {
		return d
	}
	return d + "."
}

// typeDoc returns the doc comment of a declared type.
func (t *typeGen) typeDoc(name, origin string, n *node) []jen.Code {
	out := []jen.Code{jen.Comment(fmt.Sprintf("%s is %s.", name, origin))}
	if d := n.text("description"); d != "" {
		out = append(out, jen.Comment(""))
		for _, l := range strings.Split(sentence(d), "\n") {
			out = append(out, jen.Comment(l))
		}
	}
	if n.has("deprecated") && n.get("deprecated").b {
		out = append(out, jen.Comment(""), jen.Comment("Deprecated: the schema says so."))
	}
	return out
}

// declare generates the type of n under c.name, which the caller claimed.
// A struct, enum or union is declared (decl); anything else is returned for
// the caller to declare or use.
func (t *typeGen) declare(n *node, c ctx, origin string) (goType, error) {
	return t.mapType(n, c, origin, true)
}

// raw is the fallback: json.RawMessage, with the reason in a comment.
func raw(why string) goType {
	return goType{code: jen.Qual("encoding/json", "RawMessage"), nilable: true, methods: true, why: why}
}

// mapType maps the schema n to a Go type. c.name is the name a type of its
// own takes; named says the caller claimed it already.
func (t *typeGen) mapType(n *node, c ctx, origin string, named bool) (goType, error) {
	if n.kind == 'b' {
		if n.b {
			return raw("any JSON value"), nil
		}
		return raw("no value is valid (schema false)"), nil
	}
	if n.kind != 'o' {
		return raw("not a schema"), nil
	}
	if ref := n.text("$ref"); ref != "" {
		return t.ref(n, ref, c, named)
	}
	// A $ref to a file with keywords beside it becomes {..., allOf: [target]}.
	if all := n.get("allOf"); all != nil && all.kind == 'a' && len(all.arr) == 1 && onlyAnnotations(n, "allOf") {
		return t.mapType(all.arr[0], c, origin, named)
	}
	for _, k := range []string{"allOf", "not", "if", "patternProperties", "prefixItems", "dependentSchemas", "propertyNames", "unevaluatedProperties"} {
		if n.has(k) {
			return raw(k + " has no Go type"), nil
		}
	}
	if name, ok := t.shared[n.canonical()]; ok && name != c.name {
		return goType{code: jen.Id(name), decl: true, name: name}, nil
	}

	// Nullable: nullable: true, type: [X, "null"], anyOf/oneOf [X, {type: null}].
	typ, nullable, multi := schemaType(n)
	if multi {
		return raw("a value of several types"), nil
	}
	if nv := n.get("nullable"); nv != nil && nv.b {
		nullable = true
	}
	if e := n.get("enum"); e != nil && slices.ContainsFunc(e.arr, func(v *node) bool { return v.kind == 'z' }) {
		nullable = true
	}
	if !nullable {
		for _, k := range []string{"oneOf", "anyOf"} {
			if alts := n.get(k); alts != nil && alts.kind == 'a' && len(alts.arr) == 2 && onlyAnnotations(n, k) {
				for i, a := range alts.arr {
					if a.text("type") == "null" {
						inner, err := t.mapType(alts.arr[1-i], c, origin, named)
						if err != nil {
							return goType{}, err
						}
						if named && inner.decl {
							return inner, nil // a declared type cannot be nullable itself
						}
						return nullableOf(inner), nil
					}
				}
			}
		}
	}
	var gt goType
	var err error
	switch {
	case n.has("oneOf") || n.has("anyOf"):
		gt, err = t.union(n, c, origin, named)
	case n.has("enum"):
		gt, err = t.enum(n, c, origin, named)
	case n.has("const") && typ == "":
		gt = raw("a const that is not a string")
		if n.get("const").kind == 's' {
			gt = goType{code: jen.String()}
		}
	case typ == "object" || (typ == "" && (n.has("properties") || n.has("additionalProperties"))):
		gt, err = t.object(n, c, origin, named)
	case typ == "array" || (typ == "" && n.has("items")):
		gt, err = t.array(n, c, origin)
	case typ == "" && onlyAnnotations(n):
		gt = raw("the schema allows any JSON value")
	case typ == "":
		gt = raw("the schema gives no type")
	default:
		gt = t.scalar(n, typ)
	}
	if err != nil {
		return goType{}, err
	}
	if nullable && !(named && gt.decl) {
		return nullableOf(gt), nil
	}
	return gt, nil
}

// nullableOf is the type of a value that may also be null.
func nullableOf(gt goType) goType {
	if gt.nilable {
		return gt
	}
	return goType{code: jen.Op("*").Add(gt.code), nilable: true, why: gt.why}
}

// onlyAnnotations reports whether n has no keywords but keys and annotations.
func onlyAnnotations(n *node, keys ...string) bool {
	for _, k := range n.keys {
		if !slices.Contains(keys, k) && !annotations[k] && !strings.HasPrefix(k, "x-") {
			return false
		}
	}
	return true
}

// schemaType returns n's type keyword: one type, whether "null" is allowed
// beside it, and multi when several non-null types are.
func schemaType(n *node) (typ string, nullable, multi bool) {
	v := n.get("type")
	if v == nil {
		return "", false, false
	}
	if v.kind == 's' {
		return v.str, v.str == "null", false
	}
	for _, e := range v.arr {
		switch {
		case e.str == "null":
			nullable = true
		case typ == "":
			typ = e.str
		case typ == "number" && e.str == "integer" || typ == "integer" && e.str == "number":
			typ = "number"
		default:
			multi = true
		}
	}
	return typ, nullable, multi
}

// scalar maps a scalar type.
func (t *typeGen) scalar(n *node, typ string) goType {
	switch typ {
	case "string":
		if n.text("format") == "date-time" {
			return goType{code: jen.Qual("time", "Time"), methods: true}
		}
		return goType{code: jen.String()}
	case "integer":
		return goType{code: jen.Int64()}
	case "number":
		return goType{code: jen.Float64()}
	case "boolean":
		return goType{code: jen.Bool()}
	case "null":
		return raw("always null")
	}
	return raw("unknown type " + strconv.Quote(typ))
}

// resolve returns the node a local ref ("#/$defs/Entry") points to in the
// document n, and the ref's last segment ("Entry"); nil when it points
// nowhere.
func (n *node) resolve(ref string) (target *node, last string) {
	target = n
	for _, p := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		last = p
		if target = target.get(p); target == nil {
			return nil, ""
		}
	}
	return target, last
}

// ref maps a #/ ref inside the schema document.
func (t *typeGen) ref(n *node, ref string, c ctx, named bool) (goType, error) {
	if !onlyAnnotations(n, "$ref") {
		return raw("$ref with other keywords beside it"), nil
	}
	if !strings.HasPrefix(ref, "#") {
		return raw("$ref " + ref + " is not resolved"), nil
	}
	target, last := c.root.resolve(ref)
	if target == nil {
		return raw("$ref " + ref + " points nowhere"), nil
	}
	key := c.top + ref
	if name, ok := t.refs[key]; ok {
		return goType{code: jen.Id(name), decl: true, name: name, recursive: t.building[key]}, nil
	}
	if name, ok := t.shared[target.canonical()]; ok {
		return goType{code: jen.Id(name), decl: true, name: name}, nil
	}
	name := c.name
	if last != "" {
		name = c.top + goName(last)
		if x := target.text("x-go-name"); x != "" {
			name = x
		}
		if err := t.g.names.claim(name, ref+" of "+c.what); err != nil {
			return goType{}, err
		}
	}
	sub := ctx{top: c.top, name: name, what: ref + " of " + c.what, root: c.root}
	t.refs[key] = name
	t.building[key] = true
	defer delete(t.building, key)
	return t.named(target, sub, "the schema at "+ref+" in "+c.top)
}

// named generates n as a type declared under c.name (already claimed) and
// returns a reference to it.
func (t *typeGen) named(n *node, c ctx, origin string) (goType, error) {
	slot := len(t.decls)
	t.decls = append(t.decls, nil)
	gt, err := t.mapType(n, c, origin, true)
	if err != nil {
		return goType{}, err
	}
	if gt.decl && gt.name == c.name {
		return goType{code: jen.Id(c.name), decl: true, name: c.name, methods: gt.methods, nilable: gt.nilable}, nil
	}
	doc := t.typeDoc(c.name, origin, n)
	if gt.why != "" {
		doc = append(doc, jen.Comment(""), jen.Comment("It is kept as JSON: "+gt.why+"."))
	}
	if gt.methods || gt.decl {
		t.decls[slot] = append(doc, jen.Type().Id(c.name).Op("=").Add(gt.code))
	} else {
		t.decls[slot] = append(doc, jen.Type().Id(c.name).Add(gt.code))
	}
	return goType{code: jen.Id(c.name), nilable: gt.nilable, methods: gt.methods}, nil
}

// begin reserves a declaration slot; the caller fills it when the type's
// children are done, so that a type comes before the types nested in it.
func (t *typeGen) begin() (slot int) {
	t.decls = append(t.decls, nil)
	return len(t.decls) - 1
}

// object maps an object schema: a struct, a map, or a fallback.
func (t *typeGen) object(n *node, c ctx, origin string, named bool) (goType, error) {
	props := n.get("properties")
	addl := n.get("additionalProperties")
	hasProps := props != nil && props.kind == 'o' && (len(props.keys) > 0 || n.has("x-cometgen-branch"))
	if !hasProps {
		if addl == nil || addl.kind == 'b' {
			if addl != nil && !addl.b {
				return goType{code: jen.Struct()}, nil
			}
			return goType{code: jen.Map(jen.String()).Qual("encoding/json", "RawMessage"), nilable: true}, nil
		}
		sub := ctx{top: c.top, name: c.name + "Value", what: "additionalProperties of " + c.what, root: c.root}
		el, err := t.inner(addl, sub, "a value of "+origin)
		if err != nil {
			return goType{}, err
		}
		return goType{code: jen.Map(jen.String()).Add(el.code), nilable: true, why: el.why}, nil
	}
	extra := addl != nil && addl.kind == 'o'
	if !named {
		if err := t.g.names.claim(c.name, c.what); err != nil {
			return goType{}, err
		}
	}
	slot := t.begin()
	required := map[string]bool{}
	if r := n.get("required"); r != nil {
		for _, e := range r.arr {
			required[e.str] = true
		}
	}
	fieldOwner := map[string]string{}
	if extra {
		fieldOwner["Extra"] = "additionalProperties"
	}
	var fields []jen.Code
	for i, prop := range props.keys {
		ps := props.vals[i]
		fname := goName(prop)
		if x := ps.text("x-go-name"); x != "" {
			fname = x
		}
		if prev, ok := fieldOwner[fname]; ok {
			return goType{}, fmt.Errorf("properties %q and %q of %s both become the Go field %s; rename one or give it an x-go-name", prev, prop, c.what, fname)
		}
		fieldOwner[fname] = prop
		sub := ctx{top: c.top, name: c.name + fname, what: "property " + prop + " of " + c.what, root: c.root}
		ft, err := t.inner(ps, sub, "the property "+prop+" of "+c.name)
		if err != nil {
			return goType{}, err
		}
		tag := prop
		code := ft.code
		if !required[prop] {
			tag += ",omitempty"
			if !ft.nilable {
				code = jen.Op("*").Add(code)
			}
		} else if ft.recursive {
			code = jen.Op("*").Add(code)
		}
		doc := fmt.Sprintf("%s is the property %q", fname, prop)
		d := strings.TrimSpace(ps.text("description"))
		if d != "" && !strings.Contains(d, "\n") {
			doc += ": " + strings.TrimSuffix(d, ".")
			d = ""
		}
		doc += "."
		if !required[prop] {
			doc += " Optional"
			if !ft.nilable {
				doc += ", nil when absent"
			}
			doc += "."
		}
		field := jen.Comment(doc)
		if d != "" {
			for _, l := range strings.Split(sentence(d), "\n") {
				field.Line().Comment(l)
			}
		}
		if ft.why != "" {
			field.Line().Comment("It is kept as JSON: " + ft.why + ".")
		}
		fields = append(fields, field.Line().Id(fname).Add(code).Tag(map[string]string{"json": tag}))
	}
	decl := append(t.typeDoc(c.name, origin, n), jen.Type().Id(c.name).Struct(fields...))
	if extra {
		sub := ctx{top: c.top, name: c.name + "Value", what: "additionalProperties of " + c.what, root: c.root}
		el, err := t.inner(addl, sub, "a value of "+origin)
		if err != nil {
			return goType{}, err
		}
		doc := "Extra holds the properties the schema does not declare (additionalProperties)."
		if el.why != "" {
			doc += " They are kept as JSON: " + el.why + "."
		}
		fields = append(fields, jen.Comment(doc).Line().Comment("It must not hold a declared property.").Line().
			Id("Extra").Map(jen.String()).Add(el.code).Tag(map[string]string{"json": "-"}))
		decl = append(t.typeDoc(c.name, origin, n), jen.Type().Id(c.name).Struct(fields...))
		decl = append(decl, t.extraMethods(c.name, props.keys, el.code)...)
	}
	t.decls[slot] = decl
	return goType{code: jen.Id(c.name), decl: true, name: c.name}, nil
}

// extraMethods returns the MarshalJSON/UnmarshalJSON pair of a struct with
// an Extra map: the declared properties as fields, the others in Extra.
func (t *typeGen) extraMethods(name string, props []string, el jen.Code) []jen.Code {
	known := make([]jen.Code, len(props))
	for i, p := range props {
		known[i] = jen.Lit(p)
	}
	js := func(fn string) *jen.Statement { return jen.Qual("encoding/json", fn) }
	return []jen.Code{
		jen.Line(),
		jen.Comment("MarshalJSON writes the fields and then the properties in Extra."),
		jen.Func().Params(jen.Id("v").Id(name)).Id("MarshalJSON").Params().Params(jen.Index().Byte(), jen.Error()).Block(
			jen.Type().Id("plain").Id(name),
			jen.List(jen.Id("data"), jen.Err()).Op(":=").Add(js("Marshal")).Call(jen.Id("plain").Call(jen.Id("v"))),
			jen.If(jen.Err().Op("!=").Nil().Op("||").Len(jen.Id("v").Dot("Extra")).Op("==").Lit(0)).Block(
				jen.Return(jen.Id("data"), jen.Err())),
			jen.List(jen.Id("extra"), jen.Err()).Op(":=").Add(js("Marshal")).Call(jen.Id("v").Dot("Extra")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
			jen.If(jen.Len(jen.Id("data")).Op("==").Lit(2)).Block(jen.Return(jen.Id("extra"), jen.Nil())),
			jen.Return(jen.Append(jen.Append(jen.Id("data").Index(jen.Empty(), jen.Len(jen.Id("data")).Op("-").Lit(1)), jen.LitRune(',')),
				jen.Id("extra").Index(jen.Lit(1), jen.Empty()).Op("...")), jen.Nil()),
		),
		jen.Line(),
		jen.Comment("UnmarshalJSON reads the declared properties into the fields and the others into Extra."),
		jen.Func().Params(jen.Id("v").Op("*").Id(name)).Id("UnmarshalJSON").Params(jen.Id("data").Index().Byte()).Error().Block(
			jen.Type().Id("plain").Id(name),
			jen.If(jen.Err().Op(":=").Add(js("Unmarshal")).Call(jen.Id("data"), jen.Parens(jen.Op("*").Id("plain")).Call(jen.Id("v"))), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.Var().Id("all").Map(jen.String()).Add(js("RawMessage")),
			jen.If(jen.Err().Op(":=").Add(js("Unmarshal")).Call(jen.Id("data"), jen.Op("&").Id("all")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.Id("v").Dot("Extra").Op("=").Nil(),
			jen.For(jen.List(jen.Id("k"), jen.Id("raw")).Op(":=").Range().Id("all")).Block(
				jen.Switch(jen.Id("k")).Block(jen.Case(known...).Block(jen.Continue())),
				jen.Var().Id("e").Add(el),
				jen.If(jen.Err().Op(":=").Add(js("Unmarshal")).Call(jen.Id("raw"), jen.Op("&").Id("e")), jen.Err().Op("!=").Nil()).Block(
					jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(name+": property %q: %w"), jen.Id("k"), jen.Err()))),
				jen.If(jen.Id("v").Dot("Extra").Op("==").Nil()).Block(
					jen.Id("v").Dot("Extra").Op("=").Map(jen.String()).Add(el).Values()),
				jen.Id("v").Dot("Extra").Index(jen.Id("k")).Op("=").Id("e"),
			),
			jen.Return(jen.Nil()),
		),
	}
}

// inner maps a nested schema: a struct, enum or union of its own takes
// c.name; a #/ ref its target's name.
func (t *typeGen) inner(n *node, c ctx, origin string) (goType, error) {
	return t.mapType(n, c, origin, false)
}

// array maps an array schema to a slice.
func (t *typeGen) array(n *node, c ctx, origin string) (goType, error) {
	items := n.get("items")
	if items == nil {
		return goType{code: jen.Index().Qual("encoding/json", "RawMessage"), nilable: true}, nil
	}
	sub := ctx{top: c.top, name: c.name + "Item", what: "items of " + c.what, root: c.root}
	el, err := t.inner(items, sub, "an item of "+origin)
	if err != nil {
		return goType{}, err
	}
	return goType{code: jen.Index().Add(el.code), nilable: true, why: el.why}, nil
}

// enum maps an enum: of strings, a named string type with a constant per
// value and Valid; of other scalars, the base type.
func (t *typeGen) enum(n *node, c ctx, origin string, named bool) (goType, error) {
	var vals []string
	for _, v := range n.get("enum").arr {
		switch v.kind {
		case 's':
			vals = append(vals, v.str)
		case 'z':
			// null in the enum: the caller's nullable handling applies
		default:
			typ, _, _ := schemaType(n)
			if typ == "integer" || typ == "number" || typ == "boolean" {
				return t.scalar(n, typ), nil
			}
			return raw("an enum that is not of strings"), nil
		}
	}
	if !named {
		if err := t.g.names.claim(c.name, c.what); err != nil {
			return goType{}, err
		}
	}
	slot := t.begin()
	quoted := make([]string, len(vals))
	for i, v := range vals {
		quoted[i] = strconv.Quote(v)
	}
	doc := t.typeDoc(c.name, origin, n)
	doc = append(doc, jen.Comment(""), jen.Comment("Its values are "+strings.Join(quoted, ", ")+"."))
	decl := append(doc, jen.Type().Id(c.name).String(), jen.Line())
	var consts []jen.Code
	for _, v := range vals {
		cn := c.name + goName(v)
		if err := t.g.names.claim(cn, fmt.Sprintf("enum value %q of %s", v, c.what)); err != nil {
			return goType{}, err
		}
		consts = append(consts, jen.Comment(fmt.Sprintf("%s is the %s %q.", cn, c.name, v)), jen.Id(cn).Id(c.name).Op("=").Lit(v))
	}
	decl = append(decl, jen.Comment("The values of "+c.name+"."), jen.Const().Defs(consts...), jen.Line())
	cases := make([]jen.Code, len(vals))
	for i, v := range vals {
		cases[i] = jen.Id(c.name + goName(v))
	}
	decl = append(decl,
		jen.Comment(fmt.Sprintf("Valid reports whether v is one of the values of %s.", c.name)),
		jen.Func().Params(jen.Id("v").Id(c.name)).Id("Valid").Params().Bool().Block(
			jen.Switch(jen.Id("v")).Block(jen.Case(cases...).Block(jen.Return(jen.True()))),
			jen.Return(jen.False())))
	t.decls[slot] = decl
	return goType{code: jen.Id(c.name), decl: true, name: c.name}, nil
}

// union maps oneOf/anyOf whose branches are objects told apart by a const
// property (the discriminator): a wrapper struct holding an interface value,
// one struct per branch, and a MarshalJSON/UnmarshalJSON pair. Any other
// oneOf/anyOf falls back.
func (t *typeGen) union(n *node, c ctx, origin string, named bool) (goType, error) {
	kw := "oneOf"
	alts := n.get("oneOf")
	if alts == nil {
		kw, alts = "anyOf", n.get("anyOf")
	}
	if !onlyAnnotations(n, kw) && !(n.text("type") == "object" && onlyAnnotations(n, kw, "type")) {
		return raw(kw + " with other keywords beside it"), nil
	}
	if alts.kind != 'a' || len(alts.arr) == 0 {
		return raw(kw + " without branches"), nil
	}
	disc := discriminator(alts.arr)
	if disc == "" {
		return raw(kw + " without a property whose const tells the branches apart"), nil
	}
	for _, b := range alts.arr {
		if typ := b.text("type"); typ != "" && typ != "object" {
			return raw(kw + " with a branch that is not an object"), nil
		}
		if a := b.get("additionalProperties"); a != nil && a.kind == 'o' {
			return raw("a union branch with additionalProperties"), nil
		}
		for _, k := range []string{"allOf", "oneOf", "anyOf", "not", "if", "patternProperties", "nullable"} {
			if b.has(k) {
				return raw(kw + " with a branch using " + k), nil
			}
		}
	}
	if !named {
		if err := t.g.names.claim(c.name, c.what); err != nil {
			return goType{}, err
		}
	}
	slot := t.begin()
	iface := c.name + "Value"
	if err := t.g.names.claim(iface, "the branches of "+c.what); err != nil {
		return goType{}, err
	}
	marker := "is" + c.name
	var branchNames, quoted []string
	var cases []jen.Code
	var after [][]jen.Code
	for _, b := range alts.arr {
		val := b.get("properties").get(disc).get("const").str
		bn := c.name + goName(val)
		if x := b.text("x-go-name"); x != "" {
			bn = x
		}
		bc := ctx{top: c.top, name: bn, what: fmt.Sprintf("branch %q of %s", val, c.what), root: c.root}
		err := t.g.names.claim(bc.name, bc.what)
		if err != nil {
			return goType{}, err
		}
		// The branch without its discriminator, which MarshalJSON writes.
		stripped := stripProperty(b, disc)
		gt, err := t.mapType(stripped, bc, fmt.Sprintf("the branch of %s whose %s is %q", c.name, disc, val), true)
		if err != nil {
			return goType{}, err
		}
		if gt.name != bc.name {
			return goType{}, fmt.Errorf("%s: branch %q is not an object", c.what, val)
		}
		branchNames = append(branchNames, bc.name)
		quoted = append(quoted, strconv.Quote(val))
		cases = append(cases, jen.Case(jen.Lit(val)).Block(
			jen.Var().Id("b").Id(bc.name),
			jen.If(jen.Err().Op(":=").Qual("encoding/json", "Unmarshal").Call(jen.Id("data"), jen.Op("&").Id("b")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.Id("u").Dot("Value").Op("=").Id("b"),
		))
		after = append(after, []jen.Code{
			jen.Comment(fmt.Sprintf("%s marks %s as a %s.", marker, bc.name, iface)),
			jen.Func().Params(jen.Id(bc.name)).Id(marker).Params().Block(),
			jen.Line(),
			jen.Comment(fmt.Sprintf("MarshalJSON writes b with its %s, %q.", disc, val)),
			jen.Func().Params(jen.Id("b").Id(bc.name)).Id("MarshalJSON").Params().Params(jen.Index().Byte(), jen.Error()).Block(
				jen.Type().Id("plain").Id(bc.name),
				jen.Return(jen.Qual("encoding/json", "Marshal").Call(jen.Struct(
					jen.Id("Discriminator").String().Tag(map[string]string{"json": disc}),
					jen.Id("plain"),
				).Values(jen.Lit(val), jen.Id("plain").Call(jen.Id("b"))))),
			),
		})
	}
	doc := t.typeDoc(c.name, origin, n)
	doc = append(doc, jen.Comment(""), jen.Comment(fmt.Sprintf("Its Value is one of %s, told apart in JSON by the property %q (%s).",
		strings.Join(branchNames, ", "), disc, strings.Join(quoted, ", "))))
	decl := append(doc, jen.Type().Id(c.name).Struct(
		jen.Comment("Value is the branch; nil is not valid JSON for "+c.name+".").Line().Id("Value").Id(iface),
	), jen.Line(),
		jen.Comment(fmt.Sprintf("%s is implemented by the branches of %s: %s.", iface, c.name, strings.Join(branchNames, ", "))),
		jen.Type().Id(iface).Interface(jen.Id(marker).Params()), jen.Line(),
		jen.Comment("MarshalJSON writes the branch, with its "+disc+"."),
		jen.Func().Params(jen.Id("u").Id(c.name)).Id("MarshalJSON").Params().Params(jen.Index().Byte(), jen.Error()).Block(
			jen.If(jen.Id("u").Dot("Value").Op("==").Nil()).Block(
				jen.Return(jen.Nil(), jen.Qual("errors", "New").Call(jen.Lit(c.name+" has no Value")))),
			jen.Return(jen.Qual("encoding/json", "Marshal").Call(jen.Id("u").Dot("Value"))),
		), jen.Line(),
		jen.Comment("UnmarshalJSON reads the branch its "+disc+" names."),
		jen.Func().Params(jen.Id("u").Op("*").Id(c.name)).Id("UnmarshalJSON").Params(jen.Id("data").Index().Byte()).Error().Block(
			jen.Var().Id("probe").Struct(jen.Id("Discriminator").String().Tag(map[string]string{"json": disc})),
			jen.If(jen.Err().Op(":=").Qual("encoding/json", "Unmarshal").Call(jen.Id("data"), jen.Op("&").Id("probe")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.Switch(jen.Id("probe").Dot("Discriminator")).Block(append(cases,
				jen.Default().Block(jen.Return(jen.Qual("fmt", "Errorf").Call(
					jen.Lit(c.name+": unknown "+disc+" %q"), jen.Id("probe").Dot("Discriminator")))))...),
			jen.Return(jen.Nil()),
		))
	for _, a := range after {
		decl = append(decl, jen.Line())
		decl = append(decl, a...)
	}
	t.decls[slot] = decl
	return goType{code: jen.Id(c.name), decl: true, name: c.name, methods: true}, nil
}

// discriminator returns the property every branch gives a distinct string
// const, or "".
func discriminator(branches []*node) string {
	first := branches[0].get("properties")
	if first == nil {
		return ""
	}
	for _, p := range first.keys {
		seen := map[string]bool{}
		ok := true
		for _, b := range branches {
			if b.kind != 'o' || b.has("$ref") {
				ok = false
				break
			}
			cv := b.get("properties").get(p).get("const")
			if cv == nil || cv.kind != 's' || seen[cv.str] {
				ok = false
				break
			}
			seen[cv.str] = true
		}
		if ok {
			return p
		}
	}
	return ""
}

// stripProperty returns the object schema b without the property p (and
// without p in required), with type object.
func stripProperty(b *node, p string) *node {
	out := &node{kind: 'o'}
	hasType := false
	for i, k := range b.keys {
		v := b.vals[i]
		switch k {
		case "properties":
			np := &node{kind: 'o'}
			for j, pk := range v.keys {
				if pk != p {
					np.keys = append(np.keys, pk)
					np.vals = append(np.vals, v.vals[j])
				}
			}
			v = np
		case "required":
			nr := &node{kind: 'a'}
			for _, e := range v.arr {
				if e.str != p {
					nr.arr = append(nr.arr, e)
				}
			}
			v = nr
		case "type":
			hasType = true
		}
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, v)
	}
	out.keys = append(out.keys, "x-cometgen-branch")
	out.vals = append(out.vals, &node{kind: 'b', b: true})
	if !hasType {
		out.keys = append(out.keys, "type")
		out.vals = append(out.vals, &node{kind: 's', str: "object"})
	}
	return out
}
