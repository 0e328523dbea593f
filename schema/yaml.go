package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file holds the YAML layer of the loader: parsing a document with
// positions, bounding what aliases expand to, and reading mappings, scalars
// and sequences while reporting type errors at their nodes.

// errf records a problem at n, a node of file.
func (l *loader) errf(file string, n *yaml.Node, format string, args ...any) {
	l.errAt(posOf(file, n), format, args...)
}

// errAt records a problem at p.
func (l *loader) errAt(p Pos, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// posOf returns the position of n in file (1:1 for a nil node).
func posOf(file string, n *yaml.Node) Pos {
	if n == nil || n.Line == 0 {
		return Pos{File: file, Line: 1, Col: 1}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data, the content of file, as one YAML document and
// returns its root node, bounded in size and depth, or nil after recording
// why not. what names the document in messages ("spec", "file").
func (l *loader) parseYAML(file string, data []byte, what string) *yaml.Node {
	start := len(l.errs)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		l.errAt(Pos{File: file, Line: 1, Col: 1}, "empty %s: a %s is a YAML or JSON mapping", what, what)
		return nil
	case err != nil:
		l.yamlErr(file, err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		l.yamlErr(file, err)
	default:
		l.errf(file, &next, "a %s is one YAML document; this is a second one", what)
	}
	if len(l.errs) > start {
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			l.errAt(Pos{File: file, Line: 1, Col: 1}, "empty %s: a %s is a YAML or JSON mapping", what, what)
			return nil
		}
		root = root.Content[0]
	}
	if !l.bound(file, root) {
		return nil
	}
	return root
}

// yamlErr records a YAML syntax error, at its line when it says one.
func (l *loader) yamlErr(file string, err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		l.errAt(Pos{File: file, Line: max(line, 1), Col: 1}, "not valid YAML: %s", m[2])
		return
	}
	l.errAt(Pos{File: file, Line: 1, Col: 1}, "not valid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// bound checks that root, aliases expanded, has at most MaxNodes nodes and
// is nested at most MaxDepth levels, and that no alias refers to a node that
// contains it. It records an error and returns false otherwise. Counting is
// linear in the size of the document as written, whatever the aliases
// expand to.
func (l *loader) bound(file string, root *yaml.Node) bool {
	b := &bounder{
		size:  map[*yaml.Node]int{},
		depth: map[*yaml.Node]int{},
		open:  map[*yaml.Node]bool{},
	}
	b.walk(root)
	switch {
	case b.cycle != nil:
		l.errf(file, b.cycle, "alias *%s refers to a node that contains it", b.cycle.Value)
		return false
	case b.size[root] > MaxNodes:
		l.errf(file, root, "the %s expands to more than %d YAML nodes (are aliases nested to multiply, as in a billion laughs?)", docWhat(l, file), MaxNodes)
		return false
	case b.depth[root] > MaxDepth:
		// Report the node at which the limit is crossed.
		n := root
		for d := 1; d <= MaxDepth; d++ {
			n = deepestChild(b, n)
		}
		l.errf(file, n, "nested deeper than %d levels", MaxDepth)
		return false
	}
	return true
}

func docWhat(l *loader, file string) string {
	if file == l.file {
		return "spec"
	}
	return "file"
}

type bounder struct {
	size, depth map[*yaml.Node]int
	open        map[*yaml.Node]bool
	cycle       *yaml.Node
}

// walk fills size and depth for n and its descendants. Sizes saturate at
// MaxNodes+1 and depths at MaxDepth+1, which is all the caller needs.
func (b *bounder) walk(n *yaml.Node) {
	if _, done := b.size[n]; done || b.cycle != nil {
		return
	}
	if b.open[n] {
		b.cycle = n
		return
	}
	b.open[n] = true
	defer delete(b.open, n)
	size, depth := 1, 1
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			b.size[n], b.depth[n] = 1, 1
			return
		}
		if b.open[n.Alias] {
			b.cycle = n
			return
		}
		b.walk(n.Alias)
		size, depth = b.size[n.Alias], b.depth[n.Alias]
	} else {
		for _, c := range n.Content {
			b.walk(c)
			if b.cycle != nil {
				return
			}
			size = min(size+b.size[c], MaxNodes+1)
			depth = max(depth, min(b.depth[c]+1, MaxDepth+1))
		}
	}
	b.size[n], b.depth[n] = size, depth
}

// deepestChild returns the child of n (through aliases) deepest below it.
func deepestChild(b *bounder, n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	best := n
	d := -1
	for _, c := range n.Content {
		if b.depth[c] > d {
			best, d = c, b.depth[c]
		}
	}
	return best
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// entry is a key and its value in a mapping.
type entry struct {
	name     string
	key, val *yaml.Node
}

// mapping returns the entries of the mapping n, merge keys (<<) expanded
// (keys written in n win), after checking that n is a mapping whose keys
// are strings written once. It records problems and returns ok false when n
// is not a mapping. what names n in messages ("a channel").
func (l *loader) mapping(file string, n *yaml.Node, what string) (es []entry, ok bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		l.errf(file, n, "%s must be a mapping, not %s", what, kindName(n))
		return nil, false
	}
	return l.entries(file, n, true), true
}

// entries returns the entries of the mapping n; report says whether to
// record problems (not for the mappings merged into another).
func (l *loader) entries(file string, n *yaml.Node, report bool) []entry {
	var es []entry
	var merges []*yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			if report {
				l.errf(file, n.Content[i], "a key must be a string, not %s", kindName(k))
			}
			continue
		}
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			if report {
				l.errf(file, n.Content[i], "duplicate key %s (first at line %d)", k.Value, first.Line)
			}
			continue
		}
		seen[k.Value] = k
		es = append(es, entry{name: k.Value, key: n.Content[i], val: v})
	}
	for _, m := range merges {
		m = deref(m)
		var srcs []*yaml.Node
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			srcs = []*yaml.Node{m}
		case m.Kind == yaml.SequenceNode:
			for _, s := range m.Content {
				if s = deref(s); s != nil && s.Kind == yaml.MappingNode {
					srcs = append(srcs, s)
				} else if report {
					l.errf(file, s, "a merge (<<) takes mappings, not %s", kindName(s))
				}
			}
		default:
			if report {
				l.errf(file, m, "a merge (<<) takes a mapping or a list of mappings, not %s", kindName(m))
			}
		}
		for _, s := range srcs {
			for _, e := range l.entries(file, s, false) {
				if seen[e.name] == nil {
					seen[e.name] = e.key
					es = append(es, e)
				}
			}
		}
	}
	return es
}

// kindName describes the kind of a node for messages.
func kindName(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp", "!!binary":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a " + n.ShortTag() + " value"
	}
	return "nothing"
}

// str returns the string n holds, or records that it is not one.
func (l *loader) str(file string, n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		l.errf(file, n, "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// integer returns the integer n holds, or records that it is not one.
func (l *loader) integer(file string, n *yaml.Node, what string) (int, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		l.errf(file, n, "%s must be an integer, not %s", what, kindName(n))
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || int64(int(i)) != i {
		l.errf(file, n, "%s: %s is out of range", what, n.Value)
		return 0, false
	}
	return int(i), true
}

// boolean returns the boolean n holds, if it holds one.
func boolean(n *yaml.Node) (v, ok bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, false
	}
	v, err := strconv.ParseBool(n.Value)
	return v, err == nil
}

// seq returns the items of the sequence n, or records that it is not one.
func (l *loader) seq(file string, n *yaml.Node, what string) ([]*yaml.Node, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		l.errf(file, n, "%s must be a list, not %s", what, kindName(n))
		return nil, false
	}
	return n.Content, true
}

// strs returns the strings of the sequence n.
func (l *loader) strs(file string, n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	items, ok := l.seq(file, n, what)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	nodes := make([]*yaml.Node, 0, len(items))
	for _, it := range items {
		if s, ok2 := l.str(file, it, "each of "+what); ok2 {
			out = append(out, s)
			nodes = append(nodes, deref(it))
		} else {
			ok = false
		}
	}
	return out, nodes, ok
}
