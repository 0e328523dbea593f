package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// holdIdle opens n websocket sessions, each subscribed to /idle/<i> with its
// /meta/connect held, and returns them.
func holdIdle(t *testing.T, base string, n int) []*wsClient {
	t.Helper()
	cs := make([]*wsClient, n)
	for i := range cs {
		c := dialWS(t, base)
		c.handshake()
		c.write(msg{"channel": "/meta/subscribe", "subscription": fmt.Sprint("/idle/", i)})
		c.readUntil(5*time.Second, isReplyTo("2"))
		c.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
		c.readUntil(5*time.Second, isReplyTo("3"))
		c.write(msg{"channel": "/meta/connect", "connectionType": "websocket"})
		cs[i] = c
	}
	return cs
}

// TestIdleWebSocketsHoldNoGoroutine: an idle websocket session (subscribed,
// its connect held, nothing flowing) has no goroutine on the server once
// its reader and writer have lingered; a message published to it starts
// them and arrives, and the connection goes idle again.
func TestIdleWebSocketsHoldNoGoroutine(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	const n = 60
	before := goruntime.NumGoroutine()
	cs := holdIdle(t, base, n)
	// The client side holds no goroutine per connection (the test reads
	// when it wants), so what grows is the server's.
	grown := func() int {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g := goruntime.NumGoroutine() - before
			if g < n/4 || time.Now().After(deadline) {
				return g
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if g := grown(); g >= n/4 {
		t.Fatalf("%d idle websocket sessions: %d more goroutines, want fewer than %d", n, g, n/4)
	}
	for round := range 3 {
		for i, c := range cs {
			if _, err := srv.Publish(fmt.Sprint("/idle/", i), map[string]any{"round": round}); err != nil {
				t.Fatal(err)
			}
			m, _ := c.readUntil(5*time.Second, func(m msg) bool { return m["data"] != nil })
			if got := m["data"].(map[string]any)["round"]; got != float64(round) {
				t.Fatalf("session %d round %d: got %v", i, round, m)
			}
		}
		if g := grown(); g >= n/4 {
			t.Fatalf("after round %d: %d more goroutines, want fewer than %d", round, g, n/4)
		}
	}
}

// TestIdleWebSocketAnswersPings: the server answers a client's ping with a
// pong carrying the same payload, also when the ping arrives on an idle
// connection (it is answered by the server's own frame reading, not
// gorilla's), and a ping followed at once by a message in the same packet
// leaves the message to be processed.
func TestIdleWebSocketAnswersPings(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	c := holdIdle(t, base, 1)[0]
	pongs := make(chan string, 4)
	c.c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	var reads sync.WaitGroup
	frames := make(chan []byte, 16)
	reads.Add(1)
	go func() {
		defer reads.Done()
		for {
			c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := c.c.ReadMessage()
			if err != nil {
				close(frames)
				return
			}
			frames <- b
		}
	}()
	time.Sleep(wsReaderLinger + 100*time.Millisecond) // the server's reader has ended
	for _, payload := range []string{"", "hello", string(make([]byte, 125))} {
		if err := c.c.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != payload {
				t.Fatalf("pong %q, want %q", got, payload)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no pong for a ping of %d bytes", len(payload))
		}
	}
	// A ping and a publish written back to back.
	if err := c.c.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.write(msg{"channel": "/idle/0", "data": msg{"after": "ping"}})
	deadline := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case b, ok := <-frames:
			if !ok {
				t.Fatal("connection closed")
			}
			for _, m := range decodeReplies(t, b) {
				if d, ok := m["data"].(map[string]any); ok && d["after"] == "ping" {
					got = true
				}
			}
		case <-deadline:
			t.Fatal("the message after the ping was not delivered")
		}
	}
	c.c.Close()
	reads.Wait()
}
