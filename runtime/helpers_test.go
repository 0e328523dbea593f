package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// msg is a Bayeux message as a test sees it.
type msg = map[string]any

// newTestServer starts a Server behind httptest on loopback and returns it
// with its base URL. Both are closed when the test ends.
func newTestServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv, mux := newTestHandler(opts)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = srv.Shutdown(t.Context())
		hs.Close()
	})
	return srv, hs.URL + "/cometd"
}

// newTestHandler returns a Server (logging nowhere unless opts says) and a
// mux serving it at /cometd and below.
func newTestHandler(opts Options) (*Server, *http.ServeMux) {
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	srv := New(opts)
	mux := http.NewServeMux()
	mux.Handle("/cometd", srv)
	mux.Handle("/cometd/", srv)
	return srv, mux
}

// lpClient speaks raw long-polling: one POST per call, cookies kept.
type lpClient struct {
	t        *testing.T
	url      string
	http     *http.Client
	clientID string
	seq      int
}

func newLP(t *testing.T, url string) *lpClient {
	jar, _ := cookiejar.New(nil)
	return &lpClient{t: t, url: url, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *lpClient) nextID() string { c.seq++; return fmt.Sprint(c.seq) }

// post sends body to the endpoint (plus suffix) and returns status and body.
func (c *lpClient) post(suffix string, body []byte) (int, []byte) {
	c.t.Helper()
	resp, err := c.http.Post(c.url+suffix, "application/json;charset=UTF-8", bytes.NewReader(body))
	if err != nil {
		c.t.Fatalf("POST %s: %v", suffix, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// send posts messages, fills in clientId and id, and returns the replies.
func (c *lpClient) send(msgs ...msg) []msg {
	c.t.Helper()
	for _, m := range msgs {
		if _, ok := m["clientId"]; !ok && c.clientID != "" {
			m["clientId"] = c.clientID
		}
		if _, ok := m["id"]; !ok {
			m["id"] = c.nextID()
		}
	}
	body, _ := json.Marshal(msgs)
	status, out := c.post("", body)
	if status != http.StatusOK {
		c.t.Fatalf("POST %s: status %d: %s", body, status, out)
	}
	return decodeReplies(c.t, out)
}

func decodeReplies(t *testing.T, b []byte) []msg {
	t.Helper()
	var replies []msg
	if err := json.Unmarshal(b, &replies); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	for _, r := range replies {
		checkAdviceRule(t, r)
	}
	return replies
}

// checkAdviceRule fails the test when a reply breaks the rule the CometD
// client depends on: reconnect "handshake" only on unsuccessful replies.
func checkAdviceRule(t *testing.T, r msg) {
	t.Helper()
	adv, _ := r["advice"].(map[string]any)
	if adv != nil && adv["reconnect"] == "handshake" && r["successful"] == true {
		t.Errorf("reply %v: reconnect handshake on a successful reply", r)
	}
}

func (c *lpClient) handshake() msg {
	c.t.Helper()
	replies := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	if len(replies) != 1 || replies[0]["successful"] != true {
		c.t.Fatalf("handshake: %v", replies)
	}
	c.clientID = replies[0]["clientId"].(string)
	return replies[0]
}

// connect sends a /meta/connect (timeout 0 when immediate) and returns all
// messages of the response.
func (c *lpClient) connect(immediate bool) []msg {
	c.t.Helper()
	m := msg{"channel": "/meta/connect", "connectionType": "long-polling"}
	if immediate {
		m["advice"] = msg{"timeout": 0}
	}
	return c.send(m)
}

// start handshakes and completes the first connect.
func (c *lpClient) start() *lpClient {
	c.handshake()
	c.connect(true)
	return c
}

func (c *lpClient) subscribe(channels ...string) {
	c.t.Helper()
	for _, ch := range channels {
		r := c.send(msg{"channel": "/meta/subscribe", "subscription": ch})
		if r[0]["successful"] != true {
			c.t.Fatalf("subscribe %s: %v", ch, r)
		}
	}
}

func (c *lpClient) publish(channel string, data any) msg {
	c.t.Helper()
	r := c.send(msg{"channel": channel, "data": data})
	return r[0]
}

// events returns the messages of replies that carry data.
func events(replies []msg) []msg {
	var out []msg
	for _, r := range replies {
		if _, ok := r["data"]; ok {
			out = append(out, r)
		}
	}
	return out
}

func reply(t *testing.T, replies []msg, channel string) msg {
	t.Helper()
	for _, r := range replies {
		if r["channel"] == channel && r["data"] == nil {
			return r
		}
	}
	t.Fatalf("no reply on %s in %v", channel, replies)
	return nil
}

// wsClient speaks raw Bayeux over a websocket.
type wsClient struct {
	t        *testing.T
	c        *websocket.Conn
	clientID string
	seq      int
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(strings.Replace(url, "http", "ws", 1), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, c: c}
}

func (c *wsClient) write(msgs ...msg) {
	c.t.Helper()
	for _, m := range msgs {
		if _, ok := m["clientId"]; !ok && c.clientID != "" {
			m["clientId"] = c.clientID
		}
		if _, ok := m["id"]; !ok {
			c.seq++
			m["id"] = fmt.Sprint(c.seq)
		}
	}
	if err := c.c.WriteJSON(msgs); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the messages of the next frame.
func (c *wsClient) read(timeout time.Duration) []msg {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.c.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return decodeReplies(c.t, b)
}

// readUntil reads frames until one holds a message satisfying ok.
func (c *wsClient) readUntil(timeout time.Duration, ok func(msg) bool) (msg, []msg) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var seen []msg
	for time.Now().Before(deadline) {
		for _, m := range c.read(time.Until(deadline)) {
			seen = append(seen, m)
			if ok(m) {
				return m, seen
			}
		}
	}
	c.t.Fatalf("no matching message within %v; saw %v", timeout, seen)
	return nil, nil
}

func (c *wsClient) handshake() {
	c.t.Helper()
	c.write(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"websocket"}})
	r := c.read(5 * time.Second)
	if r[0]["successful"] != true {
		c.t.Fatalf("handshake: %v", r)
	}
	c.clientID = r[0]["clientId"].(string)
}

func isReplyTo(id string) func(msg) bool {
	return func(m msg) bool { return m["id"] == id && m["data"] == nil }
}

func newPost(url string, body []byte) (*http.Request, error) {
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r, err
}
