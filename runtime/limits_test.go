package runtime

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// readRawFrame reads the next websocket frame as bytes.
func (c *wsClient) readRawFrame(timeout time.Duration) ([]byte, error) {
	c.c.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.c.ReadMessage()
	return b, err
}

// TestInvalidUTF8Refused publishes a batch holding a message with invalid
// UTF-8 over each transport: that message alone is refused with
// 400::invalid_utf8, the other is delivered, and subscribers (websocket and
// long-polling) see only valid UTF-8 and stay connected.
func TestInvalidUTF8Refused(t *testing.T) {
	// The publisher's batch: a poisoned publish, then a good one.
	batch := `[{"channel":"/room/a","id":"1","clientId":"%s","data":{"text":"bad ` + "\xff\xfe" + `"}},` +
		`{"channel":"/room/a","id":"2","clientId":"%s","data":{"text":"good ` + "\u00e9" + `"}}]`
	publishers := map[string]func(t *testing.T, base string) []msg{
		"websocket": func(t *testing.T, base string) []msg {
			p := dialWS(t, base)
			p.handshake()
			body := strings.ReplaceAll(batch, "%s", p.clientID)
			if err := p.c.WriteMessage(websocket.TextMessage, []byte(body)); err != nil {
				t.Fatal(err)
			}
			return p.read(5 * time.Second)
		},
		"long-polling": func(t *testing.T, base string) []msg {
			p := newLP(t, base)
			p.start()
			status, out := p.post("", []byte(strings.ReplaceAll(batch, "%s", p.clientID)))
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, out)
			}
			return decodeReplies(t, out)
		},
		"callback-polling": func(t *testing.T, base string) []msg {
			p := newLP(t, base)
			p.start()
			q := url.Values{"jsonp": {"cb"}, "message": {strings.ReplaceAll(batch, "%s", p.clientID)}}
			resp, err := p.http.Get(base + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !utf8.Valid(out) {
				t.Fatalf("status %d: %q", resp.StatusCode, out)
			}
			s, ok := strings.CutPrefix(string(out), "cb(")
			if s, ok = strings.CutSuffix(s, ");"); !ok {
				t.Fatalf("response %q", out)
			}
			return decodeReplies(t, []byte(s))
		},
	}
	for name, publish := range publishers {
		t.Run(name, func(t *testing.T) {
			_, base := newTestServer(t, Options{Timeout: 200 * time.Millisecond})
			wsSub := dialWS(t, base)
			wsSub.handshake()
			wsSub.write(msg{"channel": "/meta/subscribe", "subscription": "/room/a"})
			wsSub.readUntil(5*time.Second, isReplyTo("2"))
			lpSub := newLP(t, base).start()
			lpSub.subscribe("/room/a")

			replies := publish(t, base)
			byID := map[any]msg{}
			for _, r := range replies {
				byID[r["id"]] = r
			}
			if r := byID["1"]; r == nil || r["successful"] != false || r["error"] != "400::invalid_utf8" {
				t.Errorf("reply to the poisoned publish: %v (all: %v)", r, replies)
			}
			if r := byID["2"]; r == nil || r["successful"] != true {
				t.Errorf("reply to the good publish: %v", r)
			}

			// The websocket subscriber gets the good event in valid UTF-8,
			// and nothing else.
			frame, err := wsSub.readRawFrame(5 * time.Second)
			if err != nil {
				t.Fatalf("websocket subscriber: %v", err)
			}
			if !utf8.Valid(frame) {
				t.Fatalf("websocket subscriber got invalid UTF-8: %q", frame)
			}
			var evs []msg
			if err := json.Unmarshal(frame, &evs); err != nil || len(evs) != 1 || evs[0]["data"].(map[string]any)["text"] != "good é" {
				t.Fatalf("websocket subscriber got %s", frame)
			}
			// The long-polling subscriber too.
			status, out := lpSub.post("", []byte(`[{"channel":"/meta/connect","connectionType":"long-polling","clientId":"`+lpSub.clientID+`"}]`))
			if status != http.StatusOK || !utf8.Valid(out) {
				t.Fatalf("long-polling subscriber: status %d, %q", status, out)
			}
			if evs := events(decodeReplies(t, out)); len(evs) != 1 {
				t.Fatalf("long-polling subscriber got %s", out)
			}
			// The websocket subscriber is still connected and served.
			pub := newLP(t, base).start()
			if r := pub.publish("/room/a", "after"); r["successful"] != true {
				t.Fatalf("publish after: %v", r)
			}
			if ev, _ := wsSub.readUntil(5*time.Second, func(m msg) bool { return m["data"] != nil }); ev["data"] != "after" {
				t.Fatalf("websocket subscriber after: %v", ev)
			}
		})
	}
}

// TestInvalidUTF8FromTheApplication: Server.Publish refuses raw JSON that
// is not UTF-8, as it refuses raw JSON that is not JSON.
func TestInvalidUTF8FromTheApplication(t *testing.T) {
	srv, _ := newTestServer(t, Options{})
	if _, err := srv.Publish("/a", json.RawMessage("\"\xff\"")); err == nil {
		t.Error("Server.Publish accepted invalid UTF-8")
	}
}

// TestMaxMessagesPerRequest: a request of more messages than
// MaxMessagesPerRequest is refused as a whole, before any is processed,
// with 413::too_many_messages; one of exactly that many is served.
func TestMaxMessagesPerRequest(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	// 1 MiB of {} messages: ~350,000 of them.
	body := []byte("[" + strings.Repeat("{},", (1<<20)/3-1) + "{}]")
	before := srv.Stats().MessagesIn
	t.Run("long-polling", func(t *testing.T) {
		c := newLP(t, base)
		status, out := c.post("", body)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), "413::too_many_messages") {
			t.Fatalf("status %d: %.200s", status, out)
		}
	})
	t.Run("callback-polling", func(t *testing.T) {
		c := newLP(t, base)
		small := "[" + strings.Repeat("{},", DefaultMaxMessagesPerRequest) + "{}]"
		resp, err := c.http.Get(base + "?" + url.Values{"jsonp": {"cb"}, "message": {small}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), "413::too_many_messages") {
			t.Fatalf("status %d: %.200s", resp.StatusCode, out)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		c := dialWS(t, base)
		if err := c.c.WriteMessage(websocket.TextMessage, body); err != nil {
			t.Fatal(err)
		}
		_, err := c.readRawFrame(5 * time.Second)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig || !strings.Contains(ce.Text, "413::too_many_messages") {
			t.Fatalf("read: %v", err)
		}
	})
	if n := srv.Stats().MessagesIn - before; n != 0 {
		t.Errorf("%d messages were processed", n)
	}
	t.Run("at the cap", func(t *testing.T) {
		c := newLP(t, base).start()
		var batch []msg
		for range DefaultMaxMessagesPerRequest {
			batch = append(batch, msg{"channel": "/a", "data": 1})
		}
		if replies := c.send(batch...); len(replies) != DefaultMaxMessagesPerRequest {
			t.Fatalf("%d replies", len(replies))
		}
	})
}

// TestHandshakeChecksVersionAndTransports: Bayeux fails a handshake whose
// version the server does not speak, or whose connection types have none
// in common with the server's, telling the server's types and advising
// reconnect "none"; fields the client leaves out are not held against it.
func TestHandshakeChecksVersionAndTransports(t *testing.T) {
	_, base := newTestServer(t, Options{Transports: []string{"websocket", "long-polling"}})
	tests := []struct {
		name  string
		hs    msg
		error string // "": successful
	}{
		{"1.0", msg{"version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}, ""},
		{"1", msg{"version": "1", "supportedConnectionTypes": []string{"long-polling"}}, ""},
		{"1.1 and many types", msg{"version": "1.1", "supportedConnectionTypes": []string{"iframe", "callback-polling", "websocket"}}, ""},
		{"no version, no types", msg{}, ""},
		{"2.0", msg{"version": "2.0", "supportedConnectionTypes": []string{"long-polling"}}, "400::version_unsupported"},
		{"0.9", msg{"version": "0.9", "supportedConnectionTypes": []string{"long-polling"}}, "400::version_unsupported"},
		{"no common type", msg{"version": "1.0", "supportedConnectionTypes": []string{"callback-polling", "flash"}}, "405::no_transport"},
		{"empty types", msg{"version": "1.0", "supportedConnectionTypes": []string{}}, "405::no_transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.hs["channel"] = "/meta/handshake"
			r := newLP(t, base).send(tt.hs)[0]
			if tt.error == "" {
				if r["successful"] != true {
					t.Fatalf("handshake refused: %v", r)
				}
				return
			}
			adv, _ := r["advice"].(map[string]any)
			types, _ := r["supportedConnectionTypes"].([]any)
			if r["successful"] != false || r["error"] != tt.error || adv["reconnect"] != "none" ||
				len(types) != 2 || types[0] != "websocket" || r["version"] != "1.0" || r["clientId"] != nil {
				t.Fatalf("handshake reply %v, want error %s with the server's types and reconnect none", r, tt.error)
			}
		})
	}
}

// TestBrowserCookieAttributes: BAYEUX_BROWSER is HttpOnly and
// SameSite=Lax, and Secure over TLS or with BrowserCookieSecure.
func TestBrowserCookieAttributes(t *testing.T) {
	handshake := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`
	cookie := func(t *testing.T, c *http.Client, url string) *http.Cookie {
		t.Helper()
		resp, err := c.Post(url, "application/json", strings.NewReader(handshake))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == DefaultBrowserCookieName {
				return ck
			}
		}
		t.Fatalf("no %s cookie in %v", DefaultBrowserCookieName, resp.Header)
		return nil
	}
	t.Run("http", func(t *testing.T) {
		_, base := newTestServer(t, Options{})
		ck := cookie(t, http.DefaultClient, base)
		if ck.SameSite != http.SameSiteLaxMode || ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %v: want HttpOnly, SameSite=Lax, not Secure", ck)
		}
	})
	t.Run("https", func(t *testing.T) {
		srv := New(Options{Logger: discardLogger()})
		hs := httptest.NewTLSServer(srv)
		t.Cleanup(func() { srv.Shutdown(t.Context()); hs.Close() })
		ck := cookie(t, hs.Client(), hs.URL)
		if ck.SameSite != http.SameSiteLaxMode || !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %v: want HttpOnly, SameSite=Lax, Secure", ck)
		}
	})
	t.Run("behind a TLS proxy", func(t *testing.T) {
		_, base := newTestServer(t, Options{BrowserCookieSecure: true})
		if ck := cookie(t, http.DefaultClient, base); !ck.Secure {
			t.Errorf("cookie %v: want Secure", ck)
		}
	})
}

// TestMaxSubscriptionsPerSession: a session's subscribe beyond the cap
// fails with 403::too_many_subscriptions; subscribing again to a channel
// it has is not one more, and an unsubscribe makes room.
func TestMaxSubscriptionsPerSession(t *testing.T) {
	_, base := newTestServer(t, Options{MaxSubscriptionsPerSession: 3})
	c := newLP(t, base).start()
	sub := func(s any) msg { return c.send(msg{"channel": "/meta/subscribe", "subscription": s})[0] }
	c.subscribe("/a", "/b", "/c/*")
	for _, s := range []any{"/d", []string{"/e", "/f"}} {
		if r := sub(s); r["successful"] != false || r["error"] != "403::too_many_subscriptions" {
			t.Errorf("subscribe %v beyond the cap: %v", s, r)
		}
	}
	if r := sub("/a"); r["successful"] != true {
		t.Errorf("subscribe again to /a: %v", r)
	}
	if r := sub("/service/x"); r["successful"] != true {
		t.Errorf("subscribe to a service channel (records nothing): %v", r)
	}
	c.send(msg{"channel": "/meta/unsubscribe", "subscription": "/a"})
	if r := sub("/d"); r["successful"] != true {
		t.Errorf("subscribe after an unsubscribe: %v", r)
	}
}

// TestMaxChannels: a client's subscribe that would create a channel beyond
// the server's cap fails with 503::too_many_channels; existing channels
// can still be joined, and a channel that goes away makes room.
func TestMaxChannels(t *testing.T) {
	srv, base := newTestServer(t, Options{MaxChannels: 2})
	a := newLP(t, base).start()
	a.subscribe("/a", "/b")
	b := newLP(t, base).start()
	if r := b.send(msg{"channel": "/meta/subscribe", "subscription": "/c"})[0]; r["successful"] != false || r["error"] != "503::too_many_channels" {
		t.Errorf("subscribe creating a third channel: %v", r)
	}
	b.subscribe("/a")
	if n := srv.Stats().Channels; n != 2 {
		t.Errorf("Stats().Channels = %d, want 2", n)
	}
	a.send(msg{"channel": "/meta/unsubscribe", "subscription": "/b"})
	b.subscribe("/c")
}

// TestMaxSessionsPerClient: one client address cannot hold more than
// MaxSessionsPerClient sessions; others still can, and a session that ends
// makes room.
func TestMaxSessionsPerClient(t *testing.T) {
	handshake := func(t *testing.T, base, forwardedFor string) msg {
		t.Helper()
		req, _ := newPost(base, []byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`))
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return decodeReplies(t, out)[0]
	}
	refused := func(r msg) bool {
		adv, _ := r["advice"].(map[string]any)
		return r["successful"] == false && r["error"] == "503::too_many_sessions_per_client" && adv["reconnect"] == "retry"
	}
	t.Run("loopback not counted by default", func(t *testing.T) {
		_, base := newTestServer(t, Options{MaxSessionsPerClient: 2})
		for range 3 {
			if r := handshake(t, base, ""); r["successful"] != true {
				t.Fatalf("handshake from loopback: %v", r)
			}
		}
	})
	t.Run("remote address", func(t *testing.T) {
		srv, base := newTestServer(t, Options{MaxSessionsPerClient: 2, ClientAddress: RemoteIP})
		first := handshake(t, base, "")
		handshake(t, base, "")
		if r := handshake(t, base, "1.2.3.4"); !refused(r) {
			t.Fatalf("third handshake from one address (header not trusted): %v", r)
		}
		c := newLP(t, base)
		c.clientID = first["clientId"].(string)
		c.send(msg{"channel": "/meta/disconnect"})
		if r := handshake(t, base, ""); r["successful"] != true {
			t.Fatalf("handshake after a disconnect: %v", r)
		}
		if n := srv.Stats().Sessions; n != 2 {
			t.Errorf("Stats().Sessions = %d, want 2", n)
		}
	})
	t.Run("behind a proxy", func(t *testing.T) {
		_, base := newTestServer(t, Options{MaxSessionsPerClient: 2, ClientAddress: ForwardedClientIP("X-Forwarded-For")})
		handshake(t, base, "9.9.9.9, 1.2.3.4")
		handshake(t, base, "1.2.3.4")
		if r := handshake(t, base, "1.2.3.4"); !refused(r) {
			t.Fatalf("third handshake of 1.2.3.4: %v", r)
		}
		if r := handshake(t, base, "5.6.7.8"); r["successful"] != true {
			t.Fatalf("handshake of another client: %v", r)
		}
	})
}

func TestClientIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1:5000", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := clientIP(tt.in); got != tt.want {
			t.Errorf("clientIP(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// The default counts public peers only.
	for addr, counted := range map[string]bool{
		"203.0.113.7:1": true, "[2001:db8::1]:1": true,
		"127.0.0.1:1": false, "10.1.2.3:1": false, "192.168.0.9:1": false, "[::1]:1": false, "[fd00::1]:1": false, "[fe80::1]:1": false,
	} {
		if got := publicRemoteIP(&http.Request{RemoteAddr: addr}); (got != "") != counted {
			t.Errorf("publicRemoteIP(%s) = %q, counted %v", addr, got, counted)
		}
	}
}

// TestCallbackPollingOrigins: callback-polling (JSONP), which any page can
// load with a script element and read, serves only the pages whose origin
// the other transports allow.
func TestCallbackPollingOrigins(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		header  map[string]string
		ok      bool
	}{
		{"no browser headers (curl, Node)", nil, nil, true},
		{"same-origin referer", nil, map[string]string{"Referer": "http://HOST/app/page.html"}, true},
		{"same-origin by Sec-Fetch-Site", nil, map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"cross-site referer", nil, map[string]string{"Referer": "https://evil.example/x.html", "Sec-Fetch-Site": "cross-site"}, false},
		{"cross-site origin", nil, map[string]string{"Origin": "https://evil.example"}, false},
		{"cross-site without a referer", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site without a referer", nil, map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"null origin, cross-site", nil, map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, false},
		{"allowed origin", []string{"https://app.example"}, map[string]string{"Referer": "https://app.example/chat", "Sec-Fetch-Site": "cross-site"}, true},
		{"other origin with some allowed", []string{"https://app.example"}, map[string]string{"Referer": "https://evil.example/", "Sec-Fetch-Site": "cross-site"}, false},
		{"any origin allowed", []string{"*"}, map[string]string{"Referer": "https://evil.example/", "Sec-Fetch-Site": "cross-site"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := newTestServer(t, Options{AllowedOrigins: tt.allowed})
			hs := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["callback-polling"]}]`
			req, _ := http.NewRequest(http.MethodGet, base+"?"+url.Values{"jsonp": {"cb"}, "message": {hs}}.Encode(), nil)
			for k, v := range tt.header {
				req.Header.Set(k, strings.ReplaceAll(v, "HOST", req.URL.Host))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			served := resp.StatusCode == http.StatusOK && strings.HasPrefix(string(out), "cb(") && strings.Contains(string(out), `"successful":true`)
			refused := resp.StatusCode == http.StatusForbidden && strings.Contains(string(out), "403::origin_not_allowed") &&
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript")
			if tt.ok && !served || !tt.ok && !refused {
				t.Fatalf("status %d, %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
			}
		})
	}
}
