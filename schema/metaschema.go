package schema

import (
	"bytes"
	_ "embed" // the JSON Schema of the spec language
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"
)

// JSONSchemaID is the $id of the JSON Schema of the spec language, version 1.
const JSONSchemaID = "https://cometgen.dev/schema/cometgen-1.json"

//go:embed cometgen.schema.json
var jsonSchemaText []byte

// JSONSchema returns the JSON Schema (draft 2020-12) of the spec language:
// what `cometgen schema` prints, what editors use to complete and check a
// spec (`# yaml-language-server: $schema=...`). The caller owns the slice.
func JSONSchema() []byte { return bytes.Clone(jsonSchemaText) }

// metaSchema is the compiled JSON Schema and its decoded document, which
// error messages consult (errorMessage, patternErrorMessage, the properties
// an unknown key could have meant).
var metaSchema = sync.OnceValues(func() (*compiledMeta, error) {
	var doc map[string]any
	if err := json.Unmarshal(jsonSchemaText, &doc); err != nil {
		return nil, fmt.Errorf("schema: cometgen.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(JSONSchemaID, bytes.NewReader(jsonSchemaText)); err != nil {
		return nil, fmt.Errorf("schema: cometgen.schema.json: %w", err)
	}
	s, err := c.Compile(JSONSchemaID)
	if err != nil {
		return nil, fmt.Errorf("schema: cometgen.schema.json: %w", err)
	}
	return &compiledMeta{schema: s, doc: doc}, nil
})

type compiledMeta struct {
	schema *jsonschema.Schema
	doc    map[string]any
}

// msMaxSpecNodes bounds the values a spec expands to (YAML aliases can make a
// small file describe a huge document).
const msMaxSpecNodes = 1 << 20

// CheckAgainstJSONSchema validates a spec document (YAML or JSON) against
// the JSON Schema of the spec language and returns every problem, sorted by
// position, each at the YAML node it is about (an unknown or badly named
// key at the key, anything else at the value). Nil means the document has
// the shape of a spec; the loader checks the rest (references, regexes,
// message schemas, overlapping channels).
//
// A document that is not YAML is one error at the position the YAML parser
// reports; a document with duplicate keys reports each duplicate.
func CheckAgainstJSONSchema(file string, data []byte) ErrorList {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return ErrorList{msYamlError(file, err)}
	}
	return checkJSONSchemaNode(file, &doc)
}

// checkJSONSchemaNode is CheckAgainstJSONSchema for a parsed document, for
// a loader that has parsed it already.
func checkJSONSchemaNode(file string, doc *yaml.Node) ErrorList {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "empty spec: want a mapping starting with cometgen: 1"}}
		}
		root = root.Content[0]
	}
	if root.Kind == 0 {
		return ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "empty spec: want a mapping starting with cometgen: 1"}}
	}
	meta, err := metaSchema()
	if err != nil {
		return ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: err.Error()}}
	}
	c := &msConverter{file: file}
	v := c.value(root)
	if c.tooBig {
		return append(c.errs, &Error{Pos: msNodePos(file, root), Msg: "spec too large: more than 1048576 values once aliases are expanded"})
	}
	m := &errorMapper{file: file, root: root, meta: meta, seen: map[string]bool{}}
	m.errs = c.errs
	if err := meta.schema.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			standardPointers(ve)
			m.walk(ve)
		} else {
			m.add(root, err.Error())
		}
	}
	msSortErrors(m.errs)
	return m.errs
}

// msSortErrors sorts errors by position, then message.
func msSortErrors(l ErrorList) {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return l[i].Msg < l[j].Msg
	})
}

var msYamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(?:column (\d+): )?`)

// msYamlError turns an error of the YAML parser into an Error at the line it
// names.
func msYamlError(file string, err error) *Error {
	msg := err.Error()
	pos := Pos{File: file, Line: 1, Col: 1}
	if m := msYamlLineRE.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			pos.Line, _ = strconv.Atoi(m[1])
		}
		if m[2] != "" {
			pos.Col, _ = strconv.Atoi(m[2])
		}
		msg = msg[len(m[0]):]
	}
	return &Error{Pos: pos, Msg: "not YAML: " + msg}
}

func msNodePos(file string, n *yaml.Node) Pos {
	if n == nil || n.Line == 0 {
		return Pos{File: file, Line: 1, Col: 1}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

// msConverter turns YAML nodes into the values JSON Schema validates
// (map[string]any, []any, string, json.Number, float64, bool, nil).
type msConverter struct {
	file   string
	errs   ErrorList
	n      int
	tooBig bool
}

func (c *msConverter) value(n *yaml.Node) any {
	c.n++
	if c.n > msMaxSpecNodes {
		c.tooBig = true
		return nil
	}
	if c.tooBig {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		return c.value(n.Alias)
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, e := range n.Content {
			a[i] = c.value(e)
		}
		return a
	case yaml.MappingNode:
		return c.mapping(n)
	case yaml.ScalarNode:
		return msScalar(n)
	}
	return nil
}

func (c *msConverter) mapping(n *yaml.Node) map[string]any {
	m := make(map[string]any, len(n.Content)/2)
	first := make(map[string]*yaml.Node, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if msIsMerge(k) {
			merges = append(merges, v)
			continue
		}
		key := msResolveAlias(k).Value
		if prev, dup := first[key]; dup {
			c.errs = append(c.errs, &Error{Pos: msNodePos(c.file, k), Msg: fmt.Sprintf("duplicate key %q (first at line %d)", key, prev.Line)})
			continue
		}
		first[key] = k
		m[key] = c.value(v)
	}
	// Merged keys (<<: *base) never override the mapping's own keys; an
	// earlier merge wins over a later one.
	for _, v := range merges {
		v = msResolveAlias(v)
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, s := range srcs {
			s = msResolveAlias(s)
			if s.Kind != yaml.MappingNode {
				continue
			}
			for key, val := range c.mapping(s) {
				if _, ok := m[key]; !ok {
					m[key] = val
				}
			}
		}
	}
	return m
}

func msIsMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

func msResolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// msScalar returns the JSON value of a scalar node: numbers as json.Number
// (float64 for .inf and .nan), timestamps and binary as their text.
func msScalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if n.Decode(&u) == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
		var f float64
		if n.Decode(&f) == nil {
			return msFloatValue(f)
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return msFloatValue(f)
		}
	}
	return n.Value
}

func msFloatValue(f float64) any {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// msSplitPointer returns the unescaped reference tokens of a JSON pointer.
func msSplitPointer(pointer string) []string {
	if pointer == "" {
		return nil
	}
	toks := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for i, t := range toks {
		toks[i] = msUnescapeToken(t)
	}
	return toks
}

// nodeAt returns the YAML node a JSON pointer addresses in the document
// under root ("" is root itself; "/channels/~1chat~1{room}/message" the
// message of channel /chat/{room}), following aliases and merge keys. When
// the pointer leads nowhere it returns the deepest node it reached, so an
// error about a missing value points at its parent.
func nodeAt(root *yaml.Node, pointer string) *yaml.Node {
	_, v := msLookup(root, msSplitPointer(pointer))
	return v
}

// keyAt is nodeAt for the key of a mapping entry: the key node of the last
// token when its parent is a mapping, else what nodeAt returns.
func keyAt(root *yaml.Node, pointer string) *yaml.Node {
	k, v := msLookup(root, msSplitPointer(pointer))
	if k != nil {
		return k
	}
	return v
}

// msLookup walks toks from root and returns the key node (nil for a sequence
// element or root) and value node of the last token reached.
func msLookup(root *yaml.Node, toks []string) (key, val *yaml.Node) {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, t := range toks {
		n = msResolveAlias(n)
		k, v := msChild(n, t, 0)
		if v == nil {
			return nil, n
		}
		key, n = k, v
	}
	return key, n
}

// msChild returns the key and value of the entry t of a mapping (looking into
// merged mappings when it has no such key) or the element t of a sequence.
func msChild(n *yaml.Node, t string, depth int) (key, val *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !msIsMerge(k) && msResolveAlias(k).Value == t {
				return k, n.Content[i+1]
			}
		}
		if depth > 10 {
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !msIsMerge(n.Content[i]) {
				continue
			}
			v := msResolveAlias(n.Content[i+1])
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				if k, v := msChild(msResolveAlias(s), t, depth+1); v != nil {
					return k, v
				}
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(t)
		if err == nil && i >= 0 && i < len(n.Content) {
			return nil, n.Content[i]
		}
	}
	return nil, nil
}

// errorMapper turns a validation error tree into Errors at YAML positions,
// with messages written for people rather than for schema authors.
type errorMapper struct {
	file string
	root *yaml.Node
	meta *compiledMeta
	errs ErrorList
	seen map[string]bool
}

func (m *errorMapper) add(n *yaml.Node, msg string) {
	pos := msNodePos(m.file, n)
	id := pos.String() + "\x00" + msg
	if m.seen[id] {
		return
	}
	m.seen[id] = true
	m.errs = append(m.errs, &Error{Pos: pos, Msg: msg})
}

// msLastToken returns the last reference token of a JSON pointer, still
// escaped.
func msLastToken(pointer string) string {
	return pointer[strings.LastIndexByte(pointer, '/')+1:]
}

// msUnescapeToken undoes the ~0 and ~1 escapes of a reference token.
func msUnescapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}

func msParentPointer(pointer string) string {
	if i := strings.LastIndexByte(pointer, '/'); i >= 0 {
		return pointer[:i]
	}
	return ""
}

// standardPointers rewrites the locations of the error tree as plain JSON
// pointers: the validator percent-encodes each token ({ as %7B).
func standardPointers(e *jsonschema.ValidationError) {
	e.InstanceLocation = msUnpercent(e.InstanceLocation)
	e.KeywordLocation = msUnpercent(e.KeywordLocation)
	if i := strings.IndexByte(e.AbsoluteKeywordLocation, '#'); i >= 0 {
		e.AbsoluteKeywordLocation = e.AbsoluteKeywordLocation[:i+1] + msUnpercent(e.AbsoluteKeywordLocation[i+1:])
	}
	for _, c := range e.Causes {
		standardPointers(c)
	}
}

func msUnpercent(pointer string) string {
	if !strings.Contains(pointer, "%") {
		return pointer
	}
	toks := strings.Split(pointer, "/")
	for i, t := range toks {
		if u, err := url.PathUnescape(t); err == nil {
			toks[i] = u
		}
	}
	return strings.Join(toks, "/")
}

func (m *errorMapper) walk(e *jsonschema.ValidationError) {
	if len(e.Causes) == 0 {
		m.leaf(e)
		return
	}
	switch msLastToken(e.KeywordLocation) {
	case "anyOf", "oneOf":
		m.alternatives(e)
		return
	}
	for _, c := range e.Causes {
		m.walk(c)
	}
}

// msLeaves appends the leaf errors under e.
func msLeaves(dst []*jsonschema.ValidationError, e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(dst, e)
	}
	for _, c := range e.Causes {
		dst = msLeaves(dst, c)
	}
	return dst
}

var msExpectedTypeRE = regexp.MustCompile(`^expected (.*), but got (\w+)$`)

// alternatives reports an anyOf or oneOf that no branch satisfies: the
// errors of the one branch the value was meant for (the only branch of the
// value's type), or else one summary.
func (m *errorMapper) alternatives(e *jsonschema.ValidationError) {
	var candidates []*jsonschema.ValidationError
	var wants []string
	got := ""
	for _, branch := range e.Causes {
		typeMismatch := false
		for _, l := range msLeaves(nil, branch) {
			if l.InstanceLocation != e.InstanceLocation {
				continue
			}
			if msLastToken(l.KeywordLocation) == "type" {
				typeMismatch = true
				if sm := msExpectedTypeRE.FindStringSubmatch(l.Message); sm != nil {
					for _, w := range strings.Split(sm[1], " or ") {
						if !slices.Contains(wants, w) {
							wants = append(wants, w)
						}
					}
					got = sm[2]
				}
			}
		}
		if !typeMismatch {
			candidates = append(candidates, branch)
		}
	}
	n := nodeAt(m.root, e.InstanceLocation)
	label := m.label(e.InstanceLocation)
	if len(candidates) == 1 {
		m.walk(candidates[0])
		return
	}
	if msg := m.schemaString(msParentPointer(e.AbsoluteKeywordLocation), "errorMessage"); msg != "" {
		onlyMissing := true
		for _, l := range msLeaves(nil, e) {
			onlyMissing = onlyMissing && msLastToken(l.KeywordLocation) == "required"
		}
		if onlyMissing {
			// Something missing from a mapping: point at its key.
			n = keyAt(m.root, e.InstanceLocation)
		}
		m.add(n, label+msg)
		return
	}
	if len(candidates) == 0 && len(wants) > 0 {
		m.add(n, fmt.Sprintf("%sexpected %s, got %s", label, strings.Join(wants, " or "), got))
		return
	}
	// Several branches of the value's type: the one that got deepest into
	// the value is the likeliest intent.
	best, depth := candidates, -1
	for _, c := range candidates {
		d := 0
		for _, l := range msLeaves(nil, c) {
			d = max(d, strings.Count(l.InstanceLocation, "/"))
		}
		if d > depth {
			best, depth = []*jsonschema.ValidationError{c}, d
		}
	}
	if len(best) > 0 {
		m.walk(best[0])
	}
}

// schemaAt returns the object of the spec language's JSON Schema at an
// absolute keyword location, or nil when the location is in another
// document (the JSON Schema meta-schema).
func (m *errorMapper) schemaAt(absLoc string) map[string]any {
	prefix := JSONSchemaID + "#"
	if !strings.HasPrefix(absLoc, prefix) {
		return nil
	}
	var cur any = m.meta.doc
	for _, t := range msSplitPointer(absLoc[len(prefix):]) {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	s, _ := cur.(map[string]any)
	return s
}

func (m *errorMapper) schemaString(absLoc, key string) string {
	s, _ := m.schemaAt(absLoc)[key].(string)
	return s
}

// label names the value at pointer for a message: "handshake: ",
// "filters[1]: ", or nothing for the whole document.
func (m *errorMapper) label(pointer string) string {
	if pointer == "" {
		return ""
	}
	t := msUnescapeToken(msLastToken(pointer))
	parent := msParentPointer(pointer)
	if p := nodeAt(m.root, parent); p != nil && msResolveAlias(p).Kind == yaml.SequenceNode {
		return msUnescapeToken(msLastToken(parent)) + "[" + t + "]: "
	}
	return t + ": "
}

// msKeyKind names what the keys of the mapping at pointer are.
func msKeyKind(pointer string) string {
	switch msLastToken(pointer) {
	case "channels":
		return "channel name"
	case "schemas":
		return "schema name"
	case "params":
		return "parameter name"
	}
	return "key"
}

func (m *errorMapper) leaf(e *jsonschema.ValidationError) {
	keyword := msLastToken(e.KeywordLocation)
	parentLoc := msParentPointer(e.AbsoluteKeywordLocation)
	sch := m.schemaAt(parentLoc)
	errorMessage, _ := sch["errorMessage"].(string)

	if strings.Contains(e.KeywordLocation, "/propertyNames/") {
		// A key that is not a valid name: the value's location, but the
		// key's fault.
		name := msUnescapeToken(msLastToken(e.InstanceLocation))
		why := errorMessage
		if keyword == "pattern" {
			if s, _ := sch["patternErrorMessage"].(string); s != "" {
				why = s
			}
		}
		if why == "" {
			why = e.Message
		}
		m.add(keyAt(m.root, e.InstanceLocation), fmt.Sprintf("invalid %s %q: %s", msKeyKind(msParentPointer(e.InstanceLocation)), name, why))
		return
	}

	n := nodeAt(m.root, e.InstanceLocation)
	label := m.label(e.InstanceLocation)
	switch keyword {
	case "additionalProperties":
		if sch != nil {
			m.unknownKeys(e.InstanceLocation, sch)
			return
		}
	case "required":
		// Something missing from a mapping: point at its key, where a
		// reader looks, rather than at its first entry.
		n = keyAt(m.root, e.InstanceLocation)
		if req, ok := sch["required"].([]any); ok {
			obj := msResolveAlias(nodeAt(m.root, e.InstanceLocation))
			for _, r := range req {
				name, _ := r.(string)
				if _, v := msChild(obj, name, 0); v == nil && !m.misspelt(obj, name, sch) {
					where := strings.TrimSuffix(label, ": ")
					if where == "" {
						m.add(n, fmt.Sprintf("missing key %q", name))
					} else {
						m.add(n, fmt.Sprintf("%s: missing key %q", where, name))
					}
				}
			}
			return
		}
	case "pattern":
		if s, _ := sch["patternErrorMessage"].(string); s != "" {
			m.add(n, fmt.Sprintf("%sinvalid value %q: %s", label, msResolveAlias(n).Value, s))
			return
		}
	case "format":
		if strings.HasSuffix(e.Message, "is not valid 'regex'") {
			if _, err := regexp.Compile(msResolveAlias(n).Value); err != nil {
				m.add(n, label+"invalid regular expression: "+strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				return
			}
		}
	case "enum":
		if errorMessage == "" {
			if vals, ok := sch["enum"].([]any); ok {
				m.add(n, label+msEnumMessage(vals, msResolveAlias(n)))
				return
			}
		}
	case "type":
		if errorMessage == "" {
			if sm := msExpectedTypeRE.FindStringSubmatch(e.Message); sm != nil {
				m.add(n, fmt.Sprintf("%sexpected %s, got %s", label, sm[1], sm[2]))
				return
			}
		}
	case "not":
		if errorMessage == "" {
			errorMessage = "not allowed"
		}
	}
	if errorMessage != "" {
		m.add(n, label+errorMessage)
		return
	}
	msg := e.Message
	if v := msResolveAlias(n); v.Kind == yaml.ScalarNode && strings.HasPrefix(msg, "value must be one of ") {
		msg = fmt.Sprintf("%q is not one of %s", v.Value, strings.TrimPrefix(msg, "value must be one of "))
	}
	m.add(n, label+msg)
}

// misspelt reports whether the mapping obj has an unknown key that is a
// likely typo of name (already reported as unknown, with a "did you mean").
func (m *errorMapper) misspelt(obj *yaml.Node, name string, sch map[string]any) bool {
	if obj.Kind != yaml.MappingNode {
		return false
	}
	props, _ := sch["properties"].(map[string]any)
	for i := 0; i < len(obj.Content); i += 2 {
		k := msResolveAlias(obj.Content[i]).Value
		if _, ok := props[k]; !ok && msClosest(k, []string{name}) != "" {
			return true
		}
	}
	return false
}

// msEnumMessage says which values are allowed, and which one was probably
// meant.
func msEnumMessage(vals []any, n *yaml.Node) string {
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = fmt.Sprint(v)
	}
	msg := "must be one of " + strings.Join(names, ", ")
	if n.Kind == yaml.ScalarNode {
		if s := msClosest(n.Value, names); s != "" {
			msg = fmt.Sprintf("%q is not one of %s (did you mean %q?)", n.Value, strings.Join(names, ", "), s)
		} else {
			msg = fmt.Sprintf("%q is not one of %s", n.Value, strings.Join(names, ", "))
		}
	}
	return msg
}

// unknownKeys reports each key of the mapping at pointer that the schema
// sch neither declares nor matches with a pattern.
func (m *errorMapper) unknownKeys(pointer string, sch map[string]any) {
	props, _ := sch["properties"].(map[string]any)
	var known []string
	for k := range props {
		known = append(known, k)
	}
	sort.Strings(known)
	var patterns []*regexp.Regexp
	if pp, ok := sch["patternProperties"].(map[string]any); ok {
		for p := range pp {
			if re, err := regexp.Compile(p); err == nil {
				patterns = append(patterns, re)
			}
		}
	}
	obj := msResolveAlias(nodeAt(m.root, pointer))
	if obj.Kind != yaml.MappingNode {
		return
	}
	where := strings.TrimSuffix(m.label(pointer), ": ")
	for i := 0; i+1 < len(obj.Content); i += 2 {
		k := obj.Content[i]
		if msIsMerge(k) {
			continue
		}
		name := msResolveAlias(k).Value
		if _, ok := props[name]; ok || slices.ContainsFunc(patterns, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
			continue
		}
		msg := fmt.Sprintf("unknown key %q", name)
		if where != "" {
			msg = fmt.Sprintf("unknown key %q in %s", name, where)
		}
		title, _ := sch["title"].(string)
		if why := msMisplaced[title+"\x00"+name]; why != "" {
			msg += ": " + why
		} else if s := msClosest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(known) > 0 && len(known) <= 12 {
			msg += " (want " + strings.Join(known, ", ") + ")"
		}
		m.add(k, msg)
	}
}

// msMisplaced explains keys that belong to the other kind of channel, by
// the title of the channel's schema and the key.
var msMisplaced = map[string]string{
	"Service channel\x00message":   "a /service channel has request and reply, not message",
	"Service channel\x00subscribe": "clients cannot subscribe to a /service channel",
	"Broadcast channel\x00request": "request and reply are for /service channels; a broadcast channel has message",
	"Broadcast channel\x00reply":   "request and reply are for /service channels; a broadcast channel has message",
}

// msClosest returns the candidate nearest to s by edit distance, if near
// enough to be a likely typo, or "".
func msClosest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := msEditDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, len(best)/3) {
		return ""
	}
	return best
}

// msEditDistance is the optimal string alignment distance of a and b, in
// bytes: the edits are insertions, deletions, substitutions and
// transpositions of adjacent bytes ("rolse" is one edit from "roles").
func msEditDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
