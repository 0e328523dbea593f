// Package gateway enforces a cometgen spec on a runtime.Server with no
// generated code: `cometgen serve --spec`. It validates every published
// message against its channel's schema, applies the subscribe and publish
// rules, authenticates handshakes with JWTs the application's backend
// issued, runs the declared filters, and offers the backend an HTTP
// endpoint to publish through.
//
// It is the adapter between package schema and package runtime, which know
// nothing of each other.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/filter"
	"github.com/cometgen/cometgen/runtime/validate"
	"github.com/cometgen/cometgen/schema"
)

// Options configures a gateway.
type Options struct {
	// AllowUndeclared lets clients use channels the spec does not declare
	// (with no schema or rule). By default they are refused.
	AllowUndeclared bool
	// Auth verifies handshake tokens. Required when the spec's
	// auth.handshake is optional or required.
	Auth *JWTAuth
	// Filters supplies the custom filters the spec names.
	Filters map[string]runtime.DataFilter
}

// Gateway is a spec installed on a server.
type Gateway struct {
	srv    *runtime.Server
	spec   *schema.Spec
	opts   Options
	routes []*route
	chains map[*schema.Channel]runtime.DataFilter
}

// Install enforces spec on srv. It sets the server's SecurityPolicy and
// adds a listener and a filter on "/**"; it fails when the spec needs
// something Options lack (a custom filter, a token verifier).
func Install(srv *runtime.Server, spec *schema.Spec, opts Options) (*Gateway, error) {
	g := &Gateway{srv: srv, spec: spec, opts: opts, chains: make(map[*schema.Channel]runtime.DataFilter)}
	if spec.Auth.Handshake != schema.HandshakeNone && spec.Auth.Handshake != "" && opts.Auth == nil {
		return nil, fmt.Errorf("gateway: the spec's auth.handshake is %s: a token verifier (JWT secret or public key) is needed", spec.Auth.Handshake)
	}
	for _, ch := range spec.Channels {
		g.routes = append(g.routes, newRoute(ch))
		chain, err := g.filterChain(ch)
		if err != nil {
			return nil, err
		}
		if chain != nil {
			g.chains[ch] = chain
		}
		if ch.Lazy {
			if err := g.configure(ch, "lazy", func(c *runtime.Channel) { c.SetLazy(true) }); err != nil {
				return nil, err
			}
		}
		if ch.Local {
			if err := g.configure(ch, "local", func(c *runtime.Channel) { c.SetNodeLocal(true) }); err != nil {
				return nil, err
			}
		}
	}
	all, _, err := srv.CreateChannel("/**")
	if err != nil {
		return nil, err
	}
	all.SetPersistent(true)
	all.AddListener(g.check)
	srv.SetSecurityPolicy(&policy{g: g})
	return g, nil
}

func (g *Gateway) filterChain(ch *schema.Channel) (runtime.DataFilter, error) {
	var chain []runtime.DataFilter
	for _, f := range ch.Filters {
		var df runtime.DataFilter
		var err error
		switch {
		case f.Custom:
			var ok bool
			if df, ok = g.opts.Filters[f.Name]; !ok {
				return nil, fmt.Errorf("gateway: %s: channel %s needs the custom filter %q, which the server does not supply", f.Pos, ch.Pattern, f.Name)
			}
		case f.Name == "trim":
			df, err = filter.Trim(f.Paths...)
		case f.Name == "no-markup":
			df, err = filter.NoMarkup(f.Paths...)
		case f.Name == "no-scripts":
			df, err = filter.NoScripts(f.Paths...)
		case f.Name == "max-length":
			df, err = filter.MaxLength(f.Max, f.Paths...)
		case f.Name == "regex-replace":
			df, err = filter.RegexReplace(f.Pattern, f.Replacement, f.Paths...)
		case f.Name == "regex-abort":
			df, err = filter.RegexAbort(f.Pattern, f.Reason, f.Paths...)
		default:
			return nil, fmt.Errorf("gateway: %s: unknown filter %q", f.Pos, f.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("gateway: %s: %w", f.Pos, err)
		}
		chain = append(chain, df)
	}
	if len(chain) == 0 {
		return nil, nil
	}
	return filter.Chain(chain...), nil
}

// configure applies set to the runtime channel of a spec channel (lazy,
// local). A parameter can only be the last segment then, since runtime
// wildcards end a name.
func (g *Gateway) configure(ch *schema.Channel, what string, set func(*runtime.Channel)) error {
	name := ch.Pattern
	if n := len(ch.Params); n > 0 {
		last := ch.Params[n-1].Name
		if !strings.HasSuffix(name, "/{"+last+"}") || n > 1 {
			return fmt.Errorf("gateway: %s: %s channel %s: only a parameter in the last segment is supported", ch.Pos, what, ch.Pattern)
		}
		name = strings.TrimSuffix(name, "{"+last+"}") + "*"
	}
	c, _, err := g.srv.CreateChannel(name)
	if err != nil {
		return err
	}
	set(c)
	return nil
}

// lookup returns the declared channel of a concrete channel name and its
// parameters.
func (g *Gateway) lookup(name string) (*route, map[string]string) {
	for _, r := range g.routes {
		if r.wild != "" {
			continue // concrete declarations win over wildcard ones
		}
		if params, ok := r.match(name); ok {
			return r, params
		}
	}
	for _, r := range g.routes {
		if r.wild != "" {
			if _, ok := r.match(name); ok {
				return r, nil
			}
		}
	}
	return nil, nil
}

// checkParams returns an error naming the first invalid parameter.
func checkParams(r *route, params map[string]string) *bayeux.Error {
	for name, v := range params {
		if why := r.params[name].check(v); why != "" {
			return bayeux.NewError(400, "invalid_channel", bayeux.ErrorArg(why))
		}
	}
	return nil
}

// errUndeclared refuses a channel the spec does not declare. From the
// security policy a plain error becomes "403:channel_not_declared:<op>_denied".
var errUndeclared = errors.New("channel_not_declared")

// errUndeclaredPublish is the same refusal from the validating listener,
// which also sees the server's own publishes.
var errUndeclaredPublish = bayeux.NewError(403, "publish_denied", "channel_not_declared")

// errDeniedByRule refuses an operation the spec's rules do not allow.
var errDeniedByRule = errors.New("denied_by_rule")

// schemaFor returns the schema publishes on r are checked against.
func schemaFor(r *route) *schema.Schema {
	if r.ch.Kind == schema.Service {
		return r.ch.Request
	}
	return r.ch.Message
}

// check is the listener every published message goes through: it
// validates the data against the channel's schema — the contract of what
// clients publish, so a publisher's error speaks of what it sent — then
// runs the channel's declared filters in their order (server-side
// sanitizing such as trim or no-markup, which may lengthen a string). The
// data is decoded once; it is encoded again only when filters ran.
func (g *Gateway) check(ctx context.Context, from *runtime.ServerSession, m *bayeux.Message) error {
	r, params := g.lookup(m.Channel)
	if r == nil {
		if g.opts.AllowUndeclared {
			return nil
		}
		return errUndeclaredPublish
	}
	if err := checkParams(r, params); err != nil {
		return err
	}
	s := schemaFor(r)
	chain := g.chains[r.ch]
	if s == nil && chain == nil {
		return nil
	}
	data, err := schema.DecodeData(m.Data)
	if err != nil {
		return bayeux.NewError(400, "invalid_message", bayeux.ErrorArg(err.Error()))
	}
	if v := s.ValidateValue(data); len(v) > 0 {
		return invalid(v)
	}
	if chain != nil {
		if data, err = chain.FilterData(ctx, from, m.Channel, data); err != nil {
			var be *bayeux.Error
			if errors.As(err, &be) {
				return be
			}
			return bayeux.NewError(400, "data_rejected", bayeux.ErrorArg(err.Error()))
		}
	}
	if chain != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return bayeux.NewError(500, "data_unencodable")
		}
		m.Data = raw
	}
	return nil
}

// invalid is the error a publisher of an invalid message receives:
// "400:<violations>:invalid_message", each violation "path rule".
func invalid(vs []schema.Violation) *bayeux.Error { return validate.Error(vs) }

// policy is the gateway's SecurityPolicy.
type policy struct{ g *Gateway }

func (p *policy) CanHandshake(ctx context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	mode := p.g.spec.Auth.Handshake
	if mode == "" || mode == schema.HandshakeNone {
		return nil
	}
	token := tokenOf(ctx, m)
	if token == "" {
		if mode == schema.HandshakeRequired {
			return bayeux.NewError(403, "handshake_denied", "token_missing")
		}
		return nil
	}
	id, err := p.g.opts.Auth.Verify(token)
	if err != nil {
		return bayeux.NewError(403, "handshake_denied", tokenProblem(err))
	}
	s.SetUser(id.UserID, id.Roles...)
	return nil
}

func (p *policy) CanCreate(context.Context, *runtime.ServerSession, string, *bayeux.Message) error {
	return nil
}

func (p *policy) CanSubscribe(_ context.Context, s *runtime.ServerSession, channel string, _ *bayeux.Message) error {
	for _, r := range p.g.routes {
		params, ok := r.matchSubscription(channel)
		if !ok {
			continue
		}
		if err := checkParams(r, params); err != nil {
			return err
		}
		return allowed(r, r.ch.Subscribe, s, params, bayeux.IsWild(channel))
	}
	if p.g.opts.AllowUndeclared || bayeux.KindOf(channel) == bayeux.Service {
		return nil
	}
	return errUndeclared
}

func (p *policy) CanPublish(_ context.Context, s *runtime.ServerSession, channel string, _ *bayeux.Message) error {
	r, params := p.g.lookup(channel)
	if r == nil {
		if p.g.opts.AllowUndeclared {
			return nil
		}
		return errUndeclared
	}
	return allowed(r, r.ch.Publish, s, params, false)
}

// allowed applies a rule: any entry that allows the session allows it.
func allowed(r *route, rule schema.Rule, s *runtime.ServerSession, params map[string]string, wild bool) error {
	if len(rule.Allow) == 0 {
		return nil
	}
	for _, a := range rule.Allow {
		switch a.Kind {
		case schema.AllowAnyone:
			return nil
		case schema.AllowAuthenticated:
			if s.UserID() != "" {
				return nil
			}
		case schema.AllowRole:
			if s.HasRole(a.Role) {
				return nil
			}
		case schema.AllowSelf:
			if !wild && s.UserID() != "" && params[a.Param] == s.UserID() {
				return nil
			}
		case schema.AllowServer:
			// Only the server: never a client session.
		}
	}
	return errDeniedByRule
}

// tokenOf returns the handshake's token: ext.auth.token, or the HTTP
// Authorization bearer token.
func tokenOf(ctx context.Context, m *bayeux.Message) string {
	if auth, ok := m.Ext["auth"].(map[string]any); ok {
		if t, ok := auth["token"].(string); ok {
			return t
		}
	}
	if r := runtime.RequestFromContext(ctx); r != nil {
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			return strings.TrimSpace(h)
		}
	}
	return ""
}

// Publish validates data against the channel's schema and publishes it
// from the server: the backend's way in (see PublishHandler).
func (g *Gateway) Publish(ctx context.Context, channel string, data json.RawMessage) (int, error) {
	channel = bayeux.Normalize(channel)
	if !bayeux.ValidChannel(channel) || bayeux.IsWild(channel) || bayeux.KindOf(channel) != bayeux.Broadcast {
		return 0, bayeux.NewError(400, "invalid_channel", bayeux.ErrorArg(channel))
	}
	if !json.Valid(data) {
		return 0, bayeux.NewError(400, "data_invalid")
	}
	n, err := g.srv.Publish(channel, data)
	if err != nil {
		var be *bayeux.Error
		if errors.As(err, &be) {
			return 0, be
		}
		return 0, err
	}
	return n, nil
}

// Channels returns the declared channel patterns, for logs.
func (g *Gateway) Channels() []string {
	out := make([]string, 0, len(g.routes))
	for _, r := range g.routes {
		out = append(out, r.ch.Pattern)
	}
	slices.Sort(out)
	return out
}
