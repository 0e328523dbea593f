package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/gateway"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/schema"
)

// A path is one way of serving a spec: the gateway, or the generated code.
type path struct {
	name string
	// install puts the spec on srv.
	install func(t *testing.T, srv *runtime.Server, spec *schema.Spec)
}

var paths = []path{
	{"gateway", func(t *testing.T, srv *runtime.Server, spec *schema.Spec) {
		installGateway(t, srv, spec, false)
	}},
	{"generated", func(t *testing.T, srv *runtime.Server, spec *schema.Spec) {
		register := generated[specName(t, spec)]
		if register == nil {
			t.Fatalf("no generated code for %s: go test ./internal/contracttest -run TestGenerated -update", spec.File)
		}
		if err := register(srv); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}},
}

func installGateway(t *testing.T, srv *runtime.Server, spec *schema.Spec, allowUndeclared bool) {
	t.Helper()
	opts := gateway.Options{AllowUndeclared: allowUndeclared, Auth: &gateway.JWTAuth{Secret: []byte("unused")}, Filters: map[string]runtime.DataFilter{}}
	for _, ch := range spec.Channels {
		for _, f := range ch.Filters {
			if f.Custom {
				opts.Filters[f.Name] = runtime.DataFilterFunc(func(_ context.Context, _ *runtime.ServerSession, _ string, data any) (any, error) {
					return data, nil // as the generated Accept's filters
				})
			}
		}
	}
	if _, err := gateway.Install(srv, spec, opts); err != nil {
		t.Fatalf("gateway.Install: %v", err)
	}
}

// specName returns the name of spec in specs.
func specName(t *testing.T, spec *schema.Spec) string {
	for name, file := range specs {
		if file == spec.File {
			return name
		}
	}
	t.Fatalf("%s is not a spec of the suite", spec.File)
	return ""
}

// newServer returns a server with spec installed by p, whose sessions
// take the identity their handshake names in ext.test (see handshake):
// authentication is not what the suite compares.
func newServer(t *testing.T, p path, spec *schema.Spec, opts runtime.Options) *runtime.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = discard
	}
	srv := runtime.New(opts)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	p.install(t, srv, spec)
	srv.SetSecurityPolicy(identity{})
	return srv
}

// identity is the suite's security policy: a handshake's ext.test names
// the session's user and roles.
type identity struct{ runtime.AllowAll }

func (identity) CanHandshake(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	if id, ok := m.Ext["test"].(map[string]any); ok {
		user, _ := id["user"].(string)
		var roles []string
		if rs, ok := id["roles"].([]any); ok {
			for _, r := range rs {
				roles = append(roles, r.(string))
			}
		}
		s.SetUser(user, roles...)
	}
	return nil
}

// client is a session on a server over long-polling, driven in the
// test's goroutine through the server's http.Handler.
type client struct {
	t      *testing.T
	srv    http.Handler
	id     string
	cookie string
	n      int
}

// reply is what a client needs of a reply or a delivery.
type reply struct {
	Channel    string          `json:"channel"`
	ID         string          `json:"id,omitempty"`
	Successful *bool           `json:"successful,omitempty"`
	Error      string          `json:"error,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Ext        map[string]any  `json:"ext,omitempty"`
	ClientID   string          `json:"clientId,omitempty"`
	Advice     map[string]any  `json:"advice,omitempty"`
}

// outcome is how a reply reads in a transcript: "ok" or the error.
func (r reply) outcome() string {
	if r.Successful != nil && *r.Successful {
		return "ok"
	}
	return "refused " + r.Error
}

// handshake opens a session as user (anonymous: "") with roles, and makes
// its first connect.
func handshake(t *testing.T, srv http.Handler, user string, roles ...string) *client {
	t.Helper()
	c := &client{t: t, srv: srv}
	ext := map[string]any{}
	if user != "" {
		ext["test"] = map[string]any{"user": user, "roles": roles}
	}
	rs := c.post(map[string]any{"channel": bayeux.MetaHandshake, "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": ext})
	if len(rs) == 0 || rs[0].outcome() != "ok" {
		t.Fatalf("handshake as %q: %+v", user, rs)
	}
	c.id = rs[0].ClientID
	c.drain()
	return c
}

// post sends msgs in one request and returns what the server answered.
func (c *client) post(msgs ...map[string]any) []reply {
	c.t.Helper()
	for _, m := range msgs {
		c.n++
		m["id"] = fmt.Sprint(c.n)
		if c.id != "" {
			m["clientId"] = c.id
		}
	}
	body, _ := json.Marshal(msgs)
	req := httptest.NewRequest(http.MethodPost, "/cometd", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	w := httptest.NewRecorder()
	c.srv.ServeHTTP(w, req)
	if ck := w.Result().Cookies(); len(ck) > 0 {
		c.cookie = ck[0].Name + "=" + ck[0].Value
	}
	var rs []reply
	if err := json.Unmarshal(w.Body.Bytes(), &rs); err != nil {
		c.t.Fatalf("post %s: status %d, %q: %v", body, w.Code, w.Body.String(), err)
	}
	return rs
}

// call sends one message and returns its reply (by id).
func (c *client) call(m map[string]any) reply {
	c.t.Helper()
	rs := c.post(m)
	for _, r := range rs {
		if r.ID == m["id"] && r.Channel == m["channel"] {
			return r
		}
	}
	c.t.Fatalf("no reply to %v in %+v", m, rs)
	return reply{}
}

func (c *client) subscribe(channel string) reply {
	return c.call(map[string]any{"channel": bayeux.MetaSubscribe, "subscription": channel})
}

func (c *client) publish(channel string, data json.RawMessage, ext map[string]any) reply {
	m := map[string]any{"channel": channel, "data": data}
	if ext != nil {
		m["ext"] = ext
	}
	return c.call(m)
}

// drain returns what is queued for the session, by a connect that is not
// held.
func (c *client) drain() []reply {
	c.t.Helper()
	rs := c.post(map[string]any{"channel": bayeux.MetaConnect, "connectionType": "long-polling", "advice": map[string]any{"timeout": 0}})
	var out []reply
	for _, r := range rs {
		if !strings.HasPrefix(r.Channel, "/meta/") {
			out = append(out, r)
		}
	}
	return out
}

// heldConnect starts a connect that the server holds up to hold, and
// returns a channel that yields its replies when it is answered.
func (c *client) heldConnect(hold time.Duration) <-chan []reply {
	c.n++
	m := map[string]any{"channel": bayeux.MetaConnect, "clientId": c.id, "id": fmt.Sprint(c.n), "connectionType": "long-polling", "advice": map[string]any{"timeout": hold.Milliseconds()}}
	body, _ := json.Marshal([]any{m})
	done := make(chan []reply, 1)
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/cometd", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", c.cookie)
		w := httptest.NewRecorder()
		c.srv.ServeHTTP(w, req)
		var rs []reply
		json.Unmarshal(w.Body.Bytes(), &rs)
		done <- rs
	}()
	return done
}
