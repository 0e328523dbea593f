package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSilentWebSocketClosed: a websocket from which nothing arrives, not
// even a pong, is closed after PingInterval+PingTimeout; one whose client
// answers the pings stays open while its /meta/connect is held.
func TestSilentWebSocketClosed(t *testing.T) {
	// The timeout leaves the reading client a second to answer each ping,
	// however busy the machine.
	_, base := newTestServer(t, Options{Timeout: 30 * time.Second, PingInterval: 100 * time.Millisecond, PingTimeout: time.Second})

	silent := dialWS(t, base)
	silent.handshake()
	// A client that reads answers pings (gorilla's default ping handler);
	// this one holds a connect and reads.
	live := dialWS(t, base)
	live.handshake()
	live.write(msg{"channel": "/meta/subscribe", "subscription": "/quiet"})
	live.readUntil(5*time.Second, isReplyTo("2"))
	live.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	live.readUntil(5*time.Second, isReplyTo("3"))
	live.write(msg{"channel": "/meta/connect", "connectionType": "websocket"})
	frames := make(chan []byte, 16)
	go func() {
		for {
			_, b, err := live.c.ReadMessage()
			if err != nil {
				close(frames)
				return
			}
			frames <- b
		}
	}()

	time.Sleep(2500 * time.Millisecond) // past PingInterval+PingTimeout, twice
	silent.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := silent.c.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the silent websocket is still open: %v", err)
		}
		break
	}

	p := newLP(t, base).start()
	p.publish("/quiet", "still here")
	select {
	case b, ok := <-frames:
		if !ok || !strings.Contains(string(b), "still here") {
			t.Errorf("the quiet websocket with a held connect: %q, open %v", b, ok)
		}
	case <-time.After(5 * time.Second):
		t.Error("no event on the quiet websocket")
	}
}

// TestSlowBodyCutOff: a long-polling body that does not arrive within
// BodyReadTimeout is answered 408 and its connection closed, while a held
// /meta/connect on a connection whose body arrived is not cut off.
func TestSlowBodyCutOff(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 800 * time.Millisecond, BodyReadTimeout: 200 * time.Millisecond})
	addr := strings.TrimPrefix(strings.TrimSuffix(base, "/cometd"), "http://")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /cometd HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"chan", addr)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("slow body: %v, want a 408", err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: status %d, want 408", resp.StatusCode)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a slow body the connection is open: %v", err)
	}

	// A connect held for longer than BodyReadTimeout is answered normally.
	lp := newLP(t, base).start()
	start := time.Now()
	r := lp.connect(false)
	if reply(t, r, "/meta/connect")["successful"] != true || time.Since(start) < 700*time.Millisecond {
		t.Errorf("held connect after %v: %v", time.Since(start), r)
	}
}

// TestLimitListener: connections beyond the cap are refused (closed at
// once) while the open ones keep working; a closed one frees its place.
func TestLimitListener(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	refused := make(chan net.Addr, 4)
	ts.Listener = LimitListener(ts.Listener, 2, func(a net.Addr) { refused <- a })
	ts.Start()
	defer ts.Close()
	addr := ts.Listener.Addr().String()

	get := func(c net.Conn, br *bufio.Reader) error {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "ok\n" {
			return fmt.Errorf("body %q", b)
		}
		return nil
	}
	type conn struct {
		c  net.Conn
		br *bufio.Reader
	}
	dial := func() conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return conn{c, bufio.NewReader(c)}
	}
	a, b := dial(), dial()
	for _, k := range []conn{a, b} {
		if err := get(k.c, k.br); err != nil {
			t.Fatalf("within the cap: %v", err)
		}
	}
	over := dial()
	if err := get(over.c, over.br); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("over the cap: %v, want the connection closed", err)
	}
	select {
	case <-refused:
	case <-time.After(5 * time.Second):
		t.Error("refusal not reported")
	}
	for _, k := range []conn{a, b} {
		if err := get(k.c, k.br); err != nil {
			t.Errorf("an open connection after a refusal: %v", err)
		}
	}
	a.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dial()
		err := get(c.c, c.br)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a place freed by a closed connection: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
