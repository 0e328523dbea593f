package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/validate"
)

// A Contract is the channels an application declares, each a Template with
// its rules, schema, filters and settings. Installed on a server with
// Server.SetContract, it is enforced on every message: the server resolves
// each concrete channel name to the one template that owns it and applies
// that template's settings, and only those. `cometgen serve --spec` builds
// a Contract from a loaded spec; the Register function of generated code
// declares the same Contract as a literal and adds its typed handlers.
//
// What a template decides, in this order, for a message published on a
// channel it owns:
//
//  1. the parameters' checks ("400:<why>:invalid_channel"), then the
//     publish rule, for clients ("403:denied_by_rule:publish_denied");
//  2. the schema ("400:<violations>:invalid_message"), for every
//     publisher, the server included;
//  3. the filters, in order ("400:<reason>:data_rejected");
//  4. the listeners and filters the application added to runtime channels;
//  5. the template's Handler, for clients' messages: it sees the message
//     as it will be delivered, and may still change or refuse it;
//  6. the publisher's ext is dropped (a client's, on a declared channel),
//     then the message is delivered, lazy or node-local as the template
//     says, to the sessions subscribed to its name and to those whose
//     wildcard subscriptions match it and whose session the template's
//     subscribe rule allows.
//
// A name no template owns is refused ("403:channel_not_declared:…")
// unless AllowUndeclared is set; it never inherits a template's settings.
type Contract struct {
	// Templates are the declared channels. Two templates may not match the
	// same concrete name with the same shape (a spec's loader refuses
	// overlaps); a template with parameters or a literal name wins over a
	// wildcard one ("/news/*", "/news/**"), and a deeper wildcard over a
	// shallower one.
	Templates []Template
	// AllowUndeclared lets clients subscribe and publish on the names no
	// template owns, with no check. A wildcard subscription still receives
	// only what the subscribe rule of each message's template allows.
	AllowUndeclared bool
	// Print is the contract's fingerprint, by which the server judges the
	// contract a generated client says it was built against (see
	// ContractPrint); nil: clients' contracts are not judged.
	Print *ContractPrint
}

// A Template is one declared channel: a pattern and what applies to the
// concrete channels it matches.
type Template struct {
	// Pattern is a channel name whose whole segments may be parameters
	// ("/chat/{room}", "/room/{id}/talk"), or a wildcard channel
	// ("/news/*", "/news/**"); a service template starts with /service/.
	Pattern string
	// Params check the parameters' values; a parameter without an entry
	// takes any non-empty segment.
	Params []Param
	// Subscribe and Publish say who may subscribe and publish (for a
	// service channel: call). An empty rule allows anyone.
	Subscribe, Publish Rule
	// Schema is the JSON Schema of what is published (a service channel's
	// request), or "" for none.
	Schema string
	// Filters run in order on the data of every message published.
	Filters []DataFilter
	// Lazy makes the messages lazy (see Channel.SetLazy), delivered within
	// LazyTimeout (0: Options.MaxLazyTimeout).
	Lazy        bool
	LazyTimeout time.Duration
	// Local keeps the messages on the node where they are published (see
	// Channel.SetNodeLocal).
	Local bool
	// Handler is the application's code for the messages clients publish
	// (OnMessage) or the remote calls they make (OnCall); nil for none.
	Handler *Handler
}

// Param is the check of one channel parameter's value.
type Param struct {
	Name string
	// Pattern is a regular expression (RE2) the value must match, or "".
	Pattern string
	// MinLength and MaxLength bound the value's length in characters
	// (MaxLength 0: no bound).
	MinLength, MaxLength int
	// Enum lists the values allowed; none means any.
	Enum []string
}

// Rule says who may perform an operation: anyone any of its entries allows.
// An empty Rule allows anyone.
type Rule []Allow

// Allow is one entry of a Rule; build it with Anyone, Authenticated, Role,
// Self or ServerOnly.
type Allow struct {
	kind  allowKind
	value string // the role, or the parameter of Self
}

type allowKind uint8

const (
	allowAnyone allowKind = iota + 1
	allowAuthenticated
	allowRole
	allowSelf
	allowServer
)

// Anyone allows every session.
func Anyone() Allow { return Allow{kind: allowAnyone} }

// Authenticated allows the sessions that have a user (ServerSession.SetUser).
func Authenticated() Allow { return Allow{kind: allowAuthenticated} }

// Role allows the sessions that have the role.
func Role(role string) Allow { return Allow{kind: allowRole, value: role} }

// Self allows the session whose user id equals the value of the channel's
// parameter param ("/user/{id}/inbox": Self("id")). A wildcard
// subscription has no value for it, so Self never allows one.
func Self(param string) Allow { return Allow{kind: allowSelf, value: param} }

// ServerOnly allows no client: only the server itself.
func ServerOnly() Allow { return Allow{kind: allowServer} }

// String returns the entry as a spec writes it: "anyone", "authenticated",
// "server", the role, or "{self: param}".
func (a Allow) String() string {
	switch a.kind {
	case allowAnyone:
		return "anyone"
	case allowAuthenticated:
		return "authenticated"
	case allowRole:
		return a.value
	case allowSelf:
		return "{self: " + a.value + "}"
	case allowServer:
		return "server"
	}
	return "?"
}

// A Handler is a template's typed application code; build it with
// OnMessage or OnCall.
type Handler struct {
	// message returns the dispatch of a broadcast template's messages,
	// checked against sch (nil: none).
	message func(sch *validate.Schema) dispatchFunc
	call    RemoteCallFunc
}

// dispatchFunc hands a message to typed code. checked says the message's
// data was checked against the schema already.
type dispatchFunc func(ctx context.Context, from *ServerSession, m *bayeux.Message, checked bool) error

// OnMessage returns the Handler of a broadcast template whose messages are
// Ts (named name in errors): f receives each message a client publishes,
// decoded, once the template's checks and filters passed. f may change the
// message, which is then delivered as changed, or refuse it with an error
// (see MessageListener). Data that does not decode into a T is refused
// with "400:data is not a <name>:invalid_message".
func OnMessage[T any](name string, f func(ctx context.Context, s *ServerSession, channel string, msg *T) error) *Handler {
	return &Handler{message: func(sch *validate.Schema) dispatchFunc {
		d := NewTypedData[T](sch, name)
		return func(ctx context.Context, from *ServerSession, m *bayeux.Message, checked bool) error {
			return d.dispatch(m, checked, func(v *T) error { return f(ctx, from, m.Channel, v) })
		}
	}}
}

// OnCall returns the Handler of a service template: f serves each remote
// call a client makes on a channel of the template (see HandleRemoteCall),
// once the template's checks and filters passed, with the request decoded
// into a Req and its result encoded from a Resp.
func OnCall[Req, Resp any](f func(ctx context.Context, caller *ServerSession, channel string, req *Req) (Resp, error)) *Handler {
	return &Handler{call: typedCall(func(ctx context.Context, caller *ServerSession, req Req) (Resp, error) {
		return f(ctx, caller, CallChannel(ctx), &req)
	})}
}

// template is a compiled Template.
type template struct {
	pattern  string
	kind     bayeux.ChannelKind
	segs     []string // the pattern's segments; "" for a parameter
	params   []paramCheck
	wild     string // "*", "**", or "" for a concrete template
	sub, pub rule
	schema   *validate.Schema
	filters  []DataFilter
	lazy     time.Duration // 0: not lazy
	local    bool
	dispatch dispatchFunc
	call     RemoteCallFunc
	metrics  *templateMetrics // its series, with Options.Metrics
}

// paramCheck checks the value of the parameter at segment index seg.
type paramCheck struct {
	*ParamCheck
	seg int
}

// A ParamCheck is a compiled Param: the one check of a channel
// parameter's values, which the contract applies to every name and the
// parsers of generated code (ParseChatRoom) apply to the names they parse.
type ParamCheck struct {
	Param
	re *validate.Pattern
}

// CompileParam compiles p's checks.
func CompileParam(p Param) (*ParamCheck, error) {
	c := &ParamCheck{Param: p}
	if p.Pattern != "" {
		re, err := validate.CompilePattern(p.Pattern)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		c.re = re
	}
	return c, nil
}

// MustCompileParam is CompileParam for a parameter known to be valid, such
// as one of generated code; it panics otherwise.
func MustCompileParam(p Param) *ParamCheck {
	c, err := CompileParam(p)
	if err != nil {
		panic(err)
	}
	return c
}

// rule is a compiled Rule: nil allows anyone.
type rule []allow

type allow struct {
	kind allowKind
	role string
	seg  int // the segment of a Self's parameter
}

// contract is a compiled Contract.
type contract struct {
	templates       []*template
	root            *templateNode
	allowUndeclared bool
	// wildForms maps the wildcard subscriptions that stand for a template
	// ("/chat/*" for "/chat/{room}", or a wildcard template's own pattern)
	// to it.
	wildForms map[string]*template
	print     *compiledPrint
}

// templateNode is a node of the trie the templates' segments make: a
// name is resolved in one walk of its segments.
type templateNode struct {
	lit   map[string]*templateNode
	param *templateNode // a parameter segment
	ends  []*template   // concrete templates that end here
	star  *template     // "<here>/*"
	deep  *template     // "<here>/**"
}

// SetContract installs c on the server (nil removes the installed one).
// It fails when a template is malformed: a bad pattern, a parameter check
// that does not compile, a schema that does not compile, a rule naming a
// parameter the pattern lacks, two templates with one pattern.
func (s *Server) SetContract(c *Contract) error {
	if c == nil {
		s.contract.Store(nil)
		s.contractGen.Add(1)
		return nil
	}
	cc, err := compileContract(c)
	if err != nil {
		return err
	}
	s.attachMetrics(cc)
	s.contract.Store(cc)
	s.contractGen.Add(1)
	return nil
}

func compileContract(c *Contract) (*contract, error) {
	cc := &contract{root: &templateNode{}, allowUndeclared: c.AllowUndeclared, wildForms: map[string]*template{}, print: compilePrint(c.Print)}
	seen := map[string]bool{}
	for i := range c.Templates {
		t, err := compileTemplate(&c.Templates[i])
		if err != nil {
			return nil, fmt.Errorf("runtime: contract: template %s: %w", c.Templates[i].Pattern, err)
		}
		if seen[t.pattern] {
			return nil, fmt.Errorf("runtime: contract: template %s is declared twice", t.pattern)
		}
		seen[t.pattern] = true
		cc.templates = append(cc.templates, t)
		cc.insert(t)
	}
	return cc, nil
}

func compileTemplate(tp *Template) (*template, error) {
	name := bayeux.Normalize(tp.Pattern)
	if name != tp.Pattern || !strings.HasPrefix(name, "/") || len(name) < 2 {
		return nil, errors.New("not a channel pattern")
	}
	t := &template{pattern: name, kind: bayeux.KindOf(name), filters: slices.Clone(tp.Filters), local: tp.Local}
	if t.kind == bayeux.Meta {
		return nil, errors.New("/meta channels cannot be declared")
	}
	segs := strings.Split(name[1:], "/")
	params := map[string]int{}
	for i, seg := range segs {
		switch {
		case seg == "":
			return nil, errors.New("empty segment")
		case seg == "*" || seg == "**":
			if i != len(segs)-1 {
				return nil, errors.New("a wildcard can only be the last segment")
			}
			t.wild = seg
			segs = segs[:i]
		case seg[0] == '{' && seg[len(seg)-1] == '}' && len(seg) > 2:
			if i == 0 {
				return nil, errors.New("the first segment cannot be a parameter")
			}
			p := seg[1 : len(seg)-1]
			if _, dup := params[p]; dup {
				return nil, fmt.Errorf("parameter %s appears twice", p)
			}
			params[p] = i
			segs[i] = ""
		case strings.ContainsAny(seg, "{}*"):
			return nil, fmt.Errorf("segment %s: a parameter or a wildcard is a whole segment", seg)
		}
	}
	if t.wild != "" && len(params) > 0 {
		return nil, errors.New("parameters and wildcards cannot mix")
	}
	t.segs = segs
	for _, p := range tp.Params {
		seg, ok := params[p.Name]
		if !ok {
			return nil, fmt.Errorf("params: %s is not a parameter of the pattern", p.Name)
		}
		c, err := CompileParam(p)
		if err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		t.params = append(t.params, paramCheck{ParamCheck: c, seg: seg})
	}
	var err error
	if t.sub, err = compileRule(tp.Subscribe, params); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if t.pub, err = compileRule(tp.Publish, params); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if tp.Schema != "" {
		if t.schema, err = validate.Compile([]byte(tp.Schema)); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
	}
	if tp.Lazy {
		t.lazy = tp.LazyTimeout
		if t.lazy <= 0 {
			t.lazy = -1 // lazy, within the server's maximum
		}
	}
	if h := tp.Handler; h != nil {
		switch {
		case h.message != nil && t.kind == bayeux.Service:
			return nil, errors.New("a service template serves remote calls (OnCall), not messages (OnMessage)")
		case h.call != nil && t.kind != bayeux.Service:
			return nil, errors.New("remote calls (OnCall) are served on /service/ templates")
		case h.message != nil:
			t.dispatch = h.message(t.schema)
		default:
			t.call = h.call
		}
	}
	return t, nil
}

func compileRule(r Rule, params map[string]int) (rule, error) {
	if len(r) == 0 {
		return nil, nil
	}
	out := make(rule, 0, len(r))
	for _, a := range r {
		switch a.kind {
		case allowAnyone:
			return nil, nil
		case allowSelf:
			seg, ok := params[a.value]
			if !ok {
				return nil, fmt.Errorf("{self: %s}: not a parameter of the pattern", a.value)
			}
			out = append(out, allow{kind: a.kind, seg: seg})
		case allowAuthenticated, allowRole, allowServer:
			out = append(out, allow{kind: a.kind, role: a.value})
		default:
			return nil, errors.New("an Allow built without Anyone, Authenticated, Role, Self or ServerOnly")
		}
	}
	return out, nil
}

// insert adds t to the trie and to the wildcard forms.
func (c *contract) insert(t *template) {
	n := c.root
	for _, seg := range t.segs {
		n = n.child(seg)
	}
	switch t.wild {
	case "*":
		n.star = t
		c.wildForms[t.pattern] = t
	case "**":
		n.deep = t
		c.wildForms[t.pattern] = t
	default:
		n.ends = append(n.ends, t)
		if last := len(t.segs) - 1; t.segs[last] == "" {
			// A subscription to every value of the last parameter.
			form := t.pattern[:strings.LastIndexByte(t.pattern, '/')] + "/*"
			if _, taken := c.wildForms[form]; !taken {
				c.wildForms[form] = t
			}
		}
	}
}

func (n *templateNode) child(seg string) *templateNode {
	if seg == "" {
		if n.param == nil {
			n.param = &templateNode{}
		}
		return n.param
	}
	if n.lit == nil {
		n.lit = map[string]*templateNode{}
	}
	c := n.lit[seg]
	if c == nil {
		c = &templateNode{}
		n.lit[seg] = c
	}
	return c
}

// resolve returns the template that owns the concrete channel name, or
// nil. A concrete or parameterized template wins over a wildcard one; of
// two concrete templates of one shape, the one whose parameters accept the
// name (the loader keeps their values apart), else the first.
func (c *contract) resolve(name string) *template {
	if len(name) < 2 || name[0] != '/' {
		return nil
	}
	var deep *template
	if t := c.root.walk(name, name[1:], &deep); t != nil {
		return t
	}
	return deep
}

// walk resolves rest, the segments of name below n. deep collects the
// deepest "**" template on the way, the fallback of the whole resolution.
func (n *templateNode) walk(name, rest string, deep **template) *template {
	seg, after, more := strings.Cut(rest, "/")
	if n.deep != nil {
		*deep = n.deep // each level has a fresh deep: the caller keeps the deepest
	}
	if !more {
		for _, next := range []*templateNode{n.lit[seg], n.param} {
			if next == nil || len(next.ends) == 0 || (next == n.param && seg == "") {
				continue
			}
			if t := pickEnd(next.ends, name); t != nil {
				return t
			}
		}
		if n.star != nil {
			return n.star
		}
		return nil
	}
	var d *template
	if next := n.lit[seg]; next != nil {
		if t := next.walk(name, after, &d); t != nil {
			return t
		}
	}
	if next := n.param; next != nil && seg != "" {
		var pd *template
		if t := next.walk(name, after, &pd); t != nil {
			return t
		}
		if d == nil {
			d = pd
		}
	}
	if d != nil {
		*deep = d // deeper than what n gave
	}
	return nil
}

// pickEnd chooses among the concrete templates of one shape: the first
// whose parameters accept name, else the first.
func pickEnd(ends []*template, name string) *template {
	if len(ends) == 1 {
		return ends[0]
	}
	for _, t := range ends {
		if t.checkParams(name) == nil {
			return t
		}
	}
	return ends[0]
}

// Segment returns the i-th segment of the concrete channel name (0: the
// first): Segment("/chat/lobby", 1) is "lobby". Generated handlers take a
// channel's parameters with it, once the contract has checked them.
func Segment(name string, i int) string { return segment(name, i) }

// segment returns the i-th segment of the concrete name (0: the first).
func segment(name string, i int) string {
	rest := name[1:]
	for ; i > 0; i-- {
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return ""
		}
		rest = rest[j+1:]
	}
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		return rest[:j]
	}
	return rest
}

// Check returns why value is not a valid value of the parameter ("room
// \"Lobby\" does not match its pattern"), or "".
func (p *ParamCheck) Check(value string) string {
	n := utf8.RuneCountInString(value)
	switch {
	case value == "":
		return p.Name + " is empty"
	case p.MinLength > 0 && n < p.MinLength:
		return fmt.Sprintf("%s %q is shorter than %d characters", p.Name, value, p.MinLength)
	case p.MaxLength > 0 && n > p.MaxLength:
		return fmt.Sprintf("%s %q is longer than %d characters", p.Name, value, p.MaxLength)
	case len(p.Enum) > 0 && !slices.Contains(p.Enum, value):
		return fmt.Sprintf("%s %q is not one of the allowed values", p.Name, value)
	case p.re != nil && !p.re.MatchString(value):
		// The pattern is not repeated: a regex does not survive the
		// "code:args:message" form (commas separate the args).
		return fmt.Sprintf("%s %q does not match its pattern", p.Name, value)
	}
	return ""
}

// checkParams refuses a concrete name whose parameters t's checks refuse.
func (t *template) checkParams(name string) *bayeux.Error {
	for i := range t.params {
		if why := t.params[i].Check(segment(name, t.params[i].seg)); why != "" {
			return bayeux.NewError(400, "invalid_channel", bayeux.ErrorArg(why))
		}
	}
	return nil
}

// allows reports whether the rule lets the client session s operate on the
// concrete channel name ("" for a wildcard subscription, which has no
// parameters).
func (r rule) allows(s *ServerSession, name string) bool {
	if r == nil {
		return true
	}
	if s == nil {
		return true // the server itself
	}
	for _, a := range r {
		switch a.kind {
		case allowAuthenticated:
			if s.UserID() != "" {
				return true
			}
		case allowRole:
			if s.HasRole(a.role) {
				return true
			}
		case allowSelf:
			if name != "" {
				if u := s.UserID(); u != "" && segment(name, a.seg) == u {
					return true
				}
			}
		}
	}
	return false
}

// The refusals of a contract.
var (
	errSubscribeUndeclared = bayeux.NewError(403, "subscribe_denied", "channel_not_declared")
	errPublishUndeclared   = bayeux.NewError(403, "publish_denied", "channel_not_declared")
	errSubscribeRule       = bayeux.NewError(403, "subscribe_denied", "denied_by_rule")
	errPublishRule         = bayeux.NewError(403, "publish_denied", "denied_by_rule")
)

// resolved is what a channel remembers of its resolution, for the
// contract of generation gen.
type resolved struct {
	gen  uint64
	t    *template
	perr *bayeux.Error // the parameters' refusal
}

// templateOf returns the template owning the concrete name and the refusal
// of its parameters, if any; route[0] caches it when it is the channel of
// name.
func (s *Server) templateOf(cc *contract, route []*Channel, name string) (*template, *bayeux.Error) {
	var c *Channel
	gen := s.contractGen.Load()
	if len(route) > 0 && route[0].name == name {
		c = route[0]
		if r := c.tmpl.Load(); r != nil && r.gen == gen {
			return r.t, r.perr
		}
	}
	t := cc.resolve(name)
	var perr *bayeux.Error
	if t != nil {
		perr = t.checkParams(name)
	}
	if c != nil {
		c.tmpl.Store(&resolved{gen: gen, t: t, perr: perr})
	}
	return t, perr
}

// judgePublish applies the contract to a message published on the
// concrete channel of m by from (nil: the server): the template's
// parameters and publish rule. It returns the template, nil for a name
// none owns, also with the refusal.
func (s *Server) judgePublish(cc *contract, route []*Channel, from *ServerSession, m *bayeux.Message) (*template, *bayeux.Error) {
	t, perr := s.templateOf(cc, route, m.Channel)
	switch {
	case t == nil && cc.allowUndeclared:
		return nil, nil
	case t == nil:
		return nil, errPublishUndeclared
	case perr != nil:
		return t, perr
	case !t.pub.allows(from, m.Channel):
		return t, errPublishRule
	}
	return t, nil
}

// judgeSubscribe applies the contract to a subscription of s to name. A
// concrete name is judged by the subscribe rule of its template. A
// wildcard name is judged by the template it stands for ("/chat/*" for
// "/chat/{room}", or a wildcard template), with no parameter values, or
// allowed when the contract allows undeclared channels; either way, each
// message it matches later is delivered only if the subscribe rule of the
// message's template allows the session (see restricted). It returns the
// template judging, nil for none.
func (s *Server) judgeSubscribe(cc *contract, sess *ServerSession, name string) (*template, *bayeux.Error) {
	if bayeux.IsWild(name) {
		t := cc.wildForms[name]
		switch {
		case t == nil && cc.allowUndeclared:
			return nil, nil
		case t == nil:
			return nil, errSubscribeUndeclared
		case !t.sub.allows(sess, ""):
			return t, errSubscribeRule
		}
		return t, nil
	}
	var buf [1]*Channel
	route := buf[:0]
	if c := s.channels.get(name); c != nil {
		route = append(route, c)
	}
	t, perr := s.templateOf(cc, route, name)
	switch {
	case t == nil && cc.allowUndeclared:
		return nil, nil
	case t == nil:
		return nil, errSubscribeUndeclared
	case perr != nil:
		return t, perr
	case !t.sub.allows(sess, name):
		return t, errSubscribeRule
	}
	return t, nil
}

// restricted reports whether t's subscribe rule does not allow anyone: the
// sessions subscribed through a wildcard channel then receive a message of
// t only if the rule allows each of them.
func (t *template) restricted() bool { return t != nil && t.sub != nil }

// lazyTimeout returns how long t's messages may wait (0: not lazy), bounded
// by max.
func (t *template) lazyTimeout(max time.Duration) time.Duration {
	switch {
	case t == nil || t.lazy == 0:
		return 0
	case t.lazy < 0 || t.lazy > max:
		return max
	}
	return t.lazy
}

// templateFor returns the template owning the concrete name, or nil, for
// the deliveries that do not pass through a publish (from the broker, a
// replay).
func (s *Server) templateFor(route []*Channel, name string) *template {
	cc := s.contract.Load()
	if cc == nil {
		return nil
	}
	t, _ := s.templateOf(cc, route, name)
	return t
}

// contractState is the contract a server holds; embedded in Server.
type contractState struct {
	contract    atomic.Pointer[contract]
	contractGen atomic.Uint64
}
