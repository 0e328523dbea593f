package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var (
	channelKeys = []string{"description", "deprecated", "params", "message", "request", "reply",
		"examples", "subscribe", "publish", "filters", "lazy", "local"}
	paramKeys   = []string{"pattern", "minLength", "maxLength", "enum", "description"}
	ruleKeys    = []string{"allow"}
	lazyKeys    = []string{"timeout"}
	filterNames = []string{"trim", "no-markup", "no-scripts", "max-length", "regex-replace", "regex-abort", "custom"}
	paramNameRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	customRE    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]*$`)
)

// segment is one segment of a channel pattern: a literal, or a parameter.
type segment struct {
	lit   string
	param string // the parameter's name, for {name}
}

// pattern is a parsed channel pattern.
type pattern struct {
	segs   []segment
	params []string // in order
	wild   bool     // ends in /* or /**
}

// parsePattern parses a channel pattern, returning why it is invalid.
func parsePattern(p string) (*pattern, string) {
	if !strings.HasPrefix(p, "/") {
		return nil, "a channel starts with /"
	}
	if len(p) < 2 {
		return nil, "a channel has at least one segment after /"
	}
	if strings.HasSuffix(p, "/") {
		return nil, "a channel does not end with /"
	}
	pat := &pattern{}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == "":
			return nil, "a channel has no empty segment (//)"
		case s == "*" || s == "**":
			if !last {
				return nil, "a wildcard (* or **) can only be the last segment"
			}
			pat.wild = true
			pat.segs = append(pat.segs, segment{lit: s})
			continue
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !paramNameRE.MatchString(name) {
				return nil, fmt.Sprintf("invalid parameter name %q: a lower-case letter, then letters, digits and '_'", name)
			}
			if i == 0 {
				return nil, "the first segment cannot be a parameter (it tells broadcast channels from /service and /meta ones)"
			}
			if contains(pat.params, name) {
				return nil, fmt.Sprintf("parameter %s appears twice", name)
			}
			pat.params = append(pat.params, name)
			pat.segs = append(pat.segs, segment{param: name})
			continue
		}
		for _, r := range s {
			if !segmentRune(r) {
				if r == '{' || r == '}' || r == '*' {
					return nil, fmt.Sprintf("segment %s: a parameter ({name}) or a wildcard (* or **) is a whole segment", s)
				}
				return nil, fmt.Sprintf("invalid character %q in segment %s (allowed: letters, digits and - _ ! ~ ( ) $ @ .)", r, s)
			}
		}
		pat.segs = append(pat.segs, segment{lit: s})
	}
	if pat.segs[0].lit == "meta" {
		return nil, "/meta channels belong to the Bayeux protocol; a spec cannot declare them"
	}
	if pat.wild && len(pat.params) > 0 {
		return nil, "parameters and wildcards cannot mix in one channel"
	}
	return pat, ""
}

// segmentRune reports whether r may appear in a literal segment.
func segmentRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("-_!~()$@.", r)
}

// decl is a declared channel, kept to find overlaps.
type decl struct {
	ch       *Channel
	pat      *pattern
	res      map[string]*regexp.Regexp // compiled parameter patterns
	declared map[string]bool           // parameters the params section names
}

// channels checks the channels section.
func (l *loader) channels(e entry) []*Channel {
	es, ok := l.mapping(l.file, e.val, "channels")
	if !ok {
		return nil
	}
	var out []*Channel
	var decls []*decl
	for _, ce := range es {
		if isExt(ce.name) {
			continue
		}
		if d := l.channel(ce); d != nil {
			out = append(out, d.ch)
			if d.pat != nil && !d.pat.wild {
				decls = append(decls, d)
			}
		}
	}
	l.overlaps(decls)
	return out
}

// extensions returns the x-* entries of a mapping as JSON, or nil for
// none. Whatever they hold is not an error of the spec.
func (l *loader) extensions(es []entry) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for _, e := range es {
		if !isExt(e.name) {
			continue
		}
		start := len(l.errs)
		if j := l.convert(l.src, e.val, asData, nil); j != nil {
			if out == nil {
				out = map[string]json.RawMessage{}
			}
			out[e.name] = j.marshal()
		}
		l.errs = l.errs[:start] // extensions are ignored, whatever they hold
	}
	return out
}

// channel checks one channel.
func (l *loader) channel(ce entry) *decl {
	f := l.file
	name := ce.name
	ch := &Channel{Pattern: name, Kind: Broadcast, Pos: posOf(f, ce.key)}
	if strings.HasPrefix(name, "/service/") || name == "/service" {
		ch.Kind = Service
	}
	pat, problem := parsePattern(name)
	if problem != "" {
		l.errf(f, ce.key, "invalid channel %s: %s", name, problem)
	}
	d := &decl{ch: ch, pat: pat, res: map[string]*regexp.Regexp{}, declared: map[string]bool{}}
	es, ok := l.mapping(f, ce.val, "channel "+name)
	if !ok {
		return d
	}
	m := l.fields(f, es, channelKeys)
	ch.Extensions = l.extensions(es)
	if e, ok := m["description"]; ok {
		ch.Description, _ = l.str(f, e.val, "description")
	}
	if e, ok := m["deprecated"]; ok {
		if b, ok := boolean(e.val); ok {
			if b {
				ch.Deprecated = "deprecated"
			}
		} else if v := deref(e.val); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			if v.Value == "" {
				l.errf(f, v, "deprecated: the reason must not be empty (or write deprecated: true)")
			}
			ch.Deprecated = v.Value
		} else {
			l.errf(f, e.val, "deprecated must be true, false or the reason (a string), not %s", kindName(e.val))
		}
	}

	// Parameters.
	pe, hasParams := m["params"]
	if hasParams {
		ch.Params = l.params(d, pe)
	}
	if pat != nil {
		for _, p := range pat.params {
			if !hasParams {
				l.errf(f, ce.key, "parameter %s of channel %s is not declared in params", p, name)
			} else if !d.declared[p] {
				l.errf(f, pe.key, "parameter %s of channel %s is not declared in params", p, name)
			}
		}
	}

	// Schemas.
	wild := pat != nil && pat.wild
	if ch.Kind == Service {
		if e, ok := m["message"]; ok {
			l.errf(f, e.key, "a service channel has request and reply, not message")
		}
		if e, ok := m["subscribe"]; ok {
			l.errf(f, e.key, "clients cannot subscribe to a service channel: remove subscribe")
		}
		if e, ok := m["request"]; ok {
			ch.Request = l.messageSchema(e, "request")
		} else if !wild {
			l.errf(f, ce.key, "service channel %s has no request (the schema of its requests)", name)
		}
		if e, ok := m["reply"]; ok {
			ch.Reply = l.messageSchema(e, "reply")
		}
	} else {
		for _, k := range []string{"request", "reply"} {
			if e, ok := m[k]; ok {
				l.errf(f, e.key, "%s is for service channels (/service/...); a broadcast channel has a message", k)
			}
		}
		if e, ok := m["message"]; ok {
			ch.Message = l.messageSchema(e, "message")
		} else if !wild {
			l.errf(f, ce.key, "channel %s has no message (the schema of its messages)", name)
		}
	}

	// Rules.
	if e, ok := m["subscribe"]; ok && ch.Kind != Service {
		ch.Subscribe = l.rule(d, e, "subscribe")
	}
	if e, ok := m["publish"]; ok {
		ch.Publish = l.rule(d, e, "publish")
	}
	if e, ok := m["filters"]; ok {
		ch.Filters = l.filters(e)
	}
	if e, ok := m["lazy"]; ok {
		l.lazy(ch, e)
	}
	if e, ok := m["local"]; ok {
		b, isBool := boolean(e.val)
		switch {
		case !isBool:
			l.errf(f, e.val, "local must be true or false, not %s", kindName(deref(e.val)))
		case ch.Kind == Service:
			l.errf(f, e.key, "local: service channels are always node-local")
		default:
			ch.Local = b
		}
	}
	if e, ok := m["examples"]; ok {
		l.examples(ch, e)
	}
	return d
}

func findParam(ps []Param, name string) *Param {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}

// params checks the params section of a channel and returns the parameters
// in the order of the pattern.
func (l *loader) params(d *decl, pe entry) []Param {
	f := l.file
	es, ok := l.mapping(f, pe.val, "params")
	if !ok {
		return nil
	}
	var names []string
	if d.pat != nil {
		names = d.pat.params
	}
	byName := map[string]Param{}
	for _, e := range es {
		if isExt(e.name) {
			continue
		}
		if d.pat != nil && !contains(names, e.name) {
			l.errf(f, e.key, "channel %s has no parameter %s%s", d.ch.Pattern, e.name, didYouMean(e.name, names))
			continue
		}
		d.declared[e.name] = true
		if p, ok := l.param(d, e); ok {
			byName[e.name] = p
		}
	}
	var out []Param
	for _, n := range names {
		if p, ok := byName[n]; ok {
			out = append(out, p)
		}
	}
	return out
}

// param checks one parameter's string schema.
func (l *loader) param(d *decl, e entry) (Param, bool) {
	f := l.file
	p := Param{Name: e.name, Pos: posOf(f, e.key)}
	if v := deref(e.val); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return p, true // no constraints
	}
	es, ok := l.mapping(f, e.val, "parameter "+e.name)
	if !ok {
		return p, false
	}
	ok = true
	m := l.fields(f, es, paramKeys)
	if pe, has := m["pattern"]; has {
		if v, good := l.str(f, pe.val, "pattern"); good {
			if l.checkRegex(f, deref(pe.val), v, "pattern") {
				p.Pattern = v
				d.res[e.name] = regexp.MustCompile(v)
			} else {
				ok = false
			}
		}
	}
	var minN, maxN *yaml.Node
	if me, has := m["minLength"]; has {
		minN = deref(me.val)
		if v, good := l.integer(f, me.val, "minLength"); good {
			if v < 0 {
				l.errf(f, me.val, "minLength must not be negative")
			} else {
				p.MinLength = v
			}
		}
	}
	if me, has := m["maxLength"]; has {
		maxN = deref(me.val)
		if v, good := l.integer(f, me.val, "maxLength"); good {
			if v < 1 {
				l.errf(f, me.val, "maxLength must be at least 1")
			} else {
				p.MaxLength = v
			}
		}
	}
	if minN != nil && maxN != nil && p.MaxLength > 0 && p.MinLength > p.MaxLength {
		l.errf(f, maxN, "maxLength %d is less than minLength %d", p.MaxLength, p.MinLength)
		ok = false
	}
	if de, has := m["description"]; has {
		p.Description, _ = l.str(f, de.val, "description")
	}
	if ee, has := m["enum"]; has {
		vals, nodes, _ := l.strs(f, ee.val, "enum")
		for i, v := range vals {
			switch {
			case contains(p.Enum, v):
				l.errf(f, nodes[i], "enum value %s is listed twice", v)
			case v == "" || strings.ContainsFunc(v, func(r rune) bool { return !segmentRune(r) }):
				l.errf(f, nodes[i], "enum value %q cannot be a channel segment (allowed: letters, digits and - _ ! ~ ( ) $ @ .)", v)
			default:
				noEnum := p
				noEnum.Enum = nil
				if why := paramRejects(noEnum, d.res[e.name], v); why != "" {
					l.errf(f, nodes[i], "enum value %s %s", v, why)
				}
				p.Enum = append(p.Enum, v)
			}
		}
	}
	return p, ok
}

// paramRejects says why the parameter p (pattern compiled as re) refuses
// the value v, or "".
func paramRejects(p Param, re *regexp.Regexp, v string) string {
	n := utf8.RuneCountInString(v)
	switch {
	case n < p.MinLength:
		return fmt.Sprintf("is shorter than minLength %d", p.MinLength)
	case p.MaxLength > 0 && n > p.MaxLength:
		return fmt.Sprintf("is longer than maxLength %d", p.MaxLength)
	case re != nil && !re.MatchString(v):
		return "does not match the pattern " + p.Pattern
	case len(p.Enum) > 0 && !contains(p.Enum, v):
		return "is not in enum"
	}
	return ""
}

// messageSchema checks a message, request or reply: a schema name, an
// inline schema or a $ref.
func (l *loader) messageSchema(e entry, what string) *Schema {
	f := l.file
	v := deref(e.val)
	switch {
	case v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
		if s, ok := l.schemas[v.Value]; ok {
			return s
		}
		names := make([]string, 0, len(l.schemas))
		for n := range l.schemas {
			names = append(names, n)
		}
		slices.Sort(names)
		l.errf(f, v, "undefined schema %s%s", v.Value, didYouMean(v.Value, names))
		return nil
	case v != nil && v.Kind == yaml.MappingNode:
		return l.schemaAt("", e.val)
	}
	l.errf(f, e.val, "%s must be a schema name, an inline JSON Schema or {$ref: file#/pointer}, not %s", what, kindName(v))
	return nil
}

// rule checks a subscribe or publish rule.
func (l *loader) rule(d *decl, e entry, op string) Rule {
	f := l.file
	r := Rule{Pos: posOf(f, e.key)}
	es, ok := l.mapping(f, e.val, op)
	if !ok {
		return r
	}
	ae, ok := l.fields(f, es, ruleKeys)["allow"]
	if !ok {
		return r
	}
	items, ok := l.seq(f, ae.val, "allow")
	if !ok {
		return r
	}
	var params []string
	if d.pat != nil {
		params = d.pat.params
	}
	needsAuth := func(n *yaml.Node, what string) {
		if l.handshake == HandshakeNone {
			l.errf(f, n, "%s needs auth.handshake optional or required (it is none)", what)
		}
	}
	for _, it := range items {
		n := deref(it)
		a := Allow{Pos: posOf(f, n)}
		switch {
		case n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
			switch n.Value {
			case "anyone":
				a.Kind = AllowAnyone
			case "authenticated":
				a.Kind = AllowAuthenticated
				needsAuth(n, "authenticated")
			case "server":
				if op == "subscribe" {
					l.errf(f, n, "server is only for publish rules (only the server publishes)")
					continue
				}
				a.Kind = AllowServer
			case "self":
				l.errf(f, n, "self takes a parameter: {self: param}")
				continue
			default:
				if !l.roles[n.Value] {
					if len(l.roleList) == 0 {
						l.errf(f, n, "undefined role %s (declare roles in auth.roles)", n.Value)
					} else {
						l.errf(f, n, "undefined role %s%s", n.Value,
							didYouMean(n.Value, append(append([]string(nil), l.roleList...), "anyone", "authenticated", "server")))
					}
					continue
				}
				a.Kind, a.Role = AllowRole, n.Value
				needsAuth(n, "role "+n.Value)
			}
		case n != nil && n.Kind == yaml.MappingNode:
			ses, _ := l.mapping(f, n, "a rule entry")
			se, ok := l.fields(f, ses, []string{"self"})["self"]
			if !ok {
				if !slices.ContainsFunc(ses, func(e entry) bool { return !isExt(e.name) }) {
					l.errf(f, n, "a rule entry mapping is {self: param}")
				}
				continue
			}
			p, ok := l.str(f, se.val, "self")
			if !ok {
				continue
			}
			if !contains(params, p) {
				l.errf(f, se.val, "rule refers to parameter %s, which %s does not have%s", p, d.ch.Pattern, didYouMean(p, params))
				continue
			}
			a.Kind, a.Param = AllowSelf, p
			needsAuth(n, "{self: "+p+"}")
		default:
			l.errf(f, it, "a rule entry is anyone, authenticated, server, a role or {self: param}, not %s", kindName(n))
			continue
		}
		r.Allow = append(r.Allow, a)
	}
	return r
}

// filters checks the filters of a channel.
func (l *loader) filters(e entry) []Filter {
	f := l.file
	items, ok := l.seq(f, e.val, "filters")
	if !ok {
		return nil
	}
	var out []Filter
	for _, it := range items {
		n := deref(it)
		if n == nil || n.Kind != yaml.MappingNode {
			l.errf(f, it, "a filter is a mapping with one key, the filter's name ({trim: [text]}), not %s", kindName(n))
			continue
		}
		var es []entry
		for _, e := range l.entries(f, n, true) {
			if !isExt(e.name) {
				es = append(es, e)
			}
		}
		if len(es) != 1 {
			l.errf(f, n, "a filter is a mapping with one key, the filter's name; this one has %d", len(es))
			continue
		}
		fe := es[0]
		flt := Filter{Name: fe.name, Pos: posOf(f, fe.key)}
		good := true
		switch fe.name {
		case "trim", "no-markup", "no-scripts":
			if v := deref(fe.val); !(v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null") {
				flt.Paths, good = l.paths(fe.val, fe.name)
			}
		case "max-length":
			good = l.filterArgs(&flt, fe, []string{"max", "paths"}, "max")
		case "regex-replace":
			good = l.filterArgs(&flt, fe, []string{"pattern", "replacement", "paths"}, "pattern", "replacement")
		case "regex-abort":
			good = l.filterArgs(&flt, fe, []string{"pattern", "reason", "paths"}, "pattern")
		case "custom":
			v, ok := l.str(f, fe.val, "custom")
			switch {
			case !ok:
				good = false
			case !customRE.MatchString(v):
				l.errf(f, fe.val, "invalid custom filter name %q: letters, digits, '-', '_' and '.', starting with a letter", v)
				good = false
			default:
				flt.Name, flt.Custom = v, true
			}
		default:
			l.errf(f, fe.key, "unknown filter %s%s (filters: %s)", fe.name, didYouMean(fe.name, filterNames), strings.Join(filterNames, ", "))
			good = false
		}
		if good {
			out = append(out, flt)
		}
	}
	return out
}

// filterArgs reads the mapping of arguments of a filter; required lists
// the arguments it cannot do without.
func (l *loader) filterArgs(flt *Filter, fe entry, allowed []string, required ...string) bool {
	f := l.file
	es, ok := l.mapping(f, fe.val, fe.name)
	if !ok {
		return false
	}
	m := l.fields(f, es, allowed)
	good := true
	for _, r := range required {
		if _, ok := m[r]; !ok {
			l.errf(f, fe.key, "%s needs %s", fe.name, r)
			good = false
		}
	}
	if e, ok := m["max"]; ok {
		if v, ok := l.integer(f, e.val, "max"); !ok {
			good = false
		} else if v < 0 {
			l.errf(f, e.val, "max must not be negative")
			good = false
		} else {
			flt.Max = v
		}
	}
	if e, ok := m["pattern"]; ok {
		if v, ok := l.str(f, e.val, "pattern"); ok && l.checkRegex(f, deref(e.val), v, "pattern") {
			flt.Pattern = v
		} else {
			good = false
		}
	}
	if e, ok := m["replacement"]; ok {
		v, ok := l.str(f, e.val, "replacement")
		flt.Replacement, good = v, good && ok
	}
	if e, ok := m["reason"]; ok {
		v, ok := l.str(f, e.val, "reason")
		flt.Reason, good = v, good && ok
	}
	if e, ok := m["paths"]; ok {
		var ok2 bool
		flt.Paths, ok2 = l.paths(e.val, fe.name)
		good = good && ok2
	}
	return good
}

// paths reads and checks a list of field paths.
func (l *loader) paths(n *yaml.Node, filter string) ([]string, bool) {
	ps, nodes, ok := l.strs(l.file, n, filter+" paths")
	for i, p := range ps {
		if err := checkFieldPath(p); err != nil {
			l.errf(l.file, nodes[i], "invalid field path %q: %v", p, err)
			ok = false
		}
	}
	return ps, ok
}

// lazy reads lazy: true, or lazy: {timeout: 2s}.
func (l *loader) lazy(ch *Channel, e entry) {
	f := l.file
	if b, ok := boolean(e.val); ok {
		ch.Lazy = b
		return
	}
	if v := deref(e.val); v == nil || v.Kind != yaml.MappingNode {
		l.errf(f, e.val, "lazy must be true, false or {timeout: duration}, not %s", kindName(v))
		return
	}
	es, _ := l.mapping(f, e.val, "lazy")
	ch.Lazy = true
	if te, ok := l.fields(f, es, lazyKeys)["timeout"]; ok {
		if v, ok := l.str(f, te.val, "timeout"); ok {
			d, err := time.ParseDuration(v)
			switch {
			case err != nil:
				l.errf(f, te.val, "invalid timeout %q: a duration such as 500ms or 2s", v)
			case d <= 0:
				l.errf(f, te.val, "timeout must be positive")
			default:
				ch.LazyTimeout = v
			}
		}
	}
}

// examples converts the examples of a channel and checks them against its
// message (or request) schema.
func (l *loader) examples(ch *Channel, e entry) {
	f := l.file
	items, ok := l.seq(f, e.val, "examples")
	if !ok {
		return
	}
	s, what := ch.Message, "message"
	if ch.Kind == Service {
		s, what = ch.Request, "request"
	}
	if s == nil && len(items) > 0 {
		l.errf(f, e.key, "examples need a %s schema to be checked against", what)
	}
	for _, it := range items {
		j := l.convert(l.src, it, asData, nil)
		if j == nil {
			continue
		}
		raw := j.marshal()
		ch.Examples = append(ch.Examples, raw)
		if s == nil || s.validator == nil {
			continue
		}
		if vs := s.Validate(raw); len(vs) > 0 {
			msgs := make([]string, len(vs))
			for i, v := range vs {
				msgs[i] = v.String()
			}
			l.errf(f, it, "example does not match the %s schema: %s", what, strings.Join(msgs, "; "))
		}
	}
}

// overlaps reports each channel that matches a concrete name an earlier
// channel matches too.
func (l *loader) overlaps(decls []*decl) {
	for j, b := range decls {
		for _, a := range decls[:j] {
			example, ok := overlap(a, b)
			if !ok {
				continue
			}
			if strings.ContainsRune(example, '{') {
				l.errAt(b.ch.Pos, "channel %s overlaps %s (line %d): the same names match both", b.ch.Pattern, a.ch.Pattern, a.ch.Pos.Line)
			} else {
				l.errAt(b.ch.Pos, "channel %s overlaps %s (line %d): both match %s", b.ch.Pattern, a.ch.Pattern, a.ch.Pos.Line, example)
			}
			break
		}
	}
}

// overlap reports whether the parameterized channels a and b match a
// common name, and returns one (with {name} where any value would do).
func overlap(a, b *decl) (string, bool) {
	if len(a.pat.segs) != len(b.pat.segs) {
		return "", false
	}
	var name strings.Builder
	for i, sa := range a.pat.segs {
		sb := b.pat.segs[i]
		name.WriteByte('/')
		switch {
		case sa.param == "" && sb.param == "":
			if sa.lit != sb.lit {
				return "", false
			}
			name.WriteString(sa.lit)
		case sa.param == "":
			if !accepts(b, sb.param, sa.lit) {
				return "", false
			}
			name.WriteString(sa.lit)
		case sb.param == "":
			if !accepts(a, sa.param, sb.lit) {
				return "", false
			}
			name.WriteString(sb.lit)
		default:
			pa, pb := findParam(a.ch.Params, sa.param), findParam(b.ch.Params, sb.param)
			v, ok := commonValue(a, pa, b, pb)
			if !ok {
				return "", false
			}
			if v == "" {
				v = "{" + sb.param + "}"
			}
			name.WriteString(v)
		}
	}
	return name.String(), true
}

// accepts reports whether the parameter p of d may take the value v.
func accepts(d *decl, p, v string) bool {
	param := findParam(d.ch.Params, p)
	if param == nil {
		return true
	}
	return paramRejects(*param, d.res[p], v) == ""
}

// commonValue finds a value both parameters may take when one of them has
// an enum; with no enum it assumes one exists and returns "".
func commonValue(a *decl, pa *Param, b *decl, pb *Param) (string, bool) {
	switch {
	case pa != nil && len(pa.Enum) > 0:
		for _, v := range pa.Enum {
			if pb == nil || paramRejects(*pb, b.res[pb.Name], v) == "" {
				return v, true
			}
		}
		return "", false
	case pb != nil && len(pb.Enum) > 0:
		for _, v := range pb.Enum {
			if pa == nil || paramRejects(*pa, a.res[pa.Name], v) == "" {
				return v, true
			}
		}
		return "", false
	}
	return "", true
}
