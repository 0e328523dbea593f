package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWebSocketExchange(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 300 * time.Millisecond})
	sub := dialWS(t, base)
	sub.handshake()
	sub.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	r, _ := sub.readUntil(5*time.Second, isReplyTo("2"))
	if r["successful"] != true {
		t.Fatalf("first connect = %v", r)
	}
	sub.write(msg{"channel": "/meta/subscribe", "subscription": "/room/*"})
	if r, _ := sub.readUntil(5*time.Second, isReplyTo("3")); r["successful"] != true || r["subscription"] != "/room/*" {
		t.Fatalf("subscribe = %v", r)
	}
	// A held connect: answered after the timeout while messages flow.
	sub.write(msg{"channel": "/meta/connect", "connectionType": "websocket"})
	connectSent := time.Now()

	pub := dialWS(t, base)
	pub.handshake()
	pub.write(msg{"channel": "/room/a", "data": msg{"text": "héllo 👋"}})
	if r, _ := pub.readUntil(5*time.Second, isReplyTo("2")); r["successful"] != true {
		t.Fatalf("publish reply = %v", r)
	}
	ev, _ := sub.readUntil(5*time.Second, func(m msg) bool { return m["data"] != nil })
	if ev["channel"] != "/room/a" || ev["data"].(map[string]any)["text"] != "héllo 👋" {
		t.Errorf("event = %v", ev)
	}
	if time.Since(connectSent) > 250*time.Millisecond {
		t.Error("the event waited for the held connect")
	}
	r, _ = sub.readUntil(5*time.Second, isReplyTo("4"))
	if r["successful"] != true || time.Since(connectSent) < 250*time.Millisecond {
		t.Errorf("held connect answered after %v: %v", time.Since(connectSent), r)
	}
}

func TestWebSocketBatchInOneFrame(t *testing.T) {
	_, base := newTestServer(t, Options{})
	c := dialWS(t, base)
	c.handshake()
	c.write(msg{"channel": "/meta/subscribe", "subscription": "/b"})
	c.readUntil(5*time.Second, isReplyTo("2"))
	batch := []msg{}
	for i := range 5 {
		batch = append(batch, msg{"channel": "/b", "data": i})
	}
	c.write(batch...)
	frame := c.read(5 * time.Second)
	if len(frame) != 10 {
		t.Errorf("one batch of 5 publishes gave a frame of %d messages, want 5 replies + 5 events: %v", len(frame), frame)
	}
	for i, e := range events(frame) {
		if e["data"] != float64(i) {
			t.Errorf("event %d = %v, out of order", i, e)
		}
	}
}

func TestWebSocketBadInput(t *testing.T) {
	_, base := newTestServer(t, Options{MaxMessageSize: 1024})
	tests := []struct {
		name string
		data string
		code int
	}{
		{"malformed JSON", `[{"channel":`, websocket.CloseInvalidFramePayloadData},
		{"oversized", `[{"channel":"/a","data":"` + strings.Repeat("x", 2000) + `"}]`, websocket.CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialWS(t, base)
			c.handshake()
			if err := c.c.WriteMessage(websocket.TextMessage, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tt.code {
				t.Errorf("read after %s: %v, want close %d", tt.name, err, tt.code)
			}
			// Other clients are unaffected.
			ok := dialWS(t, base)
			ok.handshake()
		})
	}
	// An empty array is a keep-alive (Faye sends it), not an error.
	c := dialWS(t, base)
	c.handshake()
	c.c.WriteMessage(websocket.TextMessage, []byte(`[]`))
	c.write(msg{"channel": "/meta/subscribe", "subscription": "/k"})
	if r, _ := c.readUntil(5*time.Second, isReplyTo("2")); r["successful"] != true {
		t.Errorf("subscribe after [] = %v", r)
	}
}

func TestWebSocketResumeOnNewConnection(t *testing.T) {
	// A page reload (or a dropped socket) resumes the session on a new
	// connection without a new handshake.
	_, base := newTestServer(t, Options{})
	c := dialWS(t, base)
	c.handshake()
	c.write(msg{"channel": "/meta/subscribe", "subscription": "/resume"})
	c.readUntil(5*time.Second, isReplyTo("2"))
	c.c.Close()

	c2 := dialWS(t, base)
	c2.clientID = c.clientID
	c2.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	if r, _ := c2.readUntil(5*time.Second, isReplyTo("1")); r["successful"] != true {
		t.Fatalf("connect on a new connection = %v", r)
	}
	p := newLP(t, base).start()
	p.publish("/resume", "still here")
	if ev, _ := c2.readUntil(5*time.Second, func(m msg) bool { return m["data"] != nil }); ev["data"] != "still here" {
		t.Errorf("event = %v", ev)
	}
}

func TestWebSocketShutdown(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	c := dialWS(t, base)
	c.handshake()
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	c.readUntil(5*time.Second, isReplyTo("2"))
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket"})
	time.Sleep(50 * time.Millisecond)
	go srv.Shutdown(t.Context())
	r, _ := c.readUntil(5*time.Second, isReplyTo("3"))
	if adv, _ := r["advice"].(map[string]any); r["successful"] != true || adv["reconnect"] != "retry" {
		t.Errorf("held connect at shutdown = %v", r)
	}
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("after shutdown: %v, want close 1001", err)
	}
}

func TestWebSocketDisconnectAnswersHeldConnectFirst(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	c := dialWS(t, base)
	c.handshake()
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "advice": msg{"timeout": 0}})
	c.readUntil(5*time.Second, isReplyTo("2"))
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket"})
	time.Sleep(50 * time.Millisecond)
	c.write(msg{"channel": "/meta/disconnect"})
	_, seen := c.readUntil(5*time.Second, isReplyTo("4"))
	var order []string
	for _, m := range seen {
		order = append(order, m["channel"].(string))
	}
	if len(order) != 2 || order[0] != "/meta/connect" || order[1] != "/meta/disconnect" {
		t.Errorf("replies in order %v, want the held connect's reply before the disconnect's", order)
	}
	if adv, _ := seen[0]["advice"].(map[string]any); adv["reconnect"] != "none" {
		t.Errorf("held connect reply = %v, want reconnect none", seen[0])
	}
}
