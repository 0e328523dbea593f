package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cometgen/cometgen/runtime/validate"
	"io"
	"io/fs"
	"math"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"
)

// jnode is a JSON value converted from YAML, with the position of each
// value, so that the problems JSON Schema finds in a document can be
// reported where it is written. Trees may share subtrees (a file $ref'd
// twice); they are never modified once built.
type jnode struct {
	kind  jkind
	pos   Pos
	str   string // a string, or a number's JSON text
	b     bool
	keys  []string // an object's keys, in the order written
	items []*jnode // an object's values, or an array's items
	size  int      // values in the tree
}

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// marshal returns the JSON text of j, keys in the order written.
func (j *jnode) marshal() []byte {
	var b bytes.Buffer
	j.write(&b)
	return b.Bytes()
}

func (j *jnode) write(b *bytes.Buffer) {
	switch j.kind {
	case jNull:
		b.WriteString("null")
	case jBool:
		b.WriteString(strconv.FormatBool(j.b))
	case jNumber:
		b.WriteString(j.str)
	case jString:
		writeString(b, j.str)
	case jArray:
		b.WriteByte('[')
		for i, it := range j.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.write(b)
		}
		b.WriteByte(']')
	case jObject:
		b.WriteByte('{')
		for i, k := range j.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			j.items[i].write(b)
		}
		b.WriteByte('}')
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // strings always marshal
	b.Write(enc)
}

// at returns the node at the JSON pointer ptr ("" or "/a/0"), or the
// deepest node on the way when ptr leads nowhere.
func (j *jnode) at(ptr string) *jnode {
	if ptr == "" || ptr == "#" {
		return j
	}
	ptr = strings.TrimPrefix(ptr, "#")
	cur := j
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		next := (*jnode)(nil)
		switch cur.kind {
		case jObject:
			for i, k := range cur.keys {
				if k == tok {
					next = cur.items[i]
					break
				}
			}
		case jArray:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(cur.items) {
				next = cur.items[i]
			}
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

// A source is a file schemas are read from: the spec, or a file a $ref
// names.
type source struct {
	display string     // the file's path for messages
	rel     string     // its path relative to the project root, slash-separated ("" when unknown)
	root    *yaml.Node // its root node
	isSpec  bool
	failed  bool // the file could not be read or parsed
}

// refFrame is a $ref being resolved, for cycle detection.
type refFrame struct {
	key string // rel#pointer
}

// convMode tells how to convert a YAML node to JSON.
type convMode uint8

const (
	asData   convMode = iota // any JSON value
	asSchema                 // a JSON Schema: $refs resolved, regexes checked
)

// The keywords of JSON Schema (drafts 4 to 2020-12) whose values hold
// subschemas, by shape.
var (
	schemaMapKeywords = map[string]bool{
		"properties": true, "patternProperties": true, "$defs": true,
		"definitions": true, "dependentSchemas": true, "dependencies": true,
	}
	schemaListKeywords = map[string]bool{
		"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true,
	}
	schemaKeywords = map[string]bool{
		"not": true, "if": true, "then": true, "else": true,
		"additionalProperties": true, "unevaluatedProperties": true,
		"unevaluatedItems": true, "contains": true, "propertyNames": true,
		"contentSchema": true, "additionalItems": true,
		"items": true, // a schema, or a list of schemas before 2020-12
	}
)

// convert converts n, a node of src, to JSON. In asSchema mode it resolves
// $refs to files (and, in files other than the spec, $refs within the
// file) by inlining what they point to, and checks regular expressions.
// It returns nil when the node cannot be converted (the problem recorded)
// or the node budget is spent.
func (l *loader) convert(src *source, n *yaml.Node, mode convMode, stack []refFrame) *jnode {
	if l.spent {
		return nil
	}
	orig := n
	n = deref(n)
	if n == nil {
		return nil
	}
	l.nodes++
	if l.nodes > MaxNodes {
		l.spent = true
		l.errf(src.display, orig, "schemas expand to more than %d values (are $refs nested to multiply?)", MaxNodes)
		return nil
	}
	j := &jnode{pos: posOf(src.display, n), size: 1}
	switch n.Kind {
	case yaml.ScalarNode:
		if !l.scalar(src, n, j) {
			return nil
		}
	case yaml.SequenceNode:
		j.kind = jArray
		for _, c := range n.Content {
			cm := asData
			if mode == asSchema {
				cm = asSchema // only reached for "items" or the schema lists
			}
			cj := l.convert(src, c, cm, stack)
			if cj == nil {
				return nil
			}
			j.items = append(j.items, cj)
			j.size += cj.size
		}
	case yaml.MappingNode:
		j.kind = jObject
		var ref *entry
		for _, e := range l.entries(src.display, n, true) {
			k := deref(e.key)
			if k.ShortTag() != "!!str" && mode == asSchema {
				// JSON keys are strings; YAML would let 1: or true: through.
				l.errf(src.display, e.key, "a key in a JSON Schema must be a string, not %s (quote it)", kindName(k))
				continue
			}
			if mode == asSchema && e.name == "$ref" {
				if s := deref(e.val); s != nil && s.Kind == yaml.ScalarNode && s.ShortTag() == "!!str" &&
					(!src.isSpec || !strings.HasPrefix(s.Value, "#")) {
					e := e
					ref = &e
					continue
				}
			}
			cm := asData
			if mode == asSchema {
				switch {
				case schemaKeywords[e.name]:
					cm = asSchema
				case schemaListKeywords[e.name]:
					if v := deref(e.val); v != nil && v.Kind == yaml.SequenceNode {
						cm = asSchema
					}
				case schemaMapKeywords[e.name]:
					cj := l.convertSchemaMap(src, e, stack)
					if cj == nil {
						return nil
					}
					j.keys = append(j.keys, e.name)
					j.items = append(j.items, cj)
					j.size += cj.size
					continue
				case e.name == "pattern":
					if v := deref(e.val); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
						l.checkRegex(src.display, v, v.Value, "pattern")
					}
				}
			}
			cj := l.convert(src, e.val, cm, stack)
			if cj == nil {
				return nil
			}
			j.keys = append(j.keys, e.name)
			j.items = append(j.items, cj)
			j.size += cj.size
		}
		if ref != nil {
			return l.inline(src, j, ref, stack)
		}
	default:
		l.errf(src.display, n, "not a JSON value")
		return nil
	}
	return j
}

// convertSchemaMap converts the value of a keyword such as properties,
// whose values are schemas (its keys are regexes for patternProperties).
func (l *loader) convertSchemaMap(src *source, e entry, stack []refFrame) *jnode {
	v := deref(e.val)
	if v == nil || v.Kind != yaml.MappingNode {
		// Not a map of schemas: the JSON Schema compiler says what is wrong.
		return l.convert(src, e.val, asData, stack)
	}
	j := &jnode{kind: jObject, pos: posOf(src.display, v), size: 1}
	for _, se := range l.entries(src.display, v, true) {
		mode := asSchema
		if e.name == "dependencies" {
			if sv := deref(se.val); sv != nil && sv.Kind == yaml.SequenceNode {
				mode = asData // draft 7: a list of property names
			}
		}
		if e.name == "patternProperties" {
			l.checkRegex(src.display, deref(se.key), se.name, "patternProperties key")
		}
		cj := l.convert(src, se.val, mode, stack)
		if cj == nil {
			return nil
		}
		j.keys = append(j.keys, se.name)
		j.items = append(j.items, cj)
		j.size += cj.size
	}
	return j
}

// scalar fills j from the scalar n.
func (l *loader) scalar(src *source, n *yaml.Node, j *jnode) bool {
	switch n.ShortTag() {
	case "!!null":
		j.kind = jNull
	case "!!bool":
		v, ok := boolean(n)
		if !ok {
			l.errf(src.display, n, "invalid boolean %s", n.Value)
			return false
		}
		j.kind, j.b = jBool, v
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			l.errf(src.display, n, "invalid integer %s", n.Value)
			return false
		}
		switch v := v.(type) {
		case int:
			j.str = strconv.Itoa(v)
		case int64:
			j.str = strconv.FormatInt(v, 10)
		case uint64:
			j.str = strconv.FormatUint(v, 10)
		case float64:
			j.str = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			l.errf(src.display, n, "invalid integer %s", n.Value)
			return false
		}
		j.kind = jNumber
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			l.errf(src.display, n, "%s is not a JSON number", n.Value)
			return false
		}
		j.kind, j.str = jNumber, strconv.FormatFloat(f, 'g', -1, 64)
	default: // strings, timestamps, binary, custom tags: the text
		j.kind, j.str = jString, n.Value
	}
	return true
}

// inline replaces the schema j, whose $ref (ref) names a file or, in a file
// other than the spec, a place in the same file, by the schema the $ref
// points to; keywords written beside the $ref are kept, the target joining
// them in allOf.
func (l *loader) inline(src *source, j *jnode, ref *entry, stack []refFrame) *jnode {
	refNode := deref(ref.val)
	tsrc, target, key := l.resolveRef(src, refNode)
	if target == nil {
		return nil
	}
	for i, f := range stack {
		if f.key == key {
			chain := make([]string, 0, len(stack)-i+1)
			for _, g := range stack[i:] {
				chain = append(chain, strings.TrimSuffix(g.key, "#"))
			}
			chain = append(chain, strings.TrimSuffix(key, "#"))
			l.errf(src.display, refNode, "$ref cycle: %s (a schema may only recurse with #/... refs inside a schema written in the spec)", strings.Join(chain, " -> "))
			return nil
		}
	}
	t, done := l.refCache[key]
	if done && t != nil {
		// Converted before: the tree is shared, but its values count again,
		// as they will be written again.
		l.nodes += t.size
		if l.nodes > MaxNodes {
			l.spent = true
			l.errf(src.display, refNode, "schemas expand to more than %d values (are $refs nested to multiply?)", MaxNodes)
			return nil
		}
	}
	if !done {
		t = l.convert(tsrc, target, asSchema, append(stack[:len(stack):len(stack)], refFrame{key: key}))
		l.refCache[key] = t
	}
	if t == nil {
		return nil
	}
	if len(j.keys) == 0 {
		return t
	}
	out := *j
	out.keys = append([]string(nil), j.keys...)
	out.items = append([]*jnode(nil), j.items...)
	out.size += t.size
	for i, k := range out.keys {
		if k == "allOf" && out.items[i].kind == jArray {
			all := *out.items[i]
			all.items = append(append([]*jnode(nil), all.items...), t)
			all.size += t.size
			out.items[i] = &all
			return &out
		}
	}
	out.keys = append(out.keys, "allOf")
	out.items = append(out.items, &jnode{kind: jArray, pos: t.pos, items: []*jnode{t}, size: 1 + t.size})
	return &out
}

// resolveRef finds what the $ref n of src points to: the file (read once,
// inside the project root) and the node at the JSON pointer. It returns the
// target's source, node and key (rel#pointer), or a nil node after
// recording why not.
func (l *loader) resolveRef(src *source, n *yaml.Node) (*source, *yaml.Node, string) {
	ref := n.Value
	file, frag, _ := strings.Cut(ref, "#")
	u, err := url.Parse(ref)
	switch {
	case err != nil:
		l.errf(src.display, n, "$ref %s is not a valid URI reference: %v", ref, err)
		return nil, nil, ""
	case u.Scheme != "" || u.Host != "" || path.IsAbs(file) || filepath.IsAbs(file) || strings.HasPrefix(file, `\`):
		l.errf(src.display, n, "$ref %s is absolute; a $ref names a file by its path relative to the file it is in", ref)
		return nil, nil, ""
	}
	if file != "" {
		file, err = url.PathUnescape(file)
		if err != nil {
			l.errf(src.display, n, "$ref %s: %v", ref, err)
			return nil, nil, ""
		}
	}
	tsrc := src
	if file != "" {
		if src.rel == "" || l.root == nil {
			l.errf(src.display, n, "$ref %s cannot be resolved: %s", ref, l.rootProblem)
			return nil, nil, ""
		}
		rel := path.Join(path.Dir(src.rel), filepath.ToSlash(file))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			l.errf(src.display, n, "$ref %s leaves the project directory %s", ref, l.rootDisplay)
			return nil, nil, ""
		}
		tsrc = l.readRef(rel)
		if tsrc.failed {
			if msg := l.refErr[rel]; msg != "" {
				l.errf(src.display, n, "$ref %s: %s", ref, msg)
			} // else the file's own errors are recorded at their positions
			return nil, nil, ""
		}
	}
	ptr, err := url.PathUnescape(frag)
	if err != nil {
		l.errf(src.display, n, "$ref %s: invalid fragment: %v", ref, err)
		return nil, nil, ""
	}
	if ptr != "" && !strings.HasPrefix(ptr, "/") {
		l.errf(src.display, n, "$ref %s: the fragment must be a JSON pointer (#/a/b), not an anchor", ref)
		return nil, nil, ""
	}
	target := tsrc.root
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		cur := deref(target)
		var next *yaml.Node
		switch cur.Kind {
		case yaml.MappingNode:
			for _, e := range l.entries(tsrc.display, cur, false) {
				if e.name == tok {
					next = e.val
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(cur.Content) {
				next = cur.Content[i]
			}
		}
		if next == nil {
			l.errf(src.display, n, "$ref %s: %s has nothing at #%s", ref, tsrc.display, ptr)
			return nil, nil, ""
		}
		target = next
	}
	return tsrc, target, tsrc.rel + "#" + ptr
}

// readRef reads and parses the file at rel, once.
func (l *loader) readRef(rel string) *source {
	if s, ok := l.files[rel]; ok {
		return s
	}
	s := &source{rel: rel, display: filepath.Join(l.rootDisplay, filepath.FromSlash(rel))}
	l.files[rel] = s
	data, err := l.readRoot(rel)
	if err != nil {
		s.failed = true
		l.refErr[rel] = err.Error()
		return s
	}
	s.root = l.parseYAML(s.display, data, "file")
	s.failed = s.root == nil
	return s
}

// readRoot reads the file at rel inside the project root, refusing what
// leaves it (by .. or a symbolic link) and files over MaxSpecSize.
func (l *loader) readRoot(rel string) ([]byte, error) {
	f, err := l.root.Open(filepath.FromSlash(rel))
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("no such file %s", filepath.Join(l.rootDisplay, filepath.FromSlash(rel)))
		case errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes"):
			return nil, fmt.Errorf("%s leaves the project directory %s", filepath.Join(l.rootDisplay, filepath.FromSlash(rel)), l.rootDisplay)
		}
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", filepath.Join(l.rootDisplay, filepath.FromSlash(rel)))
		}
		if fi.Size() > MaxSpecSize {
			return nil, fmt.Errorf("%s is %s; the limit is %s", filepath.Join(l.rootDisplay, filepath.FromSlash(rel)), mib(fi.Size()), mib(MaxSpecSize))
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > MaxSpecSize {
		return nil, fmt.Errorf("%s is larger than the limit of %s", filepath.Join(l.rootDisplay, filepath.FromSlash(rel)), mib(MaxSpecSize))
	}
	return data, nil
}

// checkRegex compiles the RE2 regular expression re written at n, refusing
// patterns longer than MaxRegexLen bytes and programs larger than
// MaxRegexProg instructions, and records any problem. what names the regex.
func (l *loader) checkRegex(file string, n *yaml.Node, re, what string) bool {
	if err := checkRegex(re); err != nil {
		l.errf(file, n, "invalid %s: %v", what, err)
		return false
	}
	return true
}

// checkRegex returns why re is not a usable regular expression, or nil.
func checkRegex(re string) error {
	if len(re) > MaxRegexLen {
		return fmt.Errorf("the regular expression is %d bytes long; the limit is %d", len(re), MaxRegexLen)
	}
	if _, err := regexp.Compile(re); err != nil {
		return err
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return err
	}
	if len(prog.Inst) > MaxRegexProg {
		return fmt.Errorf("the regular expression is too complex: it compiles to %d instructions; the limit is %d (write fewer or smaller repetitions)", len(prog.Inst), MaxRegexProg)
	}
	return nil
}

// schemaURL is the base URL of every compiled schema. Nothing is ever
// loaded from it: external $refs are inlined before compiling.
const schemaURL = "file:///cometgen/schema.json"

// compile compiles the JSON Schema j, written at pos, once, and returns the
// Schema, with a nil validator after recording the problems when j is not
// a valid schema.
func (l *loader) compile(name string, j *jnode, pos Pos) *Schema {
	data := j.marshal()
	s := &Schema{Name: name, JSON: json.RawMessage(data), Pos: pos, tree: j}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("%s cannot be loaded: cometgen loads no schema from URLs (write a $ref to a file of the project instead)", u)
	}
	compiled, err := safeCompile(c, data)
	if err != nil {
		l.schemaErr(j, err)
		return s
	}
	s.validator = validate.New(compiled, data)
	return s
}

// safeCompile compiles data, turning a panic of the compiler into an error.
func safeCompile(c *jsonschema.Compiler, data []byte) (s *jsonschema.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("the JSON Schema compiler failed: %v", r)
		}
	}()
	if err := c.AddResource(schemaURL, bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

// schemaErr records the problems the compiler found in the schema j, each
// at the node it concerns.
func (l *loader) schemaErr(j *jnode, err error) {
	var se *jsonschema.SchemaError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		// The schema fails the meta-schema: one error per place.
		byPlace := map[string][]string{}
		var order []string
		for _, v := range validate.Leaves(ve) {
			if strings.HasSuffix(v.Message, "is not valid 'regex'") {
				continue // checkRegex reported it, with the reason
			}
			if _, ok := byPlace[v.Path]; !ok {
				order = append(order, v.Path)
			}
			if !contains(byPlace[v.Path], v.Message) {
				byPlace[v.Path] = append(byPlace[v.Path], v.Message)
			}
		}
		for _, p := range order {
			// When alternatives fail at a place and below it (type: [string,
			// nul]), the place below says what is wrong.
			if slices.ContainsFunc(order, func(q string) bool { return strings.HasPrefix(q, p+"/") }) {
				continue
			}
			msgs := byPlace[p]
			// A type that is neither a name nor a list: the enum of names
			// says more than "want array".
			if len(msgs) > 1 && slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "enum: ") }) {
				msgs = slices.DeleteFunc(slices.Clone(msgs), func(m string) bool { return strings.HasPrefix(m, "type: ") })
			}
			// Say which keyword of the schema is wrong, not which keyword of
			// the meta-schema it breaks.
			kw := schemaKeyword(p)
			for i, m := range msgs {
				if _, rest, ok := strings.Cut(m, ": "); ok && kw != "" {
					msgs[i] = rest
				}
			}
			if kw != "" {
				l.errAt(j.at(p).pos, "invalid JSON Schema: %s: %s", kw, strings.Join(msgs, "; "))
			} else {
				l.errAt(j.at(p).pos, "invalid JSON Schema: %s", strings.Join(msgs, "; "))
			}
		}
		return
	}
	msg := strings.TrimPrefix(err.Error(), "jsonschema: ")
	msg = strings.ReplaceAll(msg, schemaURL, "")
	at := j
	if r := refNamed(j, msg, 0); r != nil {
		at = r
	}
	l.errAt(at.pos, "invalid JSON Schema: %s", msg)
}

// schemaKeyword returns the last token of the pointer p that is not an
// index ("type" for /properties/a/type/1).
func schemaKeyword(p string) string {
	toks := strings.Split(p, "/")
	for i := len(toks) - 1; i > 0; i-- {
		if _, err := strconv.Atoi(toks[i]); err != nil {
			return strings.ReplaceAll(strings.ReplaceAll(toks[i], "~1", "/"), "~0", "~")
		}
	}
	return ""
}

// refNamed returns the $ref or $schema value in j that msg quotes, or nil.
func refNamed(j *jnode, msg string, depth int) *jnode {
	if depth > MaxDepth {
		return nil
	}
	for i, v := range j.items {
		if j.kind == jObject && (j.keys[i] == "$ref" || j.keys[i] == "$schema") &&
			v.kind == jString && v.str != "" && strings.Contains(msg, v.str) {
			return v
		}
		if r := refNamed(v, msg, depth+1); r != nil {
			return r
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mib formats a size in mebibytes.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
