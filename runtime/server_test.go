package runtime

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHandshakeReply(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base)
	r := c.handshake()
	if r["id"] != "1" || r["version"] != "1.0" || r["channel"] != "/meta/handshake" {
		t.Errorf("handshake reply = %v", r)
	}
	id := r["clientId"].(string)
	if len(id) < 26 { // 128 bits in base32 need 26 characters
		t.Errorf("clientId %q is shorter than 128 random bits", id)
	}
	types := r["supportedConnectionTypes"].([]any)
	if len(types) != 3 || types[0] != "websocket" || types[1] != "long-polling" || types[2] != "callback-polling" {
		t.Errorf("supportedConnectionTypes = %v", types)
	}
	adv := r["advice"].(map[string]any)
	if adv["reconnect"] != "retry" || adv["timeout"] != float64(20000) || adv["interval"] != float64(0) || adv["maxInterval"] != float64(10000) {
		t.Errorf("advice = %v", adv)
	}
	u, _ := url.Parse(base)
	if cookies := c.http.Jar.Cookies(u); len(cookies) != 1 || cookies[0].Name != "BAYEUX_BROWSER" {
		t.Errorf("cookies after handshake = %v, want BAYEUX_BROWSER", cookies)
	}
	if other := newLP(t, base).handshake()["clientId"]; other == id {
		t.Error("two handshakes got the same clientId")
	}
}

func TestHandshakeAtAnyPathSuffix(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base)
	status, body := c.post("/handshake", []byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`))
	if status != 200 || !bytes.Contains(body, []byte(`"successful":true`)) {
		t.Fatalf("POST /handshake: %d %s", status, body)
	}
	// A single object instead of an array is accepted too.
	status, body = c.post("", []byte(`{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}`))
	if status != 200 || !bytes.Contains(body, []byte(`"successful":true`)) {
		t.Fatalf("POST object: %d %s", status, body)
	}
}

func TestOptionsPreflight(t *testing.T) {
	_, base := newTestServer(t, Options{AllowedOrigins: []string{"http://app.example"}})
	req, _ := http.NewRequest(http.MethodOptions, base+"/connect", nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("an origin not allowed got Access-Control-Allow-Origin %q", got)
	}
}

func TestConnectHoldAndRelease(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 300 * time.Millisecond})
	c := newLP(t, base)
	c.handshake()

	first := c.connect(false)
	if adv, _ := first[0]["advice"].(map[string]any); first[0]["successful"] != true || adv["reconnect"] != "retry" {
		t.Fatalf("first connect = %v, want immediate success with advice", first)
	}

	start := time.Now()
	c.connect(false)
	if held := time.Since(start); held < 250*time.Millisecond {
		t.Errorf("second connect returned after %v, want it held for the 300ms timeout", held)
	}

	// A message releases the held connect.
	c.subscribe("/wake")
	done := make(chan []msg)
	go func() { done <- c.connect(false) }()
	time.Sleep(50 * time.Millisecond)
	other := newLP(t, base).start()
	other.publish("/wake", "up")
	select {
	case got := <-done:
		ev := events(got)
		if len(ev) != 1 || ev[0]["data"] != "up" {
			t.Errorf("released connect = %v", got)
		}
		if got[len(got)-1]["channel"] != "/meta/connect" {
			t.Errorf("connect reply is not after the messages: %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held connect not released by a message")
	}
}

func TestNewerConnectDisplacesHeld(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 5 * time.Second})
	c := newLP(t, base).start()
	status := make(chan int)
	go func() {
		s, _ := c.post("", []byte(`[{"channel":"/meta/connect","clientId":"`+c.clientID+`","connectionType":"long-polling"}]`))
		status <- s
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	r := c.connect(true)
	if r[0]["successful"] != true {
		t.Fatalf("newer connect = %v", r)
	}
	select {
	case s := <-status:
		if s != http.StatusInternalServerError {
			t.Errorf("displaced connect status = %d, want 500", s)
		}
		if time.Since(start) > 2*time.Second {
			t.Error("displaced connect was not released promptly")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("displaced connect still held")
	}
}

func TestChannelRouting(t *testing.T) {
	tests := []struct {
		subs    []string
		publish string
		want    int // messages the subscriber receives
	}{
		{[]string{"/a/b"}, "/a/b", 1},
		{[]string{"/a/*"}, "/a/b", 1},
		{[]string{"/a/*"}, "/a/b/c", 0},
		{[]string{"/a/*"}, "/a", 0},
		{[]string{"/a/**"}, "/a/b/c", 1},
		{[]string{"/a/**"}, "/ab", 0},
		{[]string{"/**"}, "/x/y/z", 1},
		{[]string{"/a/b", "/a/*", "/a/**", "/**"}, "/a/b", 1}, // at most once
		{[]string{"/a/b"}, "/a/c", 0},
		{[]string{"/service/echo"}, "/service/echo", 0}, // service: never broadcast
		{[]string{"/service/**", "/**"}, "/service/echo", 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.subs, ",")+"<-"+tt.publish, func(t *testing.T) {
			_, base := newTestServer(t, Options{})
			sub := newLP(t, base).start()
			sub.subscribe(tt.subs...)
			pub := newLP(t, base).start()
			if r := pub.publish(tt.publish, msg{"n": 1}); r["successful"] != true {
				t.Fatalf("publish = %v", r)
			}
			// A marker published afterwards on a private channel closes the
			// window: once it arrives, everything before it has arrived.
			sub.subscribe("/marker")
			pub.publish("/marker", "end")
			var got []msg
			for range 10 {
				for _, e := range events(sub.connect(false)) {
					if e["channel"] == "/marker" {
						if len(got) != tt.want {
							t.Fatalf("received %d messages (%v), want %d", len(got), got, tt.want)
						}
						return
					}
					got = append(got, e)
				}
			}
			t.Fatal("marker never arrived")
		})
	}
}

func TestBroadcastCopiesCarryNoPublisherIdentity(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base).start()
	c.subscribe("/echo")
	r := c.send(msg{"channel": "/echo", "data": "x", "id": "77", "ext": msg{"k": "v"}})
	if r[0]["id"] != "77" || r[0]["successful"] != true || r[0]["data"] != nil {
		t.Fatalf("publish reply = %v, want {id:77, successful:true} without data", r[0])
	}
	ev := events(c.connect(false))
	if len(ev) != 1 {
		t.Fatalf("events = %v", ev)
	}
	if _, ok := ev[0]["id"]; ok {
		t.Errorf("broadcast copy carries the publisher's id: %v", ev[0])
	}
	if _, ok := ev[0]["clientId"]; ok {
		t.Errorf("broadcast copy carries the publisher's clientId: %v", ev[0])
	}
	if ext, _ := ev[0]["ext"].(map[string]any); ext["k"] != "v" {
		t.Errorf("ext not carried: %v", ev[0])
	}
}

func TestMetaChannelsRefused(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base).start()
	for _, ch := range []string{"/meta/connect", "/meta/foo", "/meta/**"} {
		r := c.send(msg{"channel": "/meta/subscribe", "subscription": ch})[0]
		if r["successful"] != false || r["error"] != "403:denied_by_security_policy:subscribe_denied" || r["subscription"] != ch {
			t.Errorf("subscribe %s = %v", ch, r)
		}
	}
	r := c.publish("/meta/foo", "x")
	if r["successful"] != false || !strings.HasPrefix(r["error"].(string), "403:") {
		t.Errorf("publish /meta/foo = %v", r)
	}
	// Subscribing to a service channel succeeds and does nothing.
	r = c.send(msg{"channel": "/meta/subscribe", "subscription": "/service/x"})[0]
	if r["successful"] != true {
		t.Errorf("subscribe /service/x = %v", r)
	}
}

func TestSubscribeArray(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base).start()
	r := c.send(msg{"channel": "/meta/subscribe", "subscription": []string{"/a", "/b"}})[0]
	if r["successful"] != true {
		t.Fatalf("subscribe array = %v", r)
	}
	if subs, _ := r["subscription"].([]any); len(subs) != 2 {
		t.Errorf("subscription not echoed as sent: %v", r)
	}
	p := newLP(t, base).start()
	p.publish("/a", 1)
	p.publish("/b", 2)
	if ev := events(c.connect(false)); len(ev) != 2 {
		t.Errorf("events = %v", ev)
	}
	r = c.send(msg{"channel": "/meta/unsubscribe", "subscription": []string{"/a", "/b"}})[0]
	if r["successful"] != true {
		t.Fatalf("unsubscribe = %v", r)
	}
	p.publish("/a", 3)
	c.subscribe("/marker")
	p.publish("/marker", 0)
	if ev := events(c.connect(false)); len(ev) != 1 || ev[0]["channel"] != "/marker" {
		t.Errorf("after unsubscribe got %v", ev)
	}
}

func TestSubscribeErrors(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base).start()
	tests := []struct {
		sub  any
		want string
	}{
		{nil, "403::subscription_missing"},
		{"", "403::subscription_invalid"},
		{"nochannel", "403::subscription_invalid"},
		{"/a/*/b", "403::subscription_invalid"},
		{42, "403::subscription_invalid"},
	}
	for _, tt := range tests {
		m := msg{"channel": "/meta/subscribe"}
		if tt.sub != nil {
			m["subscription"] = tt.sub
		}
		r := c.send(m)[0]
		if r["successful"] != false || r["error"] != tt.want {
			t.Errorf("subscribe %v = %v, want error %s", tt.sub, r, tt.want)
		}
	}
	r := c.send(msg{"channel": "/meta/unsubscribe", "subscription": "/never/subscribed"})[0]
	if r["successful"] != false || r["error"] != "400::channel_missing" {
		t.Errorf("unsubscribe unknown = %v", r)
	}
}

func TestUnknownAndDisconnectedClient(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := newLP(t, base)
	c.clientID = "forged0000000000000000000000000"
	r := c.connect(true)[0]
	adv, _ := r["advice"].(map[string]any)
	if r["successful"] != false || r["error"] != "402::session_unknown" || adv["reconnect"] != "handshake" {
		t.Errorf("connect with unknown client = %v", r)
	}
	r = c.publish("/a", 1)
	if r["successful"] != false || r["error"] != "402::session_unknown" {
		t.Errorf("publish with unknown client = %v", r)
	}
	// No clientId at all: an unconnected publish is refused too.
	c.clientID = ""
	if r := c.send(msg{"channel": "/a", "data": 1})[0]; r["error"] != "402::session_unknown" {
		t.Errorf("publish without clientId = %v", r)
	}

	c.start()
	if r := c.send(msg{"channel": "/meta/disconnect"})[0]; r["successful"] != true {
		t.Fatalf("disconnect = %v", r)
	}
	if r := c.connect(true)[0]; r["error"] != "402::session_unknown" {
		t.Errorf("connect after disconnect = %v", r)
	}
}

func TestDisconnectReleasesHeldConnect(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 10 * time.Second})
	c := newLP(t, base).start()
	done := make(chan []msg)
	go func() { done <- c.connect(false) }()
	time.Sleep(100 * time.Millisecond)
	c2 := &lpClient{t: t, url: base, http: &http.Client{Timeout: 5 * time.Second}, clientID: c.clientID}
	c2.send(msg{"channel": "/meta/disconnect"})
	select {
	case r := <-done:
		adv, _ := r[0]["advice"].(map[string]any)
		if adv["reconnect"] != "none" {
			t.Errorf("held connect after disconnect = %v, want reconnect none", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("disconnect did not release the held connect")
	}
}

func TestSessionExpires(t *testing.T) {
	srv, base := newTestServer(t, Options{MaxInterval: 100 * time.Millisecond, SweepPeriod: 20 * time.Millisecond})
	c := newLP(t, base).start()
	if n := srv.Stats().Sessions; n != 1 {
		t.Fatalf("sessions = %d", n)
	}
	deadline := time.Now().Add(3 * time.Second)
	for srv.Stats().Sessions != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Stats().Sessions != 0 || srv.Stats().Expired != 1 {
		t.Fatalf("stats = %+v, want the session expired", srv.Stats())
	}
	if r := c.connect(true)[0]; r["error"] != "402::session_unknown" {
		t.Errorf("connect after expiry = %v", r)
	}
}

func TestHeldConnectKeepsSessionAlive(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 400 * time.Millisecond, MaxInterval: 100 * time.Millisecond, SweepPeriod: 20 * time.Millisecond})
	c := newLP(t, base).start()
	for range 3 {
		if r := reply(t, c.connect(false), "/meta/connect"); r["successful"] != true {
			t.Fatalf("connect = %v", r)
		}
	}
	if srv.Stats().Expired != 0 {
		t.Error("a session with a held connect expired")
	}
}

func TestMaxSessions(t *testing.T) {
	_, base := newTestServer(t, Options{MaxSessions: 2})
	newLP(t, base).handshake()
	newLP(t, base).handshake()
	c := newLP(t, base)
	r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})[0]
	adv, _ := r["advice"].(map[string]any)
	if r["successful"] != false || r["error"] != "503::too_many_sessions" || adv["reconnect"] != "retry" {
		t.Errorf("handshake over the limit = %v", r)
	}
	// The advised interval is jittered around MultiSessionInterval (2 s),
	// so that clients refused together come back spread out.
	seen := map[float64]bool{}
	for range 20 {
		r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})[0]
		adv, _ := r["advice"].(map[string]any)
		iv, _ := adv["interval"].(float64)
		if iv < 1000 || iv >= 3000 {
			t.Errorf("advised interval %v ms, want within [1000, 3000)", adv["interval"])
		}
		seen[iv] = true
	}
	if len(seen) < 5 {
		t.Errorf("advised intervals %v: not spread", seen)
	}
}

func TestRetryAdvice(t *testing.T) {
	if a := retryAdvice(-time.Second); *a.Interval != -1000 || a.Reconnect != "retry" {
		t.Errorf("negative interval: %+v", a)
	}
	if a := retryAdvice(0); *a.Interval != 0 {
		t.Errorf("zero interval: %d", *a.Interval)
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	srv, base := newTestServer(t, Options{MaxQueue: 5})
	slow := newLP(t, base).start()
	slow.subscribe("/flood")
	p := newLP(t, base).start()
	for i := range 6 {
		p.publish("/flood", i)
	}
	if srv.Stats().QueueOverflows != 1 {
		t.Errorf("queue overflows = %d, want 1", srv.Stats().QueueOverflows)
	}
	r := slow.connect(true)[0]
	if r["error"] != "402::session_unknown" {
		t.Errorf("slow consumer's connect = %v, want it told to handshake again", r)
	}
	// The publisher is unaffected.
	if r := p.publish("/flood", 7); r["successful"] != true {
		t.Errorf("publisher after overflow: %v", r)
	}
}

func TestMultipleClientsAdvice(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 2 * time.Second})
	tab1 := newLP(t, base).start()
	tab2 := newLP(t, base)
	tab2.http = tab1.http // same browser: same cookie jar
	tab2.start()
	go tab1.connect(false) // holds the browser's one long poll
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	r := reply(t, tab2.connect(false), "/meta/connect")
	adv, _ := r["advice"].(map[string]any)
	if r["successful"] != true || adv["multiple-clients"] != true || adv["interval"] != float64(2000) || adv["reconnect"] != "retry" {
		t.Errorf("second tab's connect = %v", r)
	}
	if time.Since(start) > time.Second {
		t.Error("second tab's connect was held")
	}
}

func TestBadInput(t *testing.T) {
	_, base := newTestServer(t, Options{MaxMessageSize: 64 << 10})
	big := bytes.Repeat([]byte("x"), 10<<20)
	tests := []struct {
		name   string
		method string
		suffix string
		body   []byte
		status int
		want   string
	}{
		{"malformed JSON", "POST", "", []byte(`[{"channel":`), 400, "malformed"},
		{"not JSON", "POST", "", []byte(`hello`), 400, "malformed"},
		{"empty array", "POST", "", []byte(`[]`), 400, "empty"},
		{"empty body", "POST", "", nil, 400, "empty"},
		{"10 MB body", "POST", "", big, 413, "larger than"},
		{"handshake batched", "POST", "", []byte(`[{"channel":"/meta/handshake"},{"channel":"/a","data":1}]`), 400, "handshake_not_alone"},
		{"missing channel", "POST", "", []byte(`[{"data":1}]`), 200, "400::channel_missing"},
		{"invalid channel", "POST", "", []byte(`[{"channel":"/a/<b>","data":1}]`), 200, "405::channel_invalid"},
		{"invalid id", "POST", "", []byte(`[{"channel":"/a","id":"1<2","data":1}]`), 200, "405::message_id_invalid"},
		{"channel not a string", "POST", "", []byte(`[{"channel":5}]`), 400, "malformed"},
		{"GET without jsonp", "GET", "?message=%5B%5D", nil, 400, "jsonp"},
		{"JSONP callback with script", "GET", "?jsonp=alert(1)//&message=%5B%5D", nil, 400, "invalid jsonp callback"},
		{"JSONP callback too long", "GET", "?jsonp=" + strings.Repeat("a", 65) + "&message=%5B%5D", nil, 400, "invalid jsonp callback"},
		{"PUT", "PUT", "", nil, 405, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.suffix, bytes.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(body.String(), tt.want) {
				t.Errorf("status %d body %q; want %d containing %q", resp.StatusCode, body.String(), tt.status, tt.want)
			}
			// The server keeps serving: a normal client handshakes and publishes.
			c := newLP(t, base).start()
			if r := c.publish("/after", "ok"); r["successful"] != true {
				t.Errorf("publish after bad input = %v", r)
			}
		})
	}
}

func TestCallbackPolling(t *testing.T) {
	_, base := newTestServer(t, Options{})
	get := func(msgs string) string {
		t.Helper()
		resp, err := http.Get(base + "?jsonp=_cometd_jsonp_1&message=" + url.QueryEscape(msgs))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Fatalf("GET: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
		}
		s := b.String()
		if !strings.HasPrefix(s, "_cometd_jsonp_1(") || !strings.HasSuffix(s, ");") {
			t.Fatalf("response is not a JSONP call: %q", s)
		}
		return s[len("_cometd_jsonp_1(") : len(s)-2]
	}
	hs := decodeReplies(t, []byte(get(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["callback-polling"]}]`)))
	id := hs[0]["clientId"].(string)
	get(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"callback-polling","advice":{"timeout":0}}]`)
	// Two message parameters are concatenated.
	resp, err := http.Get(base + "?jsonp=cb&message=" + url.QueryEscape(`[{"channel":"/meta/subscribe","clientId":"`+id+`","subscription":"/j"}]`) +
		"&message=" + url.QueryEscape(`{"channel":"/j","clientId":"`+id+`","data":"line\u2028sep"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := get(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"callback-polling"}]`)
	if strings.Contains(out, "\u2028") {
		t.Error("raw U+2028 in a JSONP response")
	}
	ev := events(decodeReplies(t, []byte(out)))
	if len(ev) != 1 || ev[0]["data"] != "line\u2028sep" {
		t.Errorf("events over callback-polling = %v", ev)
	}
}

func TestShutdownReleasesHeldConnects(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	c := newLP(t, base).start()
	done := make(chan []msg)
	go func() { done <- c.connect(false) }()
	time.Sleep(100 * time.Millisecond)
	go srv.Shutdown(t.Context())
	select {
	case r := <-done:
		adv, _ := r[0]["advice"].(map[string]any)
		if r[0]["successful"] != true || adv["reconnect"] != "retry" {
			t.Errorf("connect released by shutdown = %v, want success with retry advice", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not release the held connect")
	}
	r := newLP(t, base).send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})[0]
	if r["successful"] != false || r["error"] != "503::server_shutting_down" {
		t.Errorf("handshake during shutdown = %v", r)
	}
}

func TestServerPublish(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	c := newLP(t, base).start()
	c.subscribe("/news/*")
	n, err := srv.Publish("/news/today", json.RawMessage(`{"headline":"hi"}`))
	if err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	if ev := events(c.connect(false)); len(ev) != 1 || ev[0]["channel"] != "/news/today" {
		t.Errorf("events = %v", ev)
	}
	for _, bad := range []string{"/news/*", "/meta/x", "nope"} {
		if _, err := srv.Publish(bad, 1); err == nil {
			t.Errorf("Publish(%q) succeeded", bad)
		}
	}
	if _, err := srv.Publish("/news/x", json.RawMessage(`{`)); err == nil {
		t.Error("Publish of invalid JSON succeeded")
	}
	if _, err := srv.Publish("/news/x", []byte(`1`)); err == nil {
		t.Error("Publish of []byte succeeded; it is ambiguous")
	}
	// Go values are encoded.
	if n, err := srv.Publish("/news/go", map[string]int{"n": 1}); err != nil || n != 1 {
		t.Errorf("Publish of a map = %d, %v", n, err)
	}
}
