package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/gateway"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/schema"
	"github.com/golang-jwt/jwt/v5"
)

const testSpec = `cometgen: 1
name: test
auth:
  handshake: optional
  roles: [member, admin]
schemas:
  ChatMessage:
    type: object
    required: [user, text]
    additionalProperties: false
    properties:
      user: {type: string, maxLength: 32}
      text: {type: string, minLength: 1, maxLength: 20}
channels:
  /chat/{room}:
    params:
      room: {pattern: "^[a-z0-9-]{1,16}$"}
    message: ChatMessage
    subscribe: {allow: [anyone]}
    publish: {allow: [member]}
    filters: [{trim: [text]}, {no-markup: [text]}]
  /user/{id}/inbox:
    params:
      id: {pattern: "^[a-z]{1,32}$"}
    message:
      type: object
      required: [note]
      properties: {note: {type: string}}
    subscribe: {allow: [{self: id}]}
    publish: {allow: [server]}
  /open:
    message: {type: string}
`

var secret = []byte("test-secret-of-32-bytes-or-more!")

func token(t *testing.T, user string, roles ...string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "roles": roles, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type env struct {
	url string
	gw  *gateway.Gateway
	srv *runtime.Server
}

func newEnv(t *testing.T, opts gateway.Options) *env {
	t.Helper()
	spec, err := schema.Parse("test.yaml", []byte(testSpec), t.TempDir())
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	srv := runtime.New(runtime.Options{})
	if opts.Auth == nil {
		opts.Auth = &gateway.JWTAuth{Secret: secret}
	}
	gw, err := gateway.Install(srv, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/cometd", srv)
	mux.Handle("/cometd/", srv)
	mux.Handle("/publish", gw.PublishHandler("backend-key"))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
	})
	return &env{url: hs.URL, gw: gw, srv: srv}
}

func (e *env) client(t *testing.T, tok string) (*client.Client, error) {
	t.Helper()
	var opts []client.Option
	if tok != "" {
		opts = append(opts, client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": tok}}))
	}
	c := client.New(e.url+"/cometd", opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c, nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func bayeuxErr(t *testing.T, err error) string {
	t.Helper()
	var be *bayeux.Error
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a Bayeux error", err)
	}
	return be.Error()
}

func TestValidation(t *testing.T) {
	e := newEnv(t, gateway.Options{})
	alice, err := e.client(t, token(t, "alice", "member"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *bayeux.Message, 4)
	if _, err := alice.Subscribe(ctx(t), "/chat/lobby", func(m *bayeux.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	err = alice.Publish(ctx(t), "/chat/lobby", map[string]any{"user": "alice", "text": strings.Repeat("x", 30)})
	if msg := bayeuxErr(t, err); !strings.HasPrefix(msg, "400:") || !strings.Contains(msg, "/text") || !strings.Contains(msg, "maxLength") || !strings.HasSuffix(msg, ":invalid_message") {
		t.Errorf("invalid publish error = %q, want the field and the rule", msg)
	}
	err = alice.Publish(ctx(t), "/chat/lobby", map[string]any{"text": "no user"})
	if msg := bayeuxErr(t, err); !strings.Contains(msg, "user") {
		t.Errorf("missing field error = %q", msg)
	}
	// Valid, and filtered in the declared order.
	if err := alice.Publish(ctx(t), "/chat/lobby", map[string]any{"user": "alice", "text": "  <b>hi</b> "}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		var d map[string]string
		json.Unmarshal(m.Data, &d)
		if d["text"] != "&lt;b&gt;hi&lt;/b&gt;" {
			t.Errorf("delivered text %q", d["text"])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("valid message not delivered")
	}
	select {
	case m := <-got:
		t.Errorf("an invalid message was delivered: %s", m.Data)
	default:
	}
	// An invalid channel parameter.
	err = alice.Publish(ctx(t), "/chat/NOT_OK", map[string]any{"user": "a", "text": "b"})
	if msg := bayeuxErr(t, err); !strings.Contains(msg, "invalid_channel") {
		t.Errorf("bad room error = %q", msg)
	}
}

func TestUndeclaredChannels(t *testing.T) {
	e := newEnv(t, gateway.Options{})
	c, err := e.client(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx(t), "/nope", func(*bayeux.Message) {}); err == nil || !strings.Contains(err.Error(), "channel_not_declared") {
		t.Errorf("subscribe to an undeclared channel: %v", err)
	}
	if err := c.Publish(ctx(t), "/nope", "x"); err == nil || !strings.Contains(err.Error(), "channel_not_declared") {
		t.Errorf("publish to an undeclared channel: %v", err)
	}
	if err := c.Publish(ctx(t), "/open", "declared, anyone"); err != nil {
		t.Errorf("publish to /open: %v", err)
	}

	open := newEnv(t, gateway.Options{AllowUndeclared: true})
	c2, _ := open.client(t, "")
	if err := c2.Publish(ctx(t), "/nope", "x"); err != nil {
		t.Errorf("with AllowUndeclared: %v", err)
	}
}

func TestAuthenticationAndRules(t *testing.T) {
	e := newEnv(t, gateway.Options{})
	if _, err := e.client(t, "not-a-jwt"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("handshake with a bad token: %v", err)
	}
	wrongKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "eve", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("another-secret-another-secret-xx"))
	if _, err := e.client(t, wrongKey); err == nil {
		t.Error("a token signed with another key was accepted")
	}
	anon, err := e.client(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.Publish(ctx(t), "/chat/lobby", map[string]any{"user": "x", "text": "y"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("anonymous publish on a member channel: %v", err)
	}
	bob, err := e.client(t, token(t, "bob", "member"))
	if err != nil {
		t.Fatal(err)
	}
	// self: only bob subscribes to bob's inbox.
	if _, err := bob.Subscribe(ctx(t), "/user/bob/inbox", func(*bayeux.Message) {}); err != nil {
		t.Errorf("bob subscribing to his inbox: %v", err)
	}
	if _, err := bob.Subscribe(ctx(t), "/user/alice/inbox", func(*bayeux.Message) {}); err == nil {
		t.Error("bob subscribed to alice's inbox")
	}
	// server: no client publishes on inboxes, the backend does.
	if err := bob.Publish(ctx(t), "/user/bob/inbox", map[string]any{"note": "x"}); err == nil {
		t.Error("a client published on a server-only channel")
	}
}

func TestBackendPublish(t *testing.T) {
	e := newEnv(t, gateway.Options{})
	bob, err := e.client(t, token(t, "bob", "member"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *bayeux.Message, 2)
	bob.Subscribe(ctx(t), "/user/bob/inbox", func(m *bayeux.Message) { got <- m })
	post := func(key, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/publish", bytes.NewReader([]byte(body)))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := post("wrong", `{"channel":"/user/bob/inbox","data":{"note":"x"}}`); code != 401 {
		t.Errorf("wrong key: %d", code)
	}
	if code, out := post("backend-key", `{"channel":"/user/bob/inbox","data":{"nope":1}}`); code != 400 || !strings.Contains(out["error"].(string), "invalid_message") {
		t.Errorf("invalid data: %d %v", code, out)
	}
	if code, out := post("backend-key", `not json`); code != 400 {
		t.Errorf("bad body: %d %v", code, out)
	}
	code, out := post("backend-key", `{"channel":"/user/bob/inbox","data":{"note":"hello bob"}}`)
	if code != 200 || out["deliveries"] != float64(1) {
		t.Fatalf("publish: %d %v", code, out)
	}
	select {
	case m := <-got:
		if !strings.Contains(string(m.Data), "hello bob") {
			t.Errorf("got %s", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend publish not delivered")
	}
}

func TestTokenProblems(t *testing.T) {
	auth := &gateway.JWTAuth{Secret: secret}
	sign := func(claims jwt.MapClaims, key []byte) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		return s
	}
	future := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name, token, want string
	}{
		{"expired", sign(jwt.MapClaims{"sub": "a", "exp": time.Now().Add(-time.Hour).Unix()}, secret), "token_expired"},
		{"other key", sign(jwt.MapClaims{"sub": "a", "exp": future}, []byte("another-secret-another-secret-xx")), "token_signature_invalid"},
		{"garbage", "not.a.jwt", "token_malformed"},
		{"no user", sign(jwt.MapClaims{"exp": future}, secret), "token_without_user"},
		{"no exp", sign(jwt.MapClaims{"sub": "a"}, secret), "token_invalid"},
	}
	for _, tt := range tests {
		_, err := auth.Verify(tt.token)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if got := gateway.TokenProblem(err); got != tt.want {
			t.Errorf("%s: %q (%v), want %q", tt.name, got, err, tt.want)
		}
	}
	id, err := auth.Verify(sign(jwt.MapClaims{"sub": "ann", "roles": "member admin", "exp": future}, secret))
	if err != nil || id.UserID != "ann" || len(id.Roles) != 2 || id.Roles[1] != "admin" {
		t.Errorf("space-separated roles: %+v %v", id, err)
	}
}

func TestHostileMessages(t *testing.T) {
	e := newEnv(t, gateway.Options{})
	c, err := e.client(t, token(t, "alice", "member"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) (int, string) {
		resp, err := http.Post(e.url+"/cometd", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	deep := strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000)
	status, body := post([]byte(`[{"channel":"/chat/lobby","clientId":"` + c.ClientID() + `","data":` + deep + `}]`))
	if status != 400 || !strings.Contains(body, "deep") {
		t.Errorf("10,000 levels of nesting: %d %q", status, body)
	}
	huge := `{"user":"a","text":"` + strings.Repeat("x", 2<<20) + `"}`
	status, body = post([]byte(`[{"channel":"/chat/lobby","clientId":"` + c.ClientID() + `","data":` + huge + `}]`))
	if status != 413 {
		t.Errorf("a 2 MiB message: %d %q", status, body)
	}
	// A message whose JSON is valid but not what the schema wants.
	err = c.Publish(ctx(t), "/chat/lobby", []any{"not", "an", "object"})
	if msg := bayeuxErr(t, err); !strings.Contains(msg, "type") {
		t.Errorf("array instead of object: %q", msg)
	}
	// The server keeps serving.
	if err := c.Publish(ctx(t), "/chat/lobby", map[string]any{"user": "alice", "text": "still here"}); err != nil {
		t.Errorf("publish after hostile input: %v", err)
	}
}

// TestLocalChannels: a spec channel marked local stays on its node of a
// cluster; the others cross.
func TestLocalChannels(t *testing.T) {
	const src = "cometgen: 1\nname: s\nchannels:\n" +
		"  /cursor/{table}:\n    params: {table: {}}\n    message: {type: object}\n    local: true\n" +
		"  /moves/{table}:\n    params: {table: {}}\n    message: {type: object}\n"
	spec, err := schema.Parse("s.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cluster := runtime.NewMemoryCluster()
	var srvs []*runtime.Server
	for range 2 {
		srv := runtime.New(runtime.Options{Broker: cluster.Broker()})
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
		if _, err := gateway.Install(srv, spec, gateway.Options{Auth: &gateway.JWTAuth{Secret: secret}}); err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, srv)
	}
	got := make(chan string, 4)
	ls := srvs[1].NewLocalSession("probe")
	if err := ls.Handshake(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"/cursor/*", "/moves/*"} {
		if err := ls.Subscribe(ch, func(m *bayeux.Message) { got <- m.Channel }); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []string{"/cursor/t1", "/moves/t1"} {
		if _, err := srvs[0].Publish(ch, map[string]int{"x": 1}); err != nil {
			t.Fatalf("publish %s: %v", ch, err)
		}
	}
	select {
	case ch := <-got:
		if ch != "/moves/t1" {
			t.Errorf("the other node got %s first, want only /moves/t1", ch)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other node got nothing")
	}
	select {
	case ch := <-got:
		t.Errorf("the other node also got %s", ch)
	case <-time.After(50 * time.Millisecond):
	}
}
