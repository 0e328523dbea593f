package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// subscribedWS returns a websocket client subscribed to channel, its
// connect held.
func subscribedWS(t *testing.T, url, channel string) *wsClient {
	t.Helper()
	c := dialWS(t, url)
	c.handshake()
	c.write(msg{"channel": "/meta/subscribe", "subscription": channel})
	c.readUntil(5*time.Second, func(m msg) bool { return m["channel"] == "/meta/subscribe" })
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	c.readUntil(5*time.Second, func(m msg) bool { return m["channel"] == "/meta/connect" })
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket"})
	return c
}

// TestWebSocketSlowReaderGetsEverything: a subscriber that stops reading
// while more is published than its socket holds gets every message, in
// order, in well-formed frames, once it reads again: what a flusher could
// not write without waiting goes out from the connection's writer
// goroutine. Later deliveries still go out after WriteTimeout has passed
// since that wait (the wait's deadline must not outlive it: it once made
// every later write fail with "i/o timeout" and closed the connection).
func TestWebSocketSlowReaderGetsEverything(t *testing.T) {
	const (
		n    = 600
		size = 16 << 10 // 600 × 16 KiB: far more than loopback's socket buffers
	)
	srv, url := newTestServer(t, Options{MaxQueue: 2 * n, WriteTimeout: 2 * time.Second})
	c := subscribedWS(t, url, "/slow")
	pad := strings.Repeat("x", size)
	for i := range n {
		if _, err := srv.Publish("/slow", map[string]any{"i": i, "pad": pad}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // not reading: the socket fills
	next := 0
	read := func(until int) {
		t.Helper()
		for next < until {
			for _, m := range c.read(5 * time.Second) {
				if m["channel"] != "/slow" {
					continue
				}
				d := m["data"].(msg)
				if got := int(d["i"].(float64)); got != next {
					t.Fatalf("message %d arrived in place of %d", got, next)
				}
				if d["pad"] != pad {
					t.Fatalf("message %d: padding damaged", next)
				}
				next++
			}
		}
	}
	read(n)
	// Past the write deadline of the wait above, the next deliveries go
	// out as usual.
	time.Sleep(2500 * time.Millisecond)
	for i := n; i < n+3; i++ {
		if _, err := srv.Publish("/slow", map[string]any{"i": i, "pad": pad}); err != nil {
			t.Fatal(err)
		}
	}
	read(n + 3)
}

// TestWebSocketEchoesClose: the client's close frame is answered with one,
// written by the connection's writer like every other frame.
func TestWebSocketEchoesClose(t *testing.T) {
	_, url := newTestServer(t, Options{})
	c := subscribedWS(t, url, "/echo")
	if err := c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, websocket.CloseNormalClosure)
}

// expectClose reads until the server closes the connection, which it must
// do with a close frame of code.
func expectClose(t *testing.T, c *wsClient, code int) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("the connection ended with %v, want a close frame %d", err, code)
		}
		return
	}
}

// TestUnhealthyNodeClosesWebSockets: a node that loses its broker closes
// its websockets with 1013 (try again later), after what they were being
// sent, so that their clients reconnect to a healthy node.
func TestUnhealthyNodeClosesWebSockets(t *testing.T) {
	b := &stubBroker{}
	_, url := newTestServer(t, Options{Broker: b})
	c := subscribedWS(t, url, "/gone")
	b.node.SetHealth(errors.New("nats: connection lost"))
	expectClose(t, c, websocket.CloseTryAgainLater)
}

// TestWebSocketFramesWhileBroadcasting: many subscribers receive a burst
// of broadcasts through the flushers while their clients ping: every frame
// is well formed and every message arrives once, in order.
func TestWebSocketFramesWhileBroadcasting(t *testing.T) {
	const subs, n = 40, 200
	srv, url := newTestServer(t, Options{MaxQueue: 2 * n})
	clients := make([]*wsClient, subs)
	for i := range clients {
		clients[i] = subscribedWS(t, url, "/burst")
	}
	done := make(chan error, subs)
	for _, c := range clients {
		go func() {
			next := 0
			c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for next < n {
				if next%25 == 0 {
					if err := c.c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
						done <- err
						return
					}
				}
				_, b, err := c.c.ReadMessage()
				if err != nil {
					done <- fmt.Errorf("after %d: %w", next, err)
					return
				}
				var ms []msg
				if err := json.Unmarshal(b, &ms); err != nil {
					done <- fmt.Errorf("frame %q: %w", b, err)
					return
				}
				for _, m := range ms {
					if m["channel"] != "/burst" {
						continue
					}
					if got := int(m["data"].(float64)); got != next {
						done <- fmt.Errorf("message %d arrived in place of %d", got, next)
						return
					}
					next++
				}
			}
			done <- nil
		}()
	}
	for i := range n {
		if _, err := srv.Publish("/burst", i); err != nil {
			t.Fatal(err)
		}
	}
	for range clients {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
