package runtime

import (
	"testing"
	"time"
)

func TestAckRedeliversUnacknowledgedBatches(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 2 * time.Second})
	c := newLP(t, base)
	r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"ack": true}})[0]
	if ext, _ := r["ext"].(map[string]any); ext["ack"] != true {
		t.Fatalf("handshake reply = %v, want ext.ack true", r)
	}
	c.clientID = r["clientId"].(string)
	connect := func(ack int) []msg {
		return c.send(msg{"channel": "/meta/connect", "connectionType": "long-polling", "ext": msg{"ack": ack}})
	}
	batchOf := func(replies []msg) float64 {
		t.Helper()
		ext, _ := reply(t, replies, "/meta/connect")["ext"].(map[string]any)
		n, ok := ext["ack"].(float64)
		if !ok {
			t.Fatalf("connect reply without ext.ack: %v", replies)
		}
		return n
	}
	b1 := batchOf(connect(0))
	c.subscribe("/acked")
	p := newLP(t, base).start()
	p.publish("/acked", 1)
	p.publish("/acked", 2)

	got := connect(int(b1))
	b2 := batchOf(got)
	if ev := events(got); len(ev) != 2 || b2 <= b1 {
		t.Fatalf("batch %v: events %v", b2, ev)
	}
	// The client lost that response: it acknowledges only b1 again. The
	// server sends the same messages again, ahead of a new one, at once.
	p.publish("/acked", 3)
	start := time.Now()
	got = connect(int(b1))
	b3 := batchOf(got)
	ev := events(got)
	if len(ev) != 3 || ev[0]["data"] != float64(1) || ev[2]["data"] != float64(3) {
		t.Fatalf("redelivery = %v", ev)
	}
	if time.Since(start) > time.Second {
		t.Error("a connect with unacknowledged messages was held")
	}
	// Acknowledged: nothing is sent again.
	p.publish("/acked", 4)
	ev = events(connect(int(b3)))
	if len(ev) != 1 || ev[0]["data"] != float64(4) {
		t.Errorf("after the ack: %v", ev)
	}
}

func TestAckOverWebSocketSurvivesADroppedConnection(t *testing.T) {
	_, base := newTestServer(t, Options{Timeout: 2 * time.Second})
	c := dialWS(t, base)
	c.write(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"websocket"}, "ext": msg{"ack": true}})
	hs := c.read(5 * time.Second)[0]
	c.clientID = hs["clientId"].(string)
	c.write(msg{"channel": "/meta/subscribe", "subscription": "/ws/acked"})
	c.readUntil(5*time.Second, isReplyTo("2"))
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "ext": msg{"ack": 0}})
	first, _ := c.readUntil(5*time.Second, isReplyTo("3"))
	b1 := first["ext"].(map[string]any)["ack"].(float64)

	// Hold a connect, publish, and drop the connection before reading.
	c.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "ext": msg{"ack": b1}})
	p := newLP(t, base).start()
	for i := range 5 {
		p.publish("/ws/acked", i)
	}
	time.Sleep(100 * time.Millisecond)
	c.c.Close()

	// A new connection resumes the session; the unacknowledged messages
	// come again, in order, exactly once.
	c2 := dialWS(t, base)
	c2.clientID = c.clientID
	c2.seq = 10
	c2.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "ext": msg{"ack": b1}})
	r, seen := c2.readUntil(5*time.Second, isReplyTo("11"))
	ev := events(seen)
	if len(ev) != 5 {
		t.Fatalf("after reconnecting: %v", seen)
	}
	for i, e := range ev {
		if e["data"] != float64(i) {
			t.Errorf("event %d = %v", i, e)
		}
	}
	b2 := r["ext"].(map[string]any)["ack"].(float64)
	c2.write(msg{"channel": "/meta/connect", "connectionType": "websocket", "ext": msg{"ack": b2}, "advice": msg{"timeout": 0}})
	_, seen = c2.readUntil(5*time.Second, isReplyTo("12"))
	if ev := events(seen); len(ev) != 0 {
		t.Errorf("acknowledged messages sent again: %v", ev)
	}
}

func TestAckDisabled(t *testing.T) {
	_, base := newTestServer(t, Options{DisableAck: true})
	c := newLP(t, base)
	r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"ack": true}})[0]
	if r["ext"] != nil {
		t.Errorf("handshake reply = %v, want no ack", r)
	}
}
