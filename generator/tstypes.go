package generator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cometgen/cometgen/schema"
)

// The mapping from JSON Schema to TypeScript is documented, as a table, in
// docs/generated-ts.md; keep the two in step. Type names are the Go names
// (generator/types.go names them the same way), so ChatMessage is
// ChatMessage on both sides of the wire.

// tsType is what a schema maps to in TypeScript.
type tsType struct {
	expr string // the type expression
	// decl: expr names a declaration generated here (interface, enum, union).
	decl bool
	// why says why a type fell back to unknown, for the doc comment.
	why string
}

// compound reports whether expr is a union or an intersection at its top
// level, which needs parentheses as an array element or intersection
// member ("string | null" does, "Record<string, string | null>" does not).
func (t tsType) compound() bool {
	depth, quoted, escaped := 0, false, false
	for _, r := range t.expr {
		switch {
		case escaped:
			escaped = false
			continue
		case quoted:
			escaped = r == '\\'
			quoted = r != '"'
			continue
		}
		switch r {
		case '"':
			quoted = true
		case '<', '[', '(', '{':
			depth++
		case '>', ']', ')', '}':
			depth--
		case '|', '&':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

func tsUnknown(why string) tsType { return tsType{expr: "unknown", why: why} }

// tsDecl is one top-level declaration. ts is its TypeScript text, shared by
// the .ts and .d.ts forms; a declaration with a value (an enum object) has
// js for the .js form and dts for the .d.ts form.
type tsDecl struct {
	ts, js, dts string
}

// tsTypeGen maps the message schemas of one spec to TypeScript.
type tsTypeGen struct {
	names *namer
	decls []*tsDecl // in output order; nil slots are still being built
	// shared and refs play the roles they have in typeGen.
	shared map[string]string
	refs   map[string]string
}

// tsTypesNamed maps every named schema and every inline message, request
// and reply schema of spec, and returns the declarations in order. names
// holds the names taken already.
func tsTypesNamed(spec *schema.Spec, names *namer) ([]*tsDecl, error) {
	t := &tsTypeGen{names: names, shared: sharedSchemas(spec), refs: map[string]string{}}
	err := eachTypedSchema(spec, func(s *schema.Schema, name, what string, ch *schema.Channel, role string) error {
		if ch == nil {
			return t.top(s, name, what, "The schema "+s.Name+" of the spec.")
		}
		return t.top(s, name, what, "The "+role+" of the channel "+ch.Pattern+".")
	})
	if err != nil {
		return nil, err
	}
	out := t.decls[:0]
	for _, d := range t.decls {
		if d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// top maps a whole schema under name.
func (t *tsTypeGen) top(s *schema.Schema, name, what, origin string) error {
	root, err := parseNode(s.JSON)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := t.names.claim(name, what); err != nil {
		return err
	}
	c := ctx{top: name, name: name, what: what, root: root}
	t.refs[name+"#"] = name
	_, err = t.named(root, c, origin)
	return err
}

// named maps n as a declaration named c.name (already claimed) and returns
// a reference to it.
func (t *tsTypeGen) named(n *node, c ctx, origin string) (tsType, error) {
	slot := t.begin()
	tt, err := t.mapType(n, c, origin, true)
	if err != nil {
		return tsType{}, err
	}
	if tt.decl && tt.expr == c.name {
		return tt, nil // an interface, enum or union took the name
	}
	doc := tsDocLines(origin, n)
	if tt.why != "" {
		doc = append(doc, "", "Any JSON value: "+tt.why+".")
	}
	t.decls[slot] = &tsDecl{ts: tsDoc("", doc) + "export type " + c.name + " = " + tt.expr + ";\n"}
	return tsType{expr: c.name, decl: true}, nil
}

func (t *tsTypeGen) begin() int {
	t.decls = append(t.decls, nil)
	return len(t.decls) - 1
}

// mapType maps the schema n. c.name is the name a declaration of its own
// takes; named says the caller claimed it already.
func (t *tsTypeGen) mapType(n *node, c ctx, origin string, named bool) (tsType, error) {
	if n.kind == 'b' {
		if n.b {
			return tsUnknown("the schema allows any JSON value"), nil
		}
		return tsType{expr: "never", why: "no value is valid (schema false)"}, nil
	}
	if n.kind != 'o' {
		return tsUnknown("not a schema"), nil
	}
	if ref := n.text("$ref"); ref != "" {
		return t.ref(n, ref, c, named)
	}
	if all := n.get("allOf"); all != nil && all.kind == 'a' && len(all.arr) > 0 && onlyAnnotations(n, "allOf") {
		if len(all.arr) == 1 {
			return t.mapType(all.arr[0], c, origin, named)
		}
		var parts []string
		for i, a := range all.arr {
			sub := ctx{top: c.top, name: c.name + "Part" + strconv.Itoa(i+1), what: fmt.Sprintf("allOf %d of %s", i+1, c.what), root: c.root}
			pt, err := t.mapType(a, sub, "a part of "+lowerFirst(origin), false)
			if err != nil {
				return tsType{}, err
			}
			parts = append(parts, paren(pt))
		}
		return tsType{expr: strings.Join(parts, " & ")}, nil
	}
	for _, k := range []string{"allOf", "not", "if", "dependentSchemas", "unevaluatedProperties"} {
		if n.has(k) {
			return tsUnknown(k + " has no TypeScript type"), nil
		}
	}
	if name, ok := t.shared[n.canonical()]; ok && name != c.name {
		return tsType{expr: name, decl: true}, nil
	}
	alts := alternatives(n)
	if len(alts) == 2 && onlyAnnotations(n, "oneOf", "anyOf") {
		for i, a := range alts {
			if a.text("type") == "null" {
				inner, err := t.mapType(alts[1-i], c, origin, named)
				if err != nil {
					return tsType{}, err
				}
				if named && inner.decl && inner.expr == c.name {
					return inner, nil // as in Go, a declared type is not nullable itself
				}
				return tsType{expr: inner.expr + " | null", why: inner.why}, nil
			}
		}
	}
	if alts != nil {
		// As in Go: keywords beside the branches (the base of an object
		// the branches extend) have no union type.
		if !onlyAnnotations(n, "oneOf", "anyOf", "nullable") && !(n.text("type") == "object" && onlyAnnotations(n, "oneOf", "anyOf", "type")) {
			return tsUnknown("oneOf or anyOf with other keywords beside it"), nil
		}
		return t.union(n, alts, c, origin, named)
	}
	if e := n.get("enum"); e != nil && e.kind == 'a' {
		return t.enum(n, e.arr, c, origin, named)
	}
	if k := n.get("const"); k != nil {
		return tsType{expr: tsLiteral(k)}, nil
	}
	typ, nullable, _ := schemaType(n)
	var types []string
	if v := n.get("type"); v != nil && v.kind == 'a' {
		for _, e := range v.arr {
			if e.str != "null" {
				types = append(types, e.str)
			}
		}
	} else if typ != "" && typ != "null" {
		types = []string{typ}
	}
	if nv := n.get("nullable"); nv != nil && nv.b {
		nullable = true
	}
	if len(types) == 0 && !nullable {
		switch {
		case n.has("properties") || n.has("additionalProperties") || n.has("patternProperties"):
			types = []string{"object"}
		case n.has("items") || n.has("prefixItems"):
			types = []string{"array"}
		case onlyAnnotations(n):
			return tsUnknown("the schema allows any JSON value"), nil
		default:
			return tsUnknown("the schema gives no type"), nil
		}
	}
	var parts []string
	var why string
	for _, typ := range types {
		var tt tsType
		var err error
		switch typ {
		case "object":
			tt, err = t.object(n, c, origin, named)
		case "array":
			tt, err = t.array(n, c, origin)
		case "string", "number", "boolean":
			tt = tsType{expr: typ}
		case "integer":
			tt = tsType{expr: "number"}
		default:
			tt = tsUnknown("unknown type " + strconv.Quote(typ))
		}
		if err != nil {
			return tsType{}, err
		}
		if len(types) == 1 {
			if !nullable {
				return tt, nil
			}
			return tsType{expr: tt.expr + " | null", why: tt.why}, nil
		}
		if !slices.Contains(parts, tt.expr) {
			parts = append(parts, tt.expr)
		}
		why = tt.why
	}
	if nullable {
		parts = append(parts, "null")
	}
	return tsType{expr: strings.Join(parts, " | "), why: why}, nil
}

// alternatives returns the branches of a oneOf or anyOf, or nil.
func alternatives(n *node) []*node {
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts := n.get(k); alts != nil && alts.kind == 'a' && len(alts.arr) > 0 {
			return alts.arr
		}
	}
	return nil
}

// union maps a oneOf or anyOf to a union type. Object branches are
// declared as interfaces: named after the value of the property whose const
// tells them apart, when one does (a discriminated union), or numbered.
func (t *tsTypeGen) union(n *node, alts []*node, c ctx, origin string, named bool) (tsType, error) {
	disc := discriminator(alts)
	var parts []string
	var why, single string
	objects := 0
	for _, b := range alts {
		if b.kind == 'o' && (b.has("properties") || b.text("type") == "object") && !b.has("$ref") {
			objects++
		}
	}
	if objects > 0 && !named {
		if err := t.names.claim(c.name, c.what); err != nil {
			return tsType{}, err
		}
	}
	slot := -1
	if objects > 0 {
		slot = t.begin()
	}
	for i, b := range alts {
		bname := fmt.Sprintf("%sVariant%d", c.name, i+1)
		borigin := fmt.Sprintf("Branch %d of %s", i+1, c.name+".")
		if disc != "" {
			val := b.get("properties").get(disc).get("const").str
			bname = c.name + goName(val)
			borigin = fmt.Sprintf("The branch of %s whose %s is %q.", c.name, disc, val)
		}
		if x := b.text("x-go-name"); x != "" {
			bname = x
		}
		bc := ctx{top: c.top, name: bname, what: fmt.Sprintf("branch %d of %s", i+1, c.what), root: c.root}
		bt, err := t.mapType(b, bc, borigin, false)
		if err != nil {
			return tsType{}, err
		}
		if bt.why != "" {
			why = bt.why
		}
		if p := paren(bt); !slices.Contains(parts, p) {
			parts = append(parts, p)
			single = bt.expr
		}
	}
	if len(parts) == 1 {
		parts[0] = single // one branch left: no parentheses
	}
	if nv := n.get("nullable"); nv != nil && nv.b && !slices.Contains(parts, "null") {
		parts = append(parts, "null")
	}
	expr := strings.Join(parts, " | ")
	if slot < 0 {
		return tsType{expr: expr, why: why}, nil
	}
	doc := tsDocLines(origin, n)
	if disc != "" {
		doc = append(doc, "", "Its branches are told apart by "+disc+".")
	}
	t.decls[slot] = &tsDecl{ts: tsDoc("", doc) + tsUnionDecl(c.name, parts)}
	return tsType{expr: c.name, decl: true}, nil
}

// tsUnionDecl declares name as the union of parts: on one line when it
// fits in tsWidth columns, else one branch a line, as prettier writes it.
func tsUnionDecl(name string, parts []string) string {
	line := "export type " + name + " = " + strings.Join(parts, " | ") + ";"
	if len(line) <= tsWidth {
		return line + "\n"
	}
	return "export type " + name + " =\n  | " + strings.Join(parts, "\n  | ") + ";\n"
}

// enum maps an enum: of strings, a declaration (an as-const object of the
// values and a union type of the same name); of other values, a union of
// literal types.
func (t *tsTypeGen) enum(n *node, vals []*node, c ctx, origin string, named bool) (tsType, error) {
	strs := true
	var lits, svals []string
	nullable := false
	for _, v := range vals {
		switch v.kind {
		case 's':
		case 'z':
			nullable = true
			continue
		default:
			strs = false
		}
		if l := tsLiteral(v); !slices.Contains(lits, l) {
			lits = append(lits, l)
			svals = append(svals, v.str)
		}
	}
	if len(lits) == 0 {
		return tsType{expr: "null"}, nil
	}
	if !strs {
		if nullable {
			lits = append(lits, "null")
		}
		return tsType{expr: strings.Join(lits, " | ")}, nil
	}
	if !named {
		if err := t.names.claim(c.name, c.what); err != nil {
			return tsType{}, err
		}
	}
	slot := t.begin()
	keys := map[string]string{}
	var obj, dts strings.Builder
	for i, v := range svals {
		key := goName(v)
		if prev, dup := keys[key]; dup {
			return tsType{}, fmt.Errorf("enum values %q and %q of %s both become the key %s", prev, v, c.what, key)
		}
		keys[key] = v
		fmt.Fprintf(&obj, "  %s: %s,\n", key, lits[i])
		fmt.Fprintf(&dts, "  readonly %s: %s;\n", key, lits[i])
	}
	orNull := ""
	if nullable {
		orNull = " | null"
	}
	doc := tsDoc("", append(tsDocLines(origin, n), "", "Its values are "+strings.Join(lits, ", ")+"."))
	constDoc := tsDoc("", []string{"The values of " + c.name + ", by name."})
	typeLine := fmt.Sprintf("export type %s = (typeof %s)[keyof typeof %s]%s;\n", c.name, c.name, c.name, orNull)
	if len(typeLine) > tsWidth+1 {
		typeLine = fmt.Sprintf("export type %s =\n  (typeof %s)[keyof typeof %s]%s;\n", c.name, c.name, c.name, orNull)
	}
	t.decls[slot] = &tsDecl{
		ts:  constDoc + "export const " + c.name + " = {\n" + obj.String() + "} as const;\n" + doc + typeLine,
		js:  constDoc + "export const " + c.name + " = {\n" + obj.String() + "};\n",
		dts: constDoc + "export declare const " + c.name + ": {\n" + dts.String() + "};\n" + doc + typeLine,
	}
	return tsType{expr: c.name, decl: true}, nil
}

// object maps an object schema: an interface when it declares properties,
// else a record.
func (t *tsTypeGen) object(n *node, c ctx, origin string, named bool) (tsType, error) {
	props := n.get("properties")
	addl := n.get("additionalProperties")
	if props == nil || props.kind != 'o' || len(props.keys) == 0 {
		switch {
		case addl != nil && addl.kind == 'b' && !addl.b:
			return tsType{expr: "Record<string, never>"}, nil
		case addl != nil && addl.kind == 'o':
			sub := ctx{top: c.top, name: c.name + "Value", what: "additionalProperties of " + c.what, root: c.root}
			el, err := t.mapType(addl, sub, "A value of "+strings.TrimSuffix(lowerFirst(origin), ".")+".", false)
			if err != nil {
				return tsType{}, err
			}
			return tsType{expr: "Record<string, " + el.expr + ">", why: el.why}, nil
		}
		return tsType{expr: "Record<string, unknown>"}, nil
	}
	if !named {
		if err := t.names.claim(c.name, c.what); err != nil {
			return tsType{}, err
		}
	}
	slot := t.begin()
	required := map[string]bool{}
	if r := n.get("required"); r != nil {
		for _, e := range r.arr {
			required[e.str] = true
		}
	}
	var b strings.Builder
	b.WriteString(tsDoc("", tsDocLines(origin, n)))
	fmt.Fprintf(&b, "export interface %s {\n", c.name)
	for i, prop := range props.keys {
		ps := props.vals[i]
		sub := ctx{top: c.top, name: c.name + goName(prop), what: "property " + prop + " of " + c.what, root: c.root}
		if x := ps.text("x-go-name"); x != "" {
			sub.name = c.name + x
		}
		pt, err := t.mapType(ps, sub, "The property "+prop+" of "+c.name+".", false)
		if err != nil {
			return tsType{}, err
		}
		var doc []string
		if d := strings.TrimSpace(ps.text("description")); d != "" {
			doc = append(doc, strings.Split(d, "\n")...)
		}
		if pt.why != "" {
			doc = append(doc, "Any JSON value: "+pt.why+".")
		}
		doc = append(doc, tsConstraints(ps)...)
		if ps.has("deprecated") && ps.get("deprecated").b {
			doc = append(doc, "@deprecated the schema says so")
		}
		b.WriteString(tsDoc("  ", doc))
		opt := ""
		if !required[prop] {
			opt = "?"
		}
		fmt.Fprintf(&b, "  %s%s: %s;\n", tsKey(prop), opt, pt.expr)
	}
	if addl != nil && addl.kind == 'o' {
		b.WriteString("  /** The properties the schema does not declare (additionalProperties). */\n")
		b.WriteString("  [property: string]: unknown;\n")
	}
	b.WriteString("}\n")
	t.decls[slot] = &tsDecl{ts: b.String()}
	return tsType{expr: c.name, decl: true}, nil
}

// array maps an array schema: T[] or a tuple for prefixItems.
func (t *tsTypeGen) array(n *node, c ctx, origin string) (tsType, error) {
	items := n.get("items")
	itemOrigin := "An item of " + strings.TrimSuffix(lowerFirst(origin), ".") + "."
	if pre := n.get("prefixItems"); pre != nil && pre.kind == 'a' {
		var els []string
		for i, p := range pre.arr {
			sub := ctx{top: c.top, name: c.name + "Item" + strconv.Itoa(i+1), what: fmt.Sprintf("prefixItems %d of %s", i+1, c.what), root: c.root}
			el, err := t.mapType(p, sub, itemOrigin, false)
			if err != nil {
				return tsType{}, err
			}
			els = append(els, el.expr)
		}
		switch {
		case items != nil && items.kind == 'b' && !items.b:
		case items != nil && items.kind == 'o':
			sub := ctx{top: c.top, name: c.name + "Item", what: "items of " + c.what, root: c.root}
			el, err := t.mapType(items, sub, itemOrigin, false)
			if err != nil {
				return tsType{}, err
			}
			els = append(els, "..."+paren(el)+"[]")
		default:
			els = append(els, "...unknown[]")
		}
		return tsType{expr: "[" + strings.Join(els, ", ") + "]"}, nil
	}
	if items == nil || items.kind != 'o' {
		return tsType{expr: "unknown[]"}, nil
	}
	sub := ctx{top: c.top, name: c.name + "Item", what: "items of " + c.what, root: c.root}
	el, err := t.mapType(items, sub, itemOrigin, false)
	if err != nil {
		return tsType{}, err
	}
	return tsType{expr: paren(el) + "[]", why: el.why}, nil
}

// ref maps a #/ ref inside the schema document, naming its target as the
// Go generator does.
func (t *tsTypeGen) ref(n *node, ref string, c ctx, named bool) (tsType, error) {
	if !strings.HasPrefix(ref, "#") {
		return tsUnknown("$ref " + ref + " is not resolved"), nil
	}
	target, last := c.root.resolve(ref)
	if target == nil {
		return tsUnknown("$ref " + ref + " points nowhere"), nil
	}
	key := c.top + ref
	if name, ok := t.refs[key]; ok {
		return tsType{expr: name, decl: true}, nil
	}
	if name, ok := t.shared[target.canonical()]; ok {
		return tsType{expr: name, decl: true}, nil
	}
	name := c.name
	if last != "" {
		name = c.top + goName(last)
		if x := target.text("x-go-name"); x != "" {
			name = x
		}
		if err := t.names.claim(name, ref+" of "+c.what); err != nil {
			return tsType{}, err
		}
	} else if !named {
		if err := t.names.claim(name, c.what); err != nil {
			return tsType{}, err
		}
	}
	t.refs[key] = name
	sub := ctx{top: c.top, name: name, what: ref + " of " + c.what, root: c.root}
	return t.named(target, sub, "The schema at "+ref+" in "+c.top+".")
}

// paren parenthesizes a union or intersection used as an array element or
// an intersection member.
func paren(t tsType) string {
	if t.compound() {
		return "(" + t.expr + ")"
	}
	return t.expr
}

// tsLiteral writes a JSON scalar as a TypeScript literal type.
func tsLiteral(n *node) string {
	switch n.kind {
	case 's':
		return jsString(n.str)
	case 'n':
		return jsNumber(n.num)
	case 'b':
		return strconv.FormatBool(n.b)
	case 'z':
		return "null"
	}
	return "unknown"
}

// tsKey writes a property name: bare when it is an identifier, else quoted.
func tsKey(name string) string {
	if tsIdent(name) {
		return name
	}
	return jsString(name)
}

// jsString writes s as a JavaScript string literal: JSON's escapes, which
// JavaScript shares (Go's %q has others, such as \a).
func jsString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// tsIdent reports whether s is a plain ASCII JavaScript identifier.
func tsIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// tsDocLines returns the doc of a declared type: where it comes from, its
// description and whether it is deprecated.
func tsDocLines(origin string, n *node) []string {
	lines := []string{origin}
	if d := strings.TrimSpace(n.text("description")); d != "" {
		lines = append(lines, "")
		lines = append(lines, strings.Split(d, "\n")...)
	}
	if n.has("deprecated") && n.get("deprecated").b {
		lines = append(lines, "", "@deprecated the schema says so")
	}
	return lines
}

// tsConstraints lists the validation keywords of a property as doc tags:
// the generated types cannot express them, the server checks them.
func tsConstraints(n *node) []string {
	var out []string
	for _, k := range []string{"format", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "default"} {
		v := n.get(k)
		if v == nil {
			continue
		}
		val := string(v.marshal())
		if v.kind == 's' && k != "default" {
			val = v.str
		}
		out = append(out, "@"+k+" "+val)
	}
	return out
}

// tsWidth is the line width of the generated client, prettier's
// printWidth: longer lines are broken where prettier breaks them.
const tsWidth = 100

// tsDoc writes lines as a JSDoc comment indented by indent: one line when
// it fits, else a block.
func tsDoc(indent string, lines []string) string {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, "*/", "*\\/")
	}
	if len(lines) == 1 && len(indent)+len(lines[0]) <= 90 {
		return indent + "/** " + lines[0] + " */\n"
	}
	var b strings.Builder
	b.WriteString(indent + "/**\n")
	for _, l := range lines {
		if l == "" {
			b.WriteString(indent + " *\n")
		} else {
			b.WriteString(indent + " * " + l + "\n")
		}
	}
	b.WriteString(indent + " */\n")
	return b.String()
}
