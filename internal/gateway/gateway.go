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

	"github.com/cometgen/cometgen/internal/contractplan"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/filter"
	"github.com/cometgen/cometgen/schema"
	"github.com/cometgen/cometgen/schema/breaking"
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
	// CompatWith are older versions of the spec: the clients generated
	// from one of them are not told of a change where the breaking rules
	// find it compatible (see breaking.Compatible).
	CompatWith []*schema.Spec
}

// Gateway is a spec installed on a server.
type Gateway struct {
	srv  *runtime.Server
	spec *schema.Spec
	opts Options
}

// Install enforces spec on srv: it installs the spec's contract (see
// Contract) and, when the spec authenticates handshakes, a SecurityPolicy
// that verifies their tokens. It fails when the spec needs something
// Options lack (a custom filter, a token verifier).
func Install(srv *runtime.Server, spec *schema.Spec, opts Options) (*Gateway, error) {
	g := &Gateway{srv: srv, spec: spec, opts: opts}
	if spec.Auth.Handshake != schema.HandshakeNone && spec.Auth.Handshake != "" && opts.Auth == nil {
		return nil, fmt.Errorf("gateway: the spec's auth.handshake is %s: a token verifier (JWT secret or public key) is needed", spec.Auth.Handshake)
	}
	c, err := Contract(spec, opts.Filters)
	if err != nil {
		return nil, err
	}
	c.AllowUndeclared = opts.AllowUndeclared
	if c.Print.Compatible, err = breaking.CompatibleWith(spec, opts.CompatWith...); err != nil {
		return nil, fmt.Errorf("gateway: --compat-with: %w", err)
	}
	if err := srv.SetContract(c); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	srv.SetSecurityPolicy(&policy{g: g})
	return g, nil
}

// Contract returns the runtime contract a spec declares: one template per
// channel with its parameters' checks, rules, schema, filters (custom ones
// from custom), lazy and local settings, as package contractplan plans
// them. It is what `cometgen serve --spec` enforces, and what the Register
// function generated from the same spec declares as a literal (with typed
// handlers added), with the spec's print (breaking.Fingerprint) to judge
// clients' contracts by.
func Contract(spec *schema.Spec, custom map[string]runtime.DataFilter) (*runtime.Contract, error) {
	plan, err := contractplan.Templates(spec)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	c := &runtime.Contract{Print: breaking.Fingerprint(spec)}
	for _, p := range plan {
		t := runtime.Template{
			Pattern:     p.Pattern,
			Params:      p.Params,
			Subscribe:   rule(p.Subscribe),
			Publish:     rule(p.Publish),
			Schema:      p.Schema,
			Lazy:        p.Lazy,
			LazyTimeout: p.LazyTimeout,
			Local:       p.Local,
		}
		for _, f := range p.Filters {
			if f.Custom != "" {
				df, ok := custom[f.Custom]
				if !ok {
					return nil, fmt.Errorf("gateway: %s: channel %s needs the custom filter %q, which the server does not supply", f.Pos, p.Pattern, f.Custom)
				}
				t.Filters = append(t.Filters, df)
				continue
			}
			df, err := filter.New(f.Builtin)
			if err != nil {
				return nil, fmt.Errorf("gateway: %s: %w", f.Pos, err)
			}
			t.Filters = append(t.Filters, df)
		}
		c.Templates = append(c.Templates, t)
	}
	return c, nil
}

// rule returns the runtime rule of a planned rule.
func rule(r contractplan.Rule) runtime.Rule {
	var out runtime.Rule
	for _, a := range r {
		switch a.Kind {
		case schema.AllowAuthenticated:
			out = append(out, runtime.Authenticated())
		case schema.AllowRole:
			out = append(out, runtime.Role(a.Role))
		case schema.AllowSelf:
			out = append(out, runtime.Self(a.Param))
		case schema.AllowServer:
			out = append(out, runtime.ServerOnly())
		}
	}
	return out
}

// policy is the gateway's SecurityPolicy: it authenticates handshakes;
// the contract decides the rest.
type policy struct {
	runtime.AllowAll
	g *Gateway
}

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
	out := make([]string, 0, len(g.spec.Channels))
	for _, ch := range g.spec.Channels {
		out = append(out, ch.Pattern)
	}
	slices.Sort(out)
	return out
}
