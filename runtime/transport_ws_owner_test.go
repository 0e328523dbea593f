package runtime

import (
	"testing"
	"time"
)

// TestWebSocketNewConnectionOwnsQueue moves a session to a new websocket
// while its old one is half-open (the client stopped reading): every
// message published afterwards reaches the new connection exactly once.
func TestWebSocketNewConnectionOwnsQueue(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	a := dialWS(t, base)
	a.handshake()
	a.write(msg{"channel": "/meta/subscribe", "subscription": "/half"})
	a.readUntil(5*time.Second, isReplyTo("2"))
	// From here on, nothing reads a: the connection is half-open.

	b := dialWS(t, base)
	b.clientID = a.clientID
	b.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	if r, _ := b.readUntil(5*time.Second, isReplyTo("1")); r["successful"] != true {
		t.Fatalf("connect on the new connection = %v", r)
	}

	const n = 200
	p := newLP(t, base).start()
	for i := range n {
		if r := p.publish("/half", i); r["successful"] != true {
			t.Fatalf("publish %d = %v", i, r)
		}
	}
	seen := make(map[float64]int)
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		b.c.SetReadDeadline(deadline)
		_, data, err := b.c.ReadMessage()
		if err != nil {
			break
		}
		for _, m := range decodeReplies(t, data) {
			if d, ok := m["data"].(float64); ok && m["channel"] == "/half" {
				seen[d]++
			}
		}
	}
	for d, k := range seen {
		if k != 1 {
			t.Errorf("message %v reached the new connection %d times", d, k)
		}
	}
	if len(seen) != n {
		t.Errorf("%d of %d messages reached the new connection", len(seen), n)
	}
}
