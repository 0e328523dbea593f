package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// FuzzProcess feeds arbitrary request bodies through parsing and message
// processing: nothing may panic, and whatever parses gets one reply per
// message (a handshake counts as one).
func FuzzProcess(f *testing.F) {
	seeds := []string{
		`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`,
		`{"channel":"/meta/connect","clientId":"x","connectionType":"long-polling","advice":{"timeout":0}}`,
		`[{"channel":"/meta/subscribe","clientId":"x","subscription":["/a/*","/b/**"]}]`,
		`[{"channel":"/a/b","data":{"k":[1,2,3]},"id":"9","ext":{"ack":true}}]`,
		`[{"channel":"/meta/handshake"},{"channel":"/a","data":1}]`,
		`[{"channel":""}]`, `[]`, `[{}]`, `[null]`, `{"id":1.5e300}`, `[{"subscription":{}}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	srv := New(Options{Logger: discardLogger()})
	defer srv.Shutdown(f.Context())
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, invalid, err := decodeMessages(body, srv.opts.MaxMessagesPerRequest)
		if err != nil {
			return
		}
		res := srv.process(&origin{transport: "long-polling"}, msgs, invalid)
		n := len(res.replies)
		if res.handshake != nil {
			n++
		}
		if res.connect != nil {
			n++
		}
		if n < len(msgs) && !res.rejected {
			t.Errorf("%d messages got %d replies", len(msgs), n)
		}
		if res.connect != nil {
			srv.connectReply(res.connect)
		}
	})
}

// fuzzClientID is replaced, in a fuzzed request, by the clientId of a
// session the fuzz target handshook, so that the fuzzer reaches past the
// session lookup.
const fuzzClientID = "CLIENTID"

// fuzzSeeds are request bodies of real clients (the CometD JavaScript
// client, Faye, the Go client), and hostile ones, for the transport fuzz
// targets.
var fuzzSeeds = []string{
	// The CometD JavaScript client, long-polling then websocket.
	`[{"id":"1","version":"1.0","minimumVersion":"1.0","channel":"/meta/handshake","supportedConnectionTypes":["websocket","long-polling","callback-polling"],"advice":{"timeout":60000,"interval":0}}]`,
	`[{"id":"2","channel":"/meta/connect","connectionType":"long-polling","advice":{"timeout":0},"clientId":"CLIENTID"}]`,
	`[{"id":"3","channel":"/meta/subscribe","subscription":"/chat/demo","clientId":"CLIENTID"},{"id":"4","channel":"/chat/demo","data":{"user":"alice","chat":"hi \u2028 ☃ 👋"},"clientId":"CLIENTID"}]`,
	`[{"id":"5","channel":"/meta/connect","connectionType":"websocket","clientId":"CLIENTID"}]`,
	`[{"id":"6","channel":"/meta/unsubscribe","subscription":"/chat/demo","clientId":"CLIENTID"},{"id":"7","channel":"/meta/disconnect","clientId":"CLIENTID"}]`,
	// The ack extension, timesync, and a remote call.
	`[{"id":"1","version":"1.0","channel":"/meta/handshake","supportedConnectionTypes":["websocket","long-polling"],"ext":{"ack":true,"timesync":{"tc":1700000000000,"l":0,"o":0}}}]`,
	`[{"id":"2","channel":"/meta/connect","connectionType":"long-polling","advice":{"timeout":0},"clientId":"CLIENTID","ext":{"ack":-1}}]`,
	`[{"id":"8","channel":"/service/echo","data":{"text":"x"},"clientId":"CLIENTID"}]`,
	// Faye: a keep-alive, a single message object, wildcard subscriptions.
	`[]`,
	`{"channel":"/meta/subscribe","clientId":"CLIENTID","subscription":["/a/*","/b/**"],"id":"9"}`,
	`[{"channel":"/a/b","clientId":"CLIENTID","data":1,"id":"10","ext":{"resume":{"position":"5"}}}]`,
	// Hostile: invalid UTF-8, a lone surrogate, deep nesting, huge numbers,
	// odd ids and fields, a batched handshake.
	"[{\"channel\":\"/a\",\"clientId\":\"CLIENTID\",\"data\":\"\xff\xfe\"}]",
	"[{\"channel\":\"/a\xc3\",\"clientId\":\"CLIENTID\",\"data\":1}]",
	"[{\"channel\":\"/meta/subscribe\",\"clientId\":\"CLIENTID\",\"subscription\":\"/a\xed\xa0\x80\"}]",
	`[{"channel":"/a","clientId":"CLIENTID","data":"\ud800"}]`,
	`[{"channel":"/a","clientId":"CLIENTID","data":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}]`,
	`[{"channel":"/a","clientId":"CLIENTID","data":` + strings.Repeat(`{"a":`, 1100) + "1" + strings.Repeat("}", 1100) + `}]`,
	`[{"channel":"/a","clientId":"CLIENTID","id":1e400,"data":123456789012345678901234567890e300}]`,
	`[{"channel":"/a","clientId":"CLIENTID","id":-0.5},{"channel":"/a","clientId":"CLIENTID","id":{}}]`,
	`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]},{"channel":"/a","data":1}]`,
	`[{"channel":"/meta/handshake","version":"2.0","supportedConnectionTypes":["carrier-pigeon"]}]`,
	`[{"CHANNEL":"/Meta/Connect","clientid":"CLIENTID","connectionType":"long-polling"}]`,
	`[{"channel":"/meta/connect","clientId":"CLIENTID"},{"channel":"/meta/connect","clientId":"CLIENTID"}]`,
	`[{"channel":"/**","clientId":"CLIENTID","data":1},{"channel":"/a/*","clientId":"CLIENTID","data":2},{"channel":"//","clientId":"CLIENTID"}]`,
	`[{"channel":"/a","clientId":"CLIENTID","data":"` + "\u2028\u2029" + `"}]`,
	`[{}]`, `[null]`, `[{"channel":`, "\x00", ``,
}

// panicWatch is a slog.Handler that keeps the server's reports of the
// panics it recovered from (a message's processing, a local session's
// handler): a fuzz target must fail on them as on any other panic.
type panicWatch struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicWatch) Enabled(context.Context, slog.Level) bool { return true }

func (p *panicWatch) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "panic") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	p.mu.Lock()
	p.panics = append(p.panics, b.String())
	p.mu.Unlock()
	return nil
}

func (p *panicWatch) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicWatch) WithGroup(string) slog.Handler      { return p }

// check fails t with the panics reported since the last check.
func (p *panicWatch) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	panics := p.panics
	p.panics = nil
	p.mu.Unlock()
	for _, s := range panics {
		t.Errorf("the server recovered from a panic: %s", s)
	}
}

// serveFuzz calls srv.ServeHTTP and returns the response.
func serveFuzz(srv *Server, method, target, contentType, origin string, body []byte) *http.Response {
	r := httptest.NewRequest(http.MethodGet, "/cometd", bytes.NewReader(body))
	r.Method = method
	if u, err := r.URL.Parse(target); err == nil {
		r.URL = u
		r.RequestURI = target
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
		r.Header.Set("Referer", origin+"/page")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w.Result()
}

// fuzzSession handshakes a long-polling session and returns its clientId.
func fuzzSession(t *testing.T, srv *Server, subscription string) string {
	t.Helper()
	replies := fuzzPost(t, srv, `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)
	id, _ := replies[0]["clientId"].(string)
	if id == "" {
		t.Fatalf("handshake: %v", replies)
	}
	if subscription != "" {
		r := fuzzPost(t, srv, `[{"channel":"/meta/subscribe","clientId":"`+id+`","subscription":"`+subscription+`"}]`)
		if r[0]["successful"] != true {
			t.Fatalf("subscribe: %v", r)
		}
	}
	return id
}

// fuzzPost posts a well-formed body and returns the replies.
func fuzzPost(t *testing.T, srv *Server, body string) []msg {
	t.Helper()
	resp := serveFuzz(srv, http.MethodPost, "/cometd", "application/json", "", []byte(body))
	out, _ := readAll(resp)
	var replies []msg
	if err := json.Unmarshal(out, &replies); err != nil || len(replies) == 0 {
		t.Fatalf("POST %s: %d %q", body, resp.StatusCode, out)
	}
	return replies
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// checkFrame checks that a response body or websocket frame is a JSON
// array of message objects in valid UTF-8.
func checkFrame(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("invalid UTF-8 in %q", b)
	}
	var msgs []map[string]json.RawMessage
	if err := json.Unmarshal(b, &msgs); err != nil {
		return fmt.Errorf("not a JSON array of messages: %v: %q", err, b)
	}
	return nil
}

// FuzzHTTP drives the long-polling and callback-polling transports through
// Server.ServeHTTP with a fuzzed method, Content-Type, query string and
// body, and a cross-site Origin when it is not empty, on behalf of a
// session that has handshaken (CLIENTID in the input
// is its clientId). Properties: nothing panics; every answer is a JSON
// array of messages (a JSONP call of one) in valid UTF-8, or an HTTP error
// with a plain-text explanation; and a subscriber to every channel
// receives nothing but valid UTF-8, so nothing invalid is relayed.
func FuzzHTTP(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add("POST", "application/json;charset=UTF-8", "", "", []byte(s))
	}
	f.Add("POST", "application/x-www-form-urlencoded", "", "", []byte("message="+urlEscape(fuzzSeeds[2])))
	f.Add("POST", "application/x-www-form-urlencoded", "", "", []byte("message=%5B%5D&message=%7B%7D&message="+urlEscape(fuzzSeeds[3])))
	f.Add("POST", "text/plain", "", "jsonp=cb", []byte(fuzzSeeds[1]))
	for _, s := range fuzzSeeds[:12] {
		f.Add("GET", "", "", "jsonp=jQuery3510_17&message="+urlEscape(s), []byte(nil))
	}
	f.Add("GET", "", "", "jsonp=cb&message=%5B%7B%22channel%22%3A%22%2Fa%22%2C%22clientId%22%3A%22CLIENTID%22%2C%22data%22%3A%22%FF%22%7D%5D", []byte(nil))
	f.Add("GET", "", "", "jsonp=cb&message=%5B%5D&message=%5B%7B%7D%5D&message=%7B%7D", []byte(nil))
	f.Add("GET", "", "", "jsonp=alert(1)//&message=%5B%5D", []byte(nil))
	f.Add("GET", "", "", "jsonp=&message=%5B%5D", []byte(nil))
	f.Add("GET", "", "", "message=%5B%5D", []byte(nil))
	f.Add("GET", "", "", "jsonp=cb&message=%ZZ;&&=", []byte(nil))
	f.Add("OPTIONS", "", "https://other.example", "", []byte(nil))
	f.Add("GET", "", "https://evil.example", "jsonp=cb&message=%5B%5D", []byte(nil))
	f.Add("GET", "", "null", "jsonp=cb&message=%5B%5D", []byte(nil))
	f.Add("DELETE", "", "", "", []byte(nil))

	watch := &panicWatch{}
	srv := New(Options{
		Logger:  slog.New(watch),
		Timeout: 10 * time.Millisecond, // a held connect costs little
		// Sessions the fuzzer creates go soon.
		MaxInterval: time.Second,
	})
	defer srv.Shutdown(context.Background())
	f.Fuzz(func(t *testing.T, method, contentType, origin, query string, body []byte) {
		sub := fuzzSession(t, srv, "/**")
		actor := fuzzSession(t, srv, "")
		body = bytes.ReplaceAll(body, []byte(fuzzClientID), []byte(actor))
		query = strings.ReplaceAll(query, fuzzClientID, actor)
		target := "/cometd"
		if query != "" {
			target += "?" + query
		}
		resp := serveFuzz(srv, method, target, contentType, origin, body)
		out, err := readAll(resp)
		if err != nil {
			t.Fatal(err)
		}
		checkHTTPResponse(t, resp, out)

		// The subscriber receives what the request published.
		resp = serveFuzz(srv, http.MethodPost, "/cometd", "application/json", "",
			[]byte(`[{"channel":"/meta/connect","connectionType":"long-polling","clientId":"`+sub+`","advice":{"timeout":0}}]`))
		out, _ = readAll(resp)
		if err := checkFrame(out); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("subscriber's connect: %d: %v", resp.StatusCode, err)
		}
		for _, id := range []string{sub, actor} {
			serveFuzz(srv, http.MethodPost, "/cometd", "application/json", "",
				[]byte(`[{"channel":"/meta/disconnect","clientId":"`+id+`"}]`))
		}
		watch.check(t)
	})
}

// checkHTTPResponse checks the answer of a fuzzed request.
func checkHTTPResponse(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		if err := checkFrame(body); err != nil {
			t.Errorf("status %d: %v", resp.StatusCode, err)
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d with a JSON body", resp.StatusCode)
		}
	case strings.HasPrefix(ct, "text/javascript"):
		// callback(JSON);
		i := bytes.IndexByte(body, '(')
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest || i < 1 || !bytes.HasSuffix(body, []byte(");")) {
			t.Fatalf("status %d: JSONP answer %q", resp.StatusCode, body)
		}
		if !validCallback(string(body[:i]), DefaultJSONPCallbackMaxLength) {
			t.Errorf("JSONP callback %q", body[:i])
		}
		if err := checkFrame(body[i+1 : len(body)-2]); err != nil {
			t.Errorf("JSONP: %v", err)
		}
		if bytes.Contains(body, []byte("\u2028")) || bytes.Contains(body, []byte("\u2029")) {
			t.Errorf("JSONP answer holds a raw U+2028 or U+2029: %q", body)
		}
	case strings.HasPrefix(ct, "text/plain"):
		if resp.StatusCode < 400 || resp.StatusCode > 599 {
			t.Errorf("status %d with a plain-text body %q", resp.StatusCode, body)
		}
		if !utf8.Valid(body) {
			t.Errorf("status %d: invalid UTF-8 in the error %q", resp.StatusCode, body)
		}
	case ct == "" && len(body) == 0:
		// An empty answer: an OPTIONS preflight, or a long poll displaced
		// by a newer one.
		if resp.StatusCode != http.StatusOK && resp.StatusCode != DefaultDuplicateConnectStatus {
			t.Errorf("status %d with no body", resp.StatusCode)
		}
	default:
		t.Errorf("status %d, Content-Type %q: %q", resp.StatusCode, ct, body)
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fuzzPeer is a websocket client of FuzzWebSocket that stays connected
// across fuzz inputs: it keeps its session alive with /meta/connect, like
// the CometD client, and hands what it receives to its owner.
type fuzzPeer struct {
	c        *websocket.Conn
	clientID string
	mu       sync.Mutex // serializes writes
	events   chan float64
	failures chan error
}

// dialFuzzPeer connects to url, handshakes and subscribes to subscription
// ("" for none).
func dialFuzzPeer(f *testing.F, url, subscription string) *fuzzPeer {
	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		f.Fatal(err)
	}
	resp.Body.Close()
	f.Cleanup(func() { c.Close() })
	p := &fuzzPeer{c: c, events: make(chan float64, 64), failures: make(chan error, 64)}
	p.write(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["websocket"]}]`)
	var replies []msg
	if err := c.ReadJSON(&replies); err != nil || len(replies) != 1 || replies[0]["clientId"] == nil {
		f.Fatalf("handshake: %v %v", replies, err)
	}
	p.clientID = replies[0]["clientId"].(string)
	if subscription != "" {
		p.write(`[{"channel":"/meta/subscribe","clientId":"` + p.clientID + `","subscription":"` + subscription + `"}]`)
	}
	p.connect()
	go p.readLoop()
	return p
}

func (p *fuzzPeer) write(frame string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		p.fail(err)
	}
}

func (p *fuzzPeer) connect() {
	p.write(`[{"channel":"/meta/connect","connectionType":"websocket","clientId":"` + p.clientID + `"}]`)
}

func (p *fuzzPeer) fail(err error) {
	select {
	case p.failures <- err:
	default:
	}
}

// readLoop checks every frame, answers each connect reply with the next
// connect, and passes on the data of the events of /fuzz/probe.
func (p *fuzzPeer) readLoop() {
	for {
		_, frame, err := p.c.ReadMessage()
		if err != nil {
			p.fail(fmt.Errorf("read: %w", err))
			return
		}
		if err := checkFrame(frame); err != nil {
			p.fail(err)
			continue
		}
		var msgs []msg
		json.Unmarshal(frame, &msgs)
		for _, m := range msgs {
			switch m["channel"] {
			case "/meta/connect":
				if m["successful"] != true {
					p.fail(fmt.Errorf("connect: %v", m))
				}
				p.connect()
			case "/meta/subscribe":
				if m["successful"] != true {
					p.fail(fmt.Errorf("subscribe: %v", m))
				}
			case "/fuzz/probe":
				if n, ok := m["data"].(float64); ok {
					p.events <- n
				}
			}
		}
	}
}

// check fails t with what went wrong since the last check.
func (p *fuzzPeer) check(t *testing.T, who string) {
	t.Helper()
	for {
		select {
		case err := <-p.failures:
			t.Errorf("%s: %v", who, err)
		default:
			return
		}
	}
}

// FuzzWebSocket sends fuzzed frames (the input split at NUL bytes, at most
// eight) to a server over a real loopback websocket, after a handshake of
// its own when asked (CLIENTID in the frames is then its clientId), and a
// probe: a message whose reply must come. Properties: nothing panics; the
// connection answers the probe or closes with a close frame; every frame
// the server sends is a JSON array of messages in valid UTF-8; and other
// sessions keep working: a subscriber to every channel receives only valid
// frames, and receives a broadcast published after each input.
func FuzzWebSocket(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Add(true, []byte(fuzzSeeds[3]+"\x00"+fuzzSeeds[2]+"\x00"+fuzzSeeds[5]+"\x00"+fuzzSeeds[4]))
	f.Add(true, []byte(`[{"channel":"/meta/connect","connectionType":"websocket","clientId":"CLIENTID","advice":{"timeout":0}}]`+"\x00"+fuzzSeeds[3]+"\x00"+fuzzSeeds[3]))
	f.Add(true, []byte(`[{"channel":"/a","clientId":"CLIENTID","data":"`+strings.Repeat("x", 20<<10)+`"}]`))
	f.Add(true, []byte("["+strings.Repeat(`{"channel":"/a","clientId":"CLIENTID","data":1},`, 200)+`{}]`))
	f.Add(false, []byte("\x00\x00\x00"))

	watch := &panicWatch{}
	srv := New(Options{
		Logger:                slog.New(watch),
		Timeout:               20 * time.Millisecond, // a held connect costs little
		MaxInterval:           2 * time.Second,       // sessions the fuzzer creates go soon
		MaxMessageSize:        16 << 10,
		MaxMessagesPerRequest: 100,
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				watch.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelError, fmt.Sprintf("panic: %v\n%s", p, debug.Stack()), 0))
			}
		}()
		srv.ServeHTTP(w, r)
	}))
	f.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
	})
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/cometd"
	sub := dialFuzzPeer(f, url, "/**")
	pub := dialFuzzPeer(f, url, "")
	var probes float64

	f.Fuzz(func(t *testing.T, handshake bool, input []byte) {
		c, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		defer c.Close()
		if handshake {
			c.WriteMessage(websocket.TextMessage, []byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["websocket"]}]`))
			var replies []msg
			if err := c.ReadJSON(&replies); err != nil || len(replies) != 1 || replies[0]["clientId"] == nil {
				t.Fatalf("handshake: %v %v", replies, err)
			}
			input = bytes.ReplaceAll(input, []byte(fuzzClientID), []byte(replies[0]["clientId"].(string)))
		}
		frames := bytes.SplitN(input, []byte{0}, 8)
		frames = append(frames, []byte(`[{"channel":"/fuzz/x","clientId":"nobody","id":"probe"}]`))
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for _, frame := range frames {
			if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
				break // closed by the server: the reads below see how
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
	read:
		for {
			_, frame, err := c.ReadMessage()
			var closed *websocket.CloseError
			switch {
			case errors.As(err, &closed):
				break read
			case err != nil:
				t.Fatalf("neither an answer to the probe nor a close frame: %v", err)
			}
			if err := checkFrame(frame); err != nil {
				t.Fatal(err)
			}
			var msgs []msg
			json.Unmarshal(frame, &msgs)
			for _, m := range msgs {
				if m["id"] == "probe" {
					break read
				}
			}
		}
		c.Close()

		probes++
		pub.write(fmt.Sprintf(`[{"channel":"/fuzz/probe","clientId":"%s","data":%v}]`, pub.clientID, probes))
		timeout := time.After(5 * time.Second)
	wait:
		for {
			select {
			case n := <-sub.events:
				if n == probes {
					break wait
				}
			case <-timeout:
				t.Fatal("the subscriber did not receive the broadcast published after the input")
			}
		}
		sub.check(t, "subscriber")
		pub.check(t, "publisher")
		watch.check(t)
	})
}
