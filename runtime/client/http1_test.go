package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is a loopback TCP server that answers each HTTP request it
// reads with whatever respond writes, so tests control the bytes exactly.
type rawServer struct {
	ln      net.Listener
	accepts atomic.Int64
	mu      sync.Mutex
	reqs    []*http.Request // every request read, with its body read
	conns   []net.Conn
}

// respond writes the response to request n (0-based, over all connections)
// and reports whether to keep the connection open.
type respondFunc func(n int, req *http.Request, w io.Writer) (keep bool)

func newRawServer(t *testing.T, respond respondFunc) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	t.Cleanup(s.close)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			go s.serve(nc, respond)
		}
	}()
	return s
}

func (s *rawServer) serve(nc net.Conn, respond respondFunc) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
		if !respond(n, req, nc) {
			return
		}
	}
}

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() + "/cometd" }

func (s *rawServer) request(n int) *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[n]
}

const okBody = `[{"channel":"/meta/connect","successful":true}]`

func okResponse(w io.Writer) {
	io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(okBody))+"\r\n\r\n"+okBody)
}

func newTestH1(t *testing.T, url string, hdr http.Header) *h1Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	h := newH1Client(url, nil, jar, hdr)
	t.Cleanup(h.closeIdle)
	return h
}

func h1Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestH1Responses checks the response framings the client must read, and
// whether it keeps the connection afterwards.
func TestH1Responses(t *testing.T) {
	tests := []struct {
		name     string
		response string
		want     string // body; "" for an error
		wantErr  string
		reuse    bool // the second request goes out on the same connection
	}{
		{
			name:     "content-length",
			response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[1,2]",
			want:     "[1,2]", reuse: true,
		},
		{
			name:     "chunked",
			response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n",
			want:     "[1,2]", reuse: true,
		},
		{
			name:     "chunked with trailer",
			response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\n[1,2]\r\n0\r\nX-T: 1\r\n\r\n",
			want:     "[1,2]", reuse: true,
		},
		{
			name:     "connection close",
			response: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]",
			want:     "[]", reuse: false,
		},
		{
			name:     "http/1.0 body until close",
			response: "HTTP/1.0 200 OK\r\n\r\n[3]",
			want:     "[3]", reuse: false,
		},
		{
			name:     "informational first",
			response: "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]",
			want:     "[]", reuse: true,
		},
		{
			name:     "status",
			response: "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
			wantErr:  "500 Internal Server Error",
		},
		{
			name:     "too large",
			response: "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat(" ", 2000),
			wantErr:  "exceeds the limit",
		},
		{
			name:     "chunked too large",
			response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + strings.Repeat(" ", 2000) + "\r\n0\r\n\r\n",
			wantErr:  "exceeds the limit",
		},
		{
			name:     "http/1.0 keep-alive",
			response: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n[]",
			want:     "[]", reuse: true,
		},
		{
			name:     "lower-case fields, bare LF, folded field",
			response: "HTTP/1.1 200 OK\ncontent-length:  2 \nX-Folded: a\n  b\nconnection: keep-alive, upgrade\n\n[]",
			want:     "[]", reuse: true,
		},
		{
			name:     "both framings",
			response: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
			want:     "[]", reuse: false,
		},
		{
			name:     "conflicting lengths",
			response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]",
			wantErr:  "malformed HTTP response: Content-Length",
		},
		{
			name:     "folded framing field",
			response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 3\r\n\r\n[]",
			wantErr:  "folded framing field",
		},
		{
			name:     "unsupported transfer coding",
			response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			wantErr:  "unsupported Transfer-Encoding",
		},
		{
			name:     "truncated body",
			response: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 9\r\n\r\n[]",
			wantErr:  "unexpected EOF",
		},
		{
			name:     "truncated head",
			response: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Len",
			wantErr:  "unexpected EOF",
		},
		{
			name:     "field line too long",
			response: "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("x", 10000) + "\r\nContent-Length: 2\r\n\r\n[]",
			wantErr:  "header line longer than",
		},
		{
			name:     "no colon",
			response: "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\n[]",
			wantErr:  "field line",
		},
		{
			name:     "garbage",
			response: "SMTP ready\r\n\r\n",
			wantErr:  "malformed HTTP",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, func(_ int, _ *http.Request, w io.Writer) bool {
				io.WriteString(w, tt.response)
				return tt.reuse // the server closes where the client must not reuse
			})
			h := newTestH1(t, srv.url(), nil)
			for i := range 2 {
				got, err := h.post(h1Ctx(t), false, "/connect", []byte(`[{}]`), 5*time.Second, 1024)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("post: %q, %v; want error %q", got, err, tt.wantErr)
					}
					return
				}
				if err != nil || string(got) != tt.want {
					t.Fatalf("post %d: %q, %v; want %q", i, got, err, tt.want)
				}
			}
			want := int64(2)
			if tt.reuse {
				want = 1
			}
			if n := srv.accepts.Load(); n != want {
				t.Errorf("%d connections for two requests, want %d", n, want)
			}
		})
	}
}

// TestH1Request checks what goes on the wire: the request line with the
// suffix, the fields, the body, and cookies from the jar.
func TestH1Request(t *testing.T) {
	srv := newRawServer(t, func(n int, _ *http.Request, w io.Writer) bool {
		if n == 0 {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nSet-Cookie: BAYEUX_BROWSER=abc; Path=/; HttpOnly\r\n"+
				"Set-Cookie: only=connect; Path=/cometd/connect\r\nContent-Length: 2\r\n\r\n[]")
			return true
		}
		okResponse(w)
		return true
	})
	hdr := http.Header{"X-Token": {"t1"}, "Cookie": {"mine=1"}, "Content-Length": {"99"}}
	h := newTestH1(t, srv.url()+"/", hdr) // a trailing slash is dropped by the transport, not here
	ctx := h1Ctx(t)
	if _, err := h.post(ctx, false, "/handshake", []byte(`[{"a":1}]`), time.Second, 1024); err != nil {
		t.Fatal(err)
	}
	for _, sfx := range []string{"/connect", ""} {
		if _, err := h.post(ctx, false, sfx, []byte(`[{"b":2}]`), time.Second, 1024); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		n                  int
		path, cookie, body string
	}{
		{0, "/cometd//handshake", "mine=1", `[{"a":1}]`},
		{1, "/cometd//connect", "mine=1; BAYEUX_BROWSER=abc", `[{"b":2}]`},
		{2, "/cometd/", "mine=1; BAYEUX_BROWSER=abc", `[{"b":2}]`},
	}
	for _, tt := range tests {
		req := srv.request(tt.n)
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.URL.Path != tt.path || string(body) != tt.body ||
			req.Header.Get("Content-Type") != "application/json;charset=UTF-8" || req.Header.Get("X-Token") != "t1" ||
			req.ContentLength != int64(len(tt.body)) || req.Host != srv.ln.Addr().String() {
			t.Errorf("request %d: %s %s host %s %q fields %v", tt.n, req.Method, req.URL.Path, req.Host, body, req.Header)
		}
		if got := req.Header.Values("Cookie"); len(got) != 1 || got[0] != tt.cookie {
			t.Errorf("request %d: Cookie %q, want %q", tt.n, got, tt.cookie)
		}
	}
}

// TestH1CookiesOnPath checks that a cookie restricted to a path is sent on
// that path only.
func TestH1CookiesOnPath(t *testing.T) {
	srv := newRawServer(t, func(n int, _ *http.Request, w io.Writer) bool {
		if n == 0 {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nSet-Cookie: c=1; Path=/cometd/connect\r\nContent-Length: 2\r\n\r\n[]")
			return true
		}
		okResponse(w)
		return true
	})
	h := newTestH1(t, srv.url(), nil)
	ctx := h1Ctx(t)
	for _, sfx := range []string{"/handshake", "/connect", ""} {
		if _, err := h.post(ctx, false, sfx, []byte(`[]`), time.Second, 1024); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.request(1).Header.Get("Cookie"); got != "c=1" {
		t.Errorf("/connect Cookie %q, want c=1", got)
	}
	if got := srv.request(2).Header.Get("Cookie"); got != "" {
		t.Errorf("base path Cookie %q, want none", got)
	}
}

// TestH1CookieExpiry checks that a cached Cookie field forgets a cookie
// once it expired.
func TestH1CookieExpiry(t *testing.T) {
	srv := newRawServer(t, func(n int, _ *http.Request, w io.Writer) bool {
		if n == 0 {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nSet-Cookie: short=1; Max-Age=1\r\nSet-Cookie: long=2; Max-Age=3600\r\n"+
				"Set-Cookie: bad\r\nContent-Length: 2\r\n\r\n[]")
			return true
		}
		okResponse(w)
		return true
	})
	h := newTestH1(t, srv.url(), nil)
	ctx := h1Ctx(t)
	post := func() {
		t.Helper()
		if _, err := h.post(ctx, false, "/connect", []byte(`[]`), time.Second, 1024); err != nil {
			t.Fatal(err)
		}
	}
	post()
	post()
	time.Sleep(1100 * time.Millisecond)
	post()
	if got := srv.request(1).Header.Get("Cookie"); got != "short=1; long=2" && got != "long=2; short=1" {
		t.Errorf("before expiry: Cookie %q", got)
	}
	if got := srv.request(2).Header.Get("Cookie"); got != "long=2" {
		t.Errorf("after expiry: Cookie %q, want long=2", got)
	}
}

// TestH1RetryOnClosedIdle checks that a request on a kept-alive connection
// the server closed goes out again on a new one.
func TestH1RetryOnClosedIdle(t *testing.T) {
	srv := newRawServer(t, func(_ int, _ *http.Request, w io.Writer) bool {
		okResponse(w)
		return false // close after every response, without saying so
	})
	h := newTestH1(t, srv.url(), nil)
	ctx := h1Ctx(t)
	for i := range 3 {
		if got, err := h.post(ctx, false, "/connect", []byte(`[]`), time.Second, 1024); err != nil || string(got) != okBody {
			t.Fatalf("post %d: %q, %v", i, got, err)
		}
	}
	if n := srv.accepts.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// TestH1Aborts checks the timeout and context cancellation of a request the
// server never answers, and that neither leaves a spoilt connection behind.
func TestH1Aborts(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	srv := newRawServer(t, func(n int, _ *http.Request, w io.Writer) bool {
		if n < 3 {
			<-hold
			return false
		}
		okResponse(w)
		return true
	})
	h := newTestH1(t, srv.url(), nil)

	start := time.Now()
	_, err := h.post(h1Ctx(t), false, "/connect", []byte(`[]`), 100*time.Millisecond, 1024)
	if ne := net.Error(nil); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}

	for _, watched := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		if watched {
			h.watch(ctx)
		}
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err = h.post(ctx, watched, "/connect", []byte(`[]`), 5*time.Second, 1024)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
			t.Errorf("cancel (watched %v): %v after %v", watched, err, time.Since(start))
		}
		if _, err = h.post(ctx, watched, "/connect", []byte(`[]`), 5*time.Second, 1024); !errors.Is(err, context.Canceled) {
			t.Errorf("post with an ended context (watched %v): %v", watched, err)
		}
	}

	if got, err := h.post(h1Ctx(t), false, "/connect", []byte(`[]`), time.Second, 1024); err != nil || string(got) != okBody {
		t.Errorf("after aborts: %q, %v", got, err)
	}
	if n := srv.accepts.Load(); n != 4 {
		t.Errorf("%d connections, want 4 (aborted ones are not reused)", n)
	}
}

// TestH1Config checks the configurations the direct client refuses.
func TestH1Config(t *testing.T) {
	tests := []struct {
		name, url string
		hdr       http.Header
		want      string
	}{
		{"https", "https://127.0.0.1:1/cometd", nil, "only http://"},
		{"no host", "http:///cometd", nil, "only http://"},
		{"bad field name", "http://127.0.0.1:1/cometd", http.Header{"Bad Name": {"x"}}, "invalid header field name"},
		{"bad field value", "http://127.0.0.1:1/cometd", http.Header{"X": {"a\r\nInjected: 1"}}, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestH1(t, tt.url, tt.hdr)
			_, err := h.post(h1Ctx(t), false, "", []byte(`[]`), time.Second, 1024)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("post: %v, want %q", err, tt.want)
			}
		})
	}
}
