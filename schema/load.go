package schema

import (
	"fmt"
	"go/token"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The loader's limits. They are variables so that a program (or a test) can
// change them before loading; they must not change while a spec loads.
var (
	// MaxSpecSize is the largest spec, and the largest file a $ref names,
	// in bytes. A larger one is refused before it is parsed.
	MaxSpecSize int64 = 10 << 20
	// MaxNodes bounds the YAML nodes of a document once its aliases are
	// expanded, and the values of all the schemas of a spec once their
	// $refs are inlined: a billion laughs is refused, not expanded.
	MaxNodes = 1_000_000
	// MaxDepth bounds the nesting of a document.
	MaxDepth = 1000
	// MaxRegexLen bounds the length in bytes of every regular expression in
	// a spec (parameter patterns, filters, schema patterns).
	MaxRegexLen = 1000
	// MaxRegexProg bounds the size of the program a regular expression
	// compiles to (a{1000}{1000} is short but huge).
	MaxRegexProg = 20_000
)

// The nesting of the data Schema.Validate checks is bounded by
// validate.MaxDepth (package runtime/validate).

// Load reads and checks the spec at path. Files its $refs name must be in
// path's directory or below. On a wrong spec the error is an ErrorList
// holding every problem found, sorted by position; an error reading the
// spec itself is wrapped as "load path: ...".
//
// A $ref in a schema names a file (YAML or JSON) by its path relative to
// the file the $ref is in, optionally followed by a JSON pointer
// (notice.json#/$defs/Notice). The loader inlines what it points to, so that
// each Schema.JSON stands alone; in those files, $refs within the file
// (#/$defs/Level) are inlined too, and a $ref cycle is an error. In the
// spec itself, a $ref that starts with # is left to JSON Schema: it points
// into the schema it is written in, and may recurse.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxSpecSize {
		return nil, ErrorList{{Pos: Pos{File: path, Line: 1, Col: 1},
			Msg: fmt.Sprintf("spec is %s; the limit is %s", mib(fi.Size()), mib(MaxSpecSize))}}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse checks the spec data, read from file (the name used in positions
// and to resolve $refs). Files its $refs name must be inside root, the
// project directory (normally file's directory; "" means that). On a wrong
// spec the error is an ErrorList.
func Parse(file string, data []byte, root string) (*Spec, error) {
	if root == "" {
		root = filepath.Dir(file)
	}
	l := &loader{
		file:        file,
		rootDisplay: root,
		files:       map[string]*source{},
		refErr:      map[string]string{},
		refCache:    map[string]*jnode{},
		handshake:   HandshakeNone,
	}
	defer l.close()
	if int64(len(data)) > MaxSpecSize {
		return nil, ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1},
			Msg: fmt.Sprintf("spec is %s; the limit is %s", mib(int64(len(data))), mib(MaxSpecSize))}}
	}
	l.openRoot(file, root)
	var spec *Spec
	if n := l.parseYAML(file, data, "spec"); n != nil {
		l.src = &source{display: file, rel: l.specRel, root: n, isSpec: true}
		spec = l.spec(n)
	}
	if len(l.errs) > 0 {
		return nil, l.sorted()
	}
	// The loader's own checks are at least as strict as the published JSON
	// Schema of the language (metaschema_test.go holds them to it), and
	// word their errors better; the JSON Schema still validates every spec
	// that passes them, so that editors and cometgen can never disagree
	// silently.
	if errs := CheckAgainstJSONSchema(file, data); len(errs) > 0 {
		return nil, errs
	}
	return spec, nil
}

// loader holds the state of one Parse.
type loader struct {
	file        string   // the spec, as named to Parse
	src         *source  // the spec
	root        *os.Root // the project directory, nil if it cannot be opened
	rootDisplay string
	rootProblem string // why $refs to files cannot be resolved, when root is nil
	specRel     string // the spec's path inside root ("" if outside)

	errs      ErrorList
	nodes     int  // JSON values converted so far
	spent     bool // nodes reached MaxNodes
	files     map[string]*source
	refErr    map[string]string // why a $ref'd file could not be read, by rel path
	refCache  map[string]*jnode // what each $ref (rel#pointer) converted to; nil if it failed
	handshake HandshakeMode
	roles     map[string]bool
	roleList  []string
	schemas   map[string]*Schema
}

// openRoot opens root for the $refs and places the spec in it.
func (l *loader) openRoot(file, root string) {
	absRoot, err1 := filepath.Abs(root)
	absFile, err2 := filepath.Abs(file)
	if err1 != nil || err2 != nil {
		l.rootProblem = "cannot locate the project directory"
		return
	}
	rel, err := filepath.Rel(absRoot, absFile)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		l.rootProblem = "the spec is not inside the project directory " + root
		return
	}
	l.specRel = filepath.ToSlash(rel)
	r, err := os.OpenRoot(root)
	if err != nil {
		l.rootProblem = fmt.Sprintf("cannot open the project directory: %v", err)
		return
	}
	l.root = r
}

func (l *loader) close() {
	if l.root != nil {
		l.root.Close()
	}
}

// sorted returns the errors sorted by position, the spec's first, without
// repeats.
func (l *loader) sorted() ErrorList {
	list := l.errs
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].Pos, list[j].Pos
		if a.File != b.File {
			if a.File == l.file || b.File == l.file {
				return a.File == l.file
			}
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := list[:0]
	for i, e := range list {
		if i > 0 && *e == *list[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// isExt reports whether key is an extension key (x-...), which cometgen
// ignores.
func isExt(key string) bool { return strings.HasPrefix(key, "x-") }

// unknown records an unknown key, with the closest allowed key.
func (l *loader) unknown(file string, e entry, allowed []string) {
	if s := suggest(e.name, allowed); s != "" {
		l.errf(file, e.key, "unknown key %s; did you mean %s?", e.name, s)
		return
	}
	l.errf(file, e.key, "unknown key %s (allowed: %s, or x-* extensions)", e.name, strings.Join(allowed, ", "))
}

// fields splits the entries of a mapping by key, recording unknown keys
// and skipping extensions.
func (l *loader) fields(file string, es []entry, allowed []string) map[string]entry {
	m := make(map[string]entry, len(es))
	for _, e := range es {
		switch {
		case isExt(e.name):
		case contains(allowed, e.name):
			m[e.name] = e
		default:
			l.unknown(file, e, allowed)
		}
	}
	return m
}

var (
	topKeys     = []string{"$schema", "cometgen", "name", "description", "go", "ts", "auth", "schemas", "channels"}
	goKeys      = []string{"package", "out", "client"}
	tsKeys      = []string{"out", "validate"}
	authKeys    = []string{"handshake", "roles"}
	appNameRE   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)
	roleRE      = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	schemaRE    = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	reservedAll = []string{"anyone", "authenticated", "server", "self"}
)

// spec checks the root of the spec.
func (l *loader) spec(root *yaml.Node) *Spec {
	f := l.file
	es, ok := l.mapping(f, root, "a spec")
	if !ok {
		return nil
	}
	m := l.fields(f, es, topKeys)
	s := &Spec{File: f, Auth: Auth{Handshake: HandshakeNone}, Schemas: map[string]*Schema{}}
	s.Extensions = l.extensions(es)
	if e, ok := m["$schema"]; ok {
		// The JSON Schema an editor should use for this file; cometgen
		// reads nothing else from it.
		if n := deref(e.val); n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			l.errf(f, n, "$schema must be a string (the URL or path of the spec language's JSON Schema)")
		}
	}

	if e, ok := m["cometgen"]; !ok {
		l.errf(f, root, "missing cometgen: %d (the version of the spec language)", Version)
	} else if n := deref(e.val); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, ok := l.integer(f, n, "cometgen"); ok && v != Version {
			// A spec of another version is read by another cometgen: its
			// other problems would only be noise.
			l.errs = ErrorList{{Pos: posOf(f, n), Msg: fmt.Sprintf("unsupported spec version %s (this cometgen reads version %d)", n.Value, Version)}}
			return nil
		}
	} else {
		l.errf(f, n, "cometgen must be the integer %d (the version of the spec language), not %s", Version, kindName(n))
	}

	if e, ok := m["name"]; !ok {
		l.errf(f, root, "missing name (the application's name)")
	} else if v, ok := l.str(f, e.val, "name"); ok {
		if ValidName(v) {
			s.Name = v
		} else {
			l.errf(f, e.val, "invalid name %q: letters, digits, '-' and '_', starting with a letter", v)
		}
	}
	if e, ok := m["description"]; ok {
		s.Description, _ = l.str(f, e.val, "description")
	}
	if e, ok := m["go"]; ok {
		if ges, ok := l.mapping(f, e.val, "go"); ok {
			gm := l.fields(f, ges, goKeys)
			if pe, ok := gm["package"]; ok {
				if v, ok := l.str(f, pe.val, "go.package"); ok {
					if token.IsIdentifier(v) && !token.IsKeyword(v) {
						s.Go.Package = v
					} else {
						l.errf(f, pe.val, "go.package %q is not a Go identifier", v)
					}
				}
			}
			if oe, ok := gm["out"]; ok {
				s.Go.Out = l.outPath(oe.val, "go.out")
			}
			if ce, ok := gm["client"]; ok {
				if b, ok := boolean(ce.val); ok {
					s.Go.Client = b
				} else {
					l.errf(f, ce.val, "go.client must be true or false")
				}
			}
		}
	}
	if e, ok := m["ts"]; ok {
		if tes, ok := l.mapping(f, e.val, "ts"); ok {
			tm := l.fields(f, tes, tsKeys)
			if oe, ok := tm["out"]; ok {
				if out := l.outPath(oe.val, "ts.out"); out != "" {
					if ext := path.Ext(out); ext != ".ts" && ext != ".js" {
						l.errf(f, oe.val, "ts.out %q must end in .ts (TypeScript) or .js (JavaScript and a .d.ts)", out)
					} else {
						s.TS.Out = out
					}
				}
			}
			if ve, ok := tm["validate"]; ok {
				if b, ok := boolean(ve.val); ok {
					s.TS.Validate = b
				} else {
					l.errf(f, ve.val, "ts.validate must be true or false")
				}
			}
		}
	}
	if e, ok := m["auth"]; ok {
		l.auth(e, &s.Auth)
	}
	l.handshake = s.Auth.Handshake
	l.roles = map[string]bool{}
	for _, r := range s.Auth.Roles {
		l.roles[r] = true
	}
	l.roleList = s.Auth.Roles

	l.schemas = s.Schemas
	if e, ok := m["schemas"]; ok {
		l.namedSchemas(e)
	}
	if e, ok := m["channels"]; ok {
		s.Channels = l.channels(e)
	}
	return s
}

// outPath checks an output path: relative, and inside the project.
func (l *loader) outPath(n *yaml.Node, what string) string {
	v, ok := l.str(l.file, n, what)
	if !ok {
		return ""
	}
	slash := filepath.ToSlash(v)
	switch {
	case v == "":
		l.errf(l.file, n, "%s must not be empty", what)
		return ""
	case path.IsAbs(slash) || filepath.IsAbs(v) || filepath.VolumeName(v) != "":
		l.errf(l.file, n, "%s must be relative to the spec's directory, not absolute", what)
		return ""
	}
	rel := path.Join(path.Dir(l.specRel), slash)
	if l.specRel == "" {
		rel = path.Clean(slash)
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		l.errf(l.file, n, "%s leaves the project directory %s", what, l.rootDisplay)
		return ""
	}
	return v
}

// auth checks the auth section.
func (l *loader) auth(e entry, a *Auth) {
	f := l.file
	es, ok := l.mapping(f, e.val, "auth")
	if !ok {
		return
	}
	m := l.fields(f, es, authKeys)
	if he, ok := m["handshake"]; ok {
		if v, ok := l.str(f, he.val, "auth.handshake"); ok {
			switch HandshakeMode(v) {
			case HandshakeNone, HandshakeOptional, HandshakeRequired:
				a.Handshake = HandshakeMode(v)
			default:
				l.errf(f, he.val, "invalid auth.handshake %s: none, optional or required%s", v,
					didYouMean(v, []string{"none", "optional", "required"}))
			}
		}
	}
	if re, ok := m["roles"]; ok {
		roles, nodes, _ := l.strs(f, re.val, "auth.roles")
		seen := map[string]bool{}
		for i, r := range roles {
			switch {
			case !roleRE.MatchString(r):
				l.errf(f, nodes[i], "invalid role name %q: lower-case letters, digits, '-' and '_', starting with a letter", r)
			case contains(reservedAll, r):
				l.errf(f, nodes[i], "role name %s is reserved (rules use it for something else)", r)
			case seen[r]:
				l.errf(f, nodes[i], "role %s is listed twice", r)
			default:
				seen[r] = true
				a.Roles = append(a.Roles, r)
			}
		}
	}
}

// namedSchemas checks and compiles the schemas section.
func (l *loader) namedSchemas(e entry) {
	f := l.file
	es, ok := l.mapping(f, e.val, "schemas")
	if !ok {
		return
	}
	for _, se := range es {
		if isExt(se.name) {
			continue
		}
		if !schemaRE.MatchString(se.name) {
			l.errf(f, se.key, "invalid schema name %q: a letter A-Z, then letters and digits (it names a generated type)", se.name)
			continue
		}
		v := deref(se.val)
		if v == nil || v.Kind != yaml.MappingNode {
			l.errf(f, se.val, "schema %s must be a mapping (a JSON Schema), not %s", se.name, kindName(v))
			continue
		}
		l.schemas[se.name] = l.schemaAt(se.name, se.val)
	}
}

// schemaAt converts and compiles the schema written at n in the spec.
func (l *loader) schemaAt(name string, n *yaml.Node) *Schema {
	j := l.convert(l.src, n, asSchema, nil)
	pos := posOf(l.file, deref(n))
	if j == nil {
		return &Schema{Name: name, Pos: pos}
	}
	if j.kind != jObject && j.kind != jBool {
		l.errAt(j.pos, "a schema must be a mapping (a JSON Schema), not %s", kindName(deref(n)))
		return &Schema{Name: name, Pos: pos, JSON: j.marshal()}
	}
	return l.compile(name, j, pos)
}
