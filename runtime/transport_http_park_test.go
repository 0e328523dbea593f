package runtime

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// parkServer serves srv with an http.Server whose held connects are parked
// after after; wrap, if not nil, wraps the listener first (TLS,
// LimitListener).
type parkServer struct {
	srv  *Server
	pl   *ParkListener
	addr string
	base string // http://addr/cometd
}

func newParkServer(t *testing.T, opts Options, after time.Duration, wrap func(net.Listener) net.Listener) *parkServer {
	t.Helper()
	srv, mux := newTestHandler(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	pl := ParkHeldConnects(hs, ln, after)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(pl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := pl.Wait(ctx); err != nil {
			t.Errorf("parked connects not answered at shutdown: %v", err)
		}
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	return &parkServer{srv: srv, pl: pl, addr: addr, base: "http://" + addr + "/cometd"}
}

// waitParked waits until n connects are parked.
func (ps *parkServer) waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ps.pl.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connects parked, want %d", ps.pl.Parked(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// parkedSession starts a session subscribed to channels and holds its
// connect on a connection of its own until it is parked.
func (ps *parkServer) parkedSession(t *testing.T, channels ...string) (*lpClient, *rawConn) {
	t.Helper()
	lp := newLP(t, ps.base).start()
	lp.subscribe(channels...)
	raw := dialRaw(t, ps.addr)
	raw.connect(lp.clientID)
	ps.waitParked(t, 1)
	return lp, raw
}

// holds returns how many connects of session id are held.
func (ps *parkServer) holds(id string) int {
	sess := ps.srv.sessions.get(id)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.holds
}

// rawConn speaks HTTP/1.1 on one connection of its own, so that a test
// knows which connection a response comes on.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// post writes a POST of body to /cometd, with extra header lines.
func (c *rawConn) post(body string, extra ...string) {
	c.t.Helper()
	req := fmt.Sprintf("POST /cometd HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s",
		len(body), strings.Join(append(extra, ""), "\r\n"), body)
	if _, err := io.WriteString(c.nc, req); err != nil {
		c.t.Fatal(err)
	}
}

// connect writes a /meta/connect of clientID.
func (c *rawConn) connect(clientID string, extra ...string) {
	c.t.Helper()
	c.post(`[{"channel":"/meta/connect","clientId":"`+clientID+`","connectionType":"long-polling","id":"c"}]`, extra...)
}

// read reads one response and its body.
func (c *rawConn) read(timeout time.Duration) (*http.Response, []byte) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	defer c.nc.SetReadDeadline(time.Time{})
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// readMsgs reads one 200 response and decodes its messages.
func (c *rawConn) readMsgs(timeout time.Duration) (*http.Response, []msg) {
	c.t.Helper()
	resp, b := c.read(timeout)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp, decodeReplies(c.t, b)
}

// TestParkHeldConnect: a connect held longer than the park delay is
// parked (its handler returns), answered on its connection when a
// message arrives, and the connection then serves the next connect, which
// is parked again and answered when the hold time ends.
func TestParkHeldConnect(t *testing.T) {
	for _, tt := range []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"tcp", nil},
		{"limited", func(ln net.Listener) net.Listener { return LimitListener(ln, 100, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps := newParkServer(t, Options{Timeout: 700 * time.Millisecond}, 50*time.Millisecond, tt.wrap)
			lp, raw := ps.parkedSession(t, "/park")
			if n := ps.holds(lp.clientID); n != 1 {
				t.Errorf("%d connects held while parked, want 1", n)
			}
			publisher := newLP(t, ps.base).start()
			publisher.publish("/park", "hello")
			resp, replies := raw.readMsgs(5 * time.Second)
			if ev := events(replies); len(ev) != 1 || ev[0]["data"] != "hello" {
				t.Errorf("parked connect answered with %v", replies)
			}
			if r := reply(t, replies, "/meta/connect"); r["successful"] != true {
				t.Errorf("connect reply %v", r)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" || resp.ContentLength <= 0 || resp.Close || resp.Header.Get("Date") == "" {
				t.Errorf("response header %v, length %d, close %v", resp.Header, resp.ContentLength, resp.Close)
			}
			ps.waitParked(t, 0)

			// The same connection serves the next connect, parked again;
			// the hold time ends it with an empty answer.
			raw.connect(lp.clientID)
			ps.waitParked(t, 1)
			start := time.Now()
			_, replies = raw.readMsgs(5 * time.Second)
			if len(replies) != 1 || replies[0]["successful"] != true || len(events(replies)) != 0 {
				t.Errorf("connect answered at the hold time with %v", replies)
			}
			if held := time.Since(start); held < 400*time.Millisecond {
				t.Errorf("answered after %v, before the hold time", held)
			}
			ps.waitParked(t, 0)
			if n := ps.holds(lp.clientID); n != 0 {
				t.Errorf("%d connects held after the answer", n)
			}
		})
	}
}

// TestParkClientGone: a parked connect whose client closes its connection
// is let go at once, and takes nothing from its session's queue.
func TestParkClientGone(t *testing.T) {
	ps := newParkServer(t, Options{Timeout: 30 * time.Second}, 20*time.Millisecond, nil)
	lp, raw := ps.parkedSession(t, "/gone")
	raw.nc.Close()
	ps.waitParked(t, 0) // long before the hold time
	if holds := ps.holds(lp.clientID); holds != 0 {
		t.Errorf("%d connects held after the client went away", holds)
	}
	newLP(t, ps.base).start().publish("/gone", "kept")
	replies := lp.connect(false)
	if ev := events(replies); len(ev) != 1 || ev[0]["data"] != "kept" {
		t.Errorf("the next connect got %v, want the message queued after the client went away", replies)
	}
}

// TestParkDisplaced: a parked connect displaced by a newer connect of its
// session is answered with DuplicateConnectStatus.
func TestParkDisplaced(t *testing.T) {
	ps := newParkServer(t, Options{Timeout: 30 * time.Second}, 20*time.Millisecond, nil)
	lp, first := ps.parkedSession(t)
	second := dialRaw(t, ps.addr)
	second.connect(lp.clientID)
	resp, body := first.read(5 * time.Second)
	if resp.StatusCode != DefaultDuplicateConnectStatus || len(body) != 0 || resp.ContentLength != 0 {
		t.Errorf("displaced connect answered %d, length %d: %q", resp.StatusCode, resp.ContentLength, body)
	}
	ps.waitParked(t, 1) // the second one
}

// TestParkShutdown: Shutdown answers the parked connects, and Wait returns
// once their answers are written.
func TestParkShutdown(t *testing.T) {
	ps := newParkServer(t, Options{Timeout: 30 * time.Second}, 20*time.Millisecond, nil)
	_, raw := ps.parkedSession(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps.srv.Shutdown(ctx)
	if err := ps.pl.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	_, replies := raw.readMsgs(time.Second) // written already
	if len(replies) != 1 || replies[0]["successful"] != true || replies[0]["advice"] == nil {
		t.Errorf("connect answered at shutdown with %v", replies)
	}
}

// TestParkPipelined: a request the client sends on the connection of its
// parked connect is served after the connect's answer, in order.
func TestParkPipelined(t *testing.T) {
	ps := newParkServer(t, Options{Timeout: 500 * time.Millisecond}, 20*time.Millisecond, nil)
	lp, raw := ps.parkedSession(t, "/pipe")
	raw.post(`[{"channel":"/pipe","clientId":"` + lp.clientID + `","data":"piped","id":"p"}]`)
	_, replies := raw.readMsgs(5 * time.Second)
	if len(replies) != 1 || replies[0]["channel"] != "/meta/connect" || replies[0]["successful"] != true {
		t.Errorf("first answer %v, want the connect's (at its hold time)", replies)
	}
	_, replies = raw.readMsgs(5 * time.Second)
	if r := reply(t, replies, "/pipe"); r["successful"] != true {
		t.Errorf("pipelined publish answered %v", replies)
	}
}

// TestParkNotParked: requests that must not be parked are held by their
// handler as before: HTTP/1.0, Connection: close, a server that parks
// nothing, and a connection the poller cannot watch.
func TestParkNotParked(t *testing.T) {
	type wrapped struct{ net.Conn } // hides the socket
	for _, tt := range []struct {
		name  string
		after time.Duration
		wrap  func(net.Listener) net.Listener
		extra []string
	}{
		{"connection close", 10 * time.Millisecond, nil, []string{"Connection: close"}},
		{"park after 0", 0, nil, nil},
		{"unknown conn", 10 * time.Millisecond, func(ln net.Listener) net.Listener {
			return wrapListener{ln, func(c net.Conn) net.Conn { return wrapped{c} }}
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps := newParkServer(t, Options{Timeout: 300 * time.Millisecond}, tt.after, tt.wrap)
			lp := newLP(t, ps.base).start()
			raw := dialRaw(t, ps.addr)
			raw.connect(lp.clientID, tt.extra...)
			time.Sleep(150 * time.Millisecond)
			if n := ps.pl.Parked(); n != 0 {
				t.Errorf("%d connects parked", n)
			}
			_, replies := raw.readMsgs(5 * time.Second)
			if len(replies) != 1 || replies[0]["successful"] != true {
				t.Errorf("held connect answered %v", replies)
			}
		})
	}
	t.Run("http/1.0", func(t *testing.T) {
		ps := newParkServer(t, Options{Timeout: 300 * time.Millisecond}, 10*time.Millisecond, nil)
		lp := newLP(t, ps.base).start()
		raw := dialRaw(t, ps.addr)
		body := `[{"channel":"/meta/connect","clientId":"` + lp.clientID + `","connectionType":"long-polling"}]`
		fmt.Fprintf(raw.nc, "POST /cometd HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		time.Sleep(150 * time.Millisecond)
		if n := ps.pl.Parked(); n != 0 {
			t.Errorf("%d connects parked", n)
		}
		if resp, b := raw.read(5 * time.Second); resp.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", resp.StatusCode, b)
		}
	})
}

type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// TestParkHeaders: a parked connect's answer keeps the header fields set
// before it was parked (CORS), and callback-polling's answer is a script.
func TestParkHeaders(t *testing.T) {
	ps := newParkServer(t, Options{Timeout: 300 * time.Millisecond, AllowedOrigins: []string{"http://app.example"}}, 20*time.Millisecond, nil)
	lp := newLP(t, ps.base).start()
	raw := dialRaw(t, ps.addr)
	raw.connect(lp.clientID, "Origin: http://app.example")
	ps.waitParked(t, 1)
	resp, _ := raw.readMsgs(5 * time.Second)
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("parked answer's header %v lacks CORS", resp.Header)
	}

	m := `[{"channel":"/meta/connect","clientId":"` + lp.clientID + `","connectionType":"callback-polling","id":"j"}]`
	fmt.Fprintf(raw.nc, "GET /cometd?jsonp=cb7&message=%s HTTP/1.1\r\nHost: test\r\n\r\n", urlQueryEscape(m))
	ps.waitParked(t, 1)
	resp, b := raw.read(5 * time.Second)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript;charset=UTF-8" || !strings.HasPrefix(string(b), "cb7([") || !strings.HasSuffix(string(b), "]);") {
		t.Errorf("parked callback-polling answer %d %v: %s", resp.StatusCode, resp.Header, b)
	}
	var replies []msg
	if err := json.Unmarshal(b[len("cb7("):len(b)-2], &replies); err != nil || len(replies) != 1 || replies[0]["id"] != "j" {
		t.Errorf("callback-polling replies %s: %v", b, err)
	}
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestParkTLS: over TLS, a parked connect is answered on its connection,
// which serves the next connect, and a client that closes its connection
// is noticed.
func TestParkTLS(t *testing.T) {
	cert, pool := testCertificate(t)
	ps := newParkServer(t, Options{Timeout: 30 * time.Second}, 20*time.Millisecond, func(ln net.Listener) net.Listener {
		return tls.NewListener(LimitListener(ln, 100, nil), &tls.Config{Certificates: []tls.Certificate{cert}})
	})
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	lp := newLP(t, "https://"+ps.addr+"/cometd")
	lp.http.Transport = &http.Transport{TLSClientConfig: tlsConfig}
	lp.start()
	lp.subscribe("/tls")
	nc, err := tls.Dial("tcp", ps.addr, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	raw := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	raw.connect(lp.clientID)
	ps.waitParked(t, 1)
	lp.publish("/tls", "secret")
	_, replies := raw.readMsgs(5 * time.Second)
	if ev := events(replies); len(ev) != 1 || ev[0]["data"] != "secret" {
		t.Errorf("parked connect answered with %v", replies)
	}
	raw.connect(lp.clientID)
	ps.waitParked(t, 1)
	nc.Close() // close_notify, then FIN
	ps.waitParked(t, 0)
}

// testCertificate returns net/http/httptest's certificate (for 127.0.0.1)
// and a pool that trusts it.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	return ts.TLS.Certificates[0], ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// TestParkListenerClose: a closed ParkListener accepts nothing more, and
// a connection handed back after it is closed.
func TestParkListenerClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := ParkHeldConnects(&http.Server{}, ln, time.Second)
	c1, c2 := net.Pipe()
	defer c2.Close()
	go pl.serveAgain(c1)
	if c, err := pl.Accept(); err != nil || c != c1 {
		t.Fatalf("Accept = %v, %v; want the connection handed back", c, err)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	pl.serveAgain(c1) // closes it
	c2.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the connection handed back after Close is open: %v", err)
	}
	if err := pl.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestParkedWriterResponse: a parked connect's answer is a well-formed
// HTTP/1.1 response: the header fields set, the framing its own.
func TestParkedWriterResponse(t *testing.T) {
	w := &parkedWriter{hdr: http.Header{"X-A": {"1\r\nX-Injected: 2"}, "Content-Length": {"99"}}}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`[{"a":`))
	w.Write([]byte(`1}]`))
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(w.response(true)))), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != `[{"a":1}]` || resp.ContentLength != 9 || !resp.Close ||
		resp.Header.Get("X-A") != "1  X-Injected: 2" || resp.Header.Get("X-Injected") != "" || resp.Header.Get("Date") == "" {
		t.Errorf("response %d %v (length %d, close %v): %q", resp.StatusCode, resp.Header, resp.ContentLength, resp.Close, b)
	}

	w = &parkedWriter{}
	w.WriteHeader(http.StatusNoContent)
	w.WriteHeader(http.StatusOK) // the first status stands
	raw := string(w.response(false))
	if !strings.HasPrefix(raw, "HTTP/1.1 204 No Content\r\n") || strings.Contains(raw, "Content-Length") || strings.Contains(raw, "Connection") {
		t.Errorf("204 response %q", raw)
	}
}
