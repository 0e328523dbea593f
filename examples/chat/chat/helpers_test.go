package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/examples/chat/chat"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// wait bounds every wait of the tests for something that should happen.
const wait = 5 * time.Second

// transports are the transports every end-to-end test runs over.
var transports = []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling}

// env is a chat server behind httptest on loopback.
type env struct {
	srv  *runtime.Server
	chat *chat.Chat
	url  string // the Bayeux endpoint
}

// newEnv starts a chat server; it is shut down when the test ends.
func newEnv(t *testing.T, opts chat.Options, ropts runtime.Options) *env {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	if ropts.Logger == nil {
		ropts.Logger = quiet
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	srv := runtime.New(ropts)
	c, err := chat.New(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/cometd", srv)
	mux.Handle("/cometd/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &env{srv: srv, chat: c, url: hs.URL + "/cometd"}
}

// newClient returns a client of e that logs in as user at handshake.
func (e *env) newClient(transport, user string) *client.Client {
	return client.New(e.url,
		client.WithTransport(transport),
		client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": user}}),
		client.WithBackoff(50*time.Millisecond, 200*time.Millisecond),
	)
}

// login returns a handshaken client of user, disconnected when the test
// ends.
func (e *env) login(t *testing.T, transport, user string) *client.Client {
	t.Helper()
	c := e.newClient(transport, user)
	if err := c.Handshake(ctxFor(t)); err != nil {
		t.Fatalf("login %s over %s: %v", user, transport, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// ctxFor returns a context bounded by wait and by the test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	t.Cleanup(cancel)
	return ctx
}

// inbox collects the events of one subscription.
type inbox struct {
	channel string
	ch      chan *bayeux.Message
}

// subscribe subscribes c to channel and returns the inbox of its events.
func subscribe(t *testing.T, c *client.Client, channel string) *inbox {
	t.Helper()
	in := &inbox{channel: channel, ch: make(chan *bayeux.Message, 64)}
	if _, err := c.Subscribe(ctxFor(t), channel, func(m *bayeux.Message) { in.ch <- m }); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return in
}

// next returns the next event, or fails the test after wait.
func (in *inbox) next(t *testing.T) *bayeux.Message {
	t.Helper()
	select {
	case m := <-in.ch:
		return m
	case <-time.After(wait):
		t.Fatalf("no event on %s within %v", in.channel, wait)
		return nil
	}
}

// none fails the test if an event arrives within d.
func (in *inbox) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-in.ch:
		t.Fatalf("unexpected event on %s: %s", m.Channel, m.Data)
	case <-time.After(d):
	}
}

// decode decodes an event's data.
func decode[T any](t *testing.T, m *bayeux.Message) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m.Data, &v); err != nil {
		t.Fatalf("decode %s: %v", m.Data, err)
	}
	return v
}

// callIDs numbers the remote calls of the tests.
var callIDs atomic.Int64

// call makes a remote call on behalf of c's session and returns the
// result's data and whether the call succeeded.
//
// The Go client has no remote-call method, and its Publish cannot serve as
// one: the server answers the publish (successful, no data) and delivers
// the result separately with the same id, and over long-polling the result
// may arrive first, on the held /meta/connect, where Publish takes it for
// its reply and the data is lost. So the request is posted here, with the
// session's client id and an id of the test's own, and the result is
// awaited through c's transport, on a subscription to the service channel
// (a no-op on the server, which delivers the result to the caller
// regardless).
func call[Resp any](t *testing.T, e *env, c *client.Client, channel string, req any) (Resp, bool) {
	t.Helper()
	ctx := ctxFor(t)
	id := bayeux.ID(fmt.Sprintf("testcall%d", callIDs.Add(1)))
	results := make(chan *bayeux.Message, 1)
	sub, err := c.Subscribe(ctx, channel, func(m *bayeux.Message) {
		if m.ID == id {
			results <- m
		}
	})
	if err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	defer c.Unsubscribe(context.Background(), sub)

	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal([]bayeux.Message{{Channel: channel, ID: id, ClientID: c.ClientID(), Data: data}})
	if replies := postJSON(t, e.url, body); len(replies) != 1 || !replies[0].IsSuccessful() {
		t.Fatalf("call %s: publish replies %+v", channel, replies)
	}
	var res Resp
	select {
	case m := <-results:
		if err := json.Unmarshal(m.Data, &res); err != nil {
			t.Fatalf("call %s: decode %s: %v", channel, m.Data, err)
		}
		return res, m.IsSuccessful()
	case <-ctx.Done():
		t.Fatalf("call %s: no result: %v", channel, ctx.Err())
		return res, false
	}
}

// bayeuxError returns the *bayeux.Error in err, or fails the test.
func bayeuxError(t *testing.T, err error) *bayeux.Error {
	t.Helper()
	var be *bayeux.Error
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *bayeux.Error", err)
	}
	return be
}

// postJSON posts a Bayeux request body and returns the replies.
func postJSON(t *testing.T, url string, body []byte) []bayeux.Message {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
	var replies []bayeux.Message
	if err := json.NewDecoder(resp.Body).Decode(&replies); err != nil {
		t.Fatalf("POST %s: decode: %v", url, err)
	}
	return replies
}

// Channel name prefixes of /chat/{room} and /members/{room}.
const (
	roomPrefix    = "/chat/"
	membersPrefix = "/members/"
)

// The wire messages, as a client sees them. The tests decode into these
// rather than the generated types to check the JSON itself (user present,
// no other field).
type (
	Message struct {
		User string `json:"user"`
		Text string `json:"text"`
	}
	MembersEvent struct {
		Room    string   `json:"room"`
		Members []string `json:"members"`
	}
	MembersRequest struct {
		Room string `json:"room"`
	}
	PrivateRequest struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}
	PrivateReply struct {
		Delivered int `json:"delivered"`
	}
	PrivateMessage struct {
		From string `json:"from"`
		To   string `json:"to"`
		Text string `json:"text"`
	}
	Notice struct {
		Text string    `json:"text"`
		Time time.Time `json:"time"`
	}
)

// callRefused makes a remote call whose publish the server must refuse, and
// returns the publish reply's error.
func callRefused(t *testing.T, e *env, c *client.Client, channel string, req any) string {
	t.Helper()
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	id := bayeux.ID(fmt.Sprintf("testcall%d", callIDs.Add(1)))
	body, _ := json.Marshal([]bayeux.Message{{Channel: channel, ID: id, ClientID: c.ClientID(), Data: data}})
	replies := postJSON(t, e.url, body)
	if len(replies) != 1 || replies[0].IsSuccessful() {
		t.Fatalf("call %s: publish replies %+v, want a refusal", channel, replies)
	}
	return replies[0].Error
}
