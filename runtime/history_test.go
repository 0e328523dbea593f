package runtime

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// newHistoryCluster starts n servers on one MemoryCluster with a history.
func newHistoryCluster(t *testing.T, n, size int) ([]*Server, []string) {
	t.Helper()
	c := NewMemoryClusterWithHistory(size)
	srvs, urls := make([]*Server, n), make([]string, n)
	for i := range srvs {
		srvs[i], urls[i] = newTestServer(t, Options{Broker: c.Broker()})
	}
	return srvs, urls
}

// collect connects until want events arrived (or the wait ends) and
// returns them.
func (c *lpClient) collect(want int) []msg {
	c.t.Helper()
	var got []msg
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		got = append(got, events(c.connect(false))...)
	}
	return got
}

// TestHistoryOrdersTheCluster: with a history, broadcasts published
// concurrently on different nodes reach every subscriber, on every node,
// in one order, each stamped with its position; a channel that does not
// broadcast to its publisher leaves the publisher out.
func TestHistoryOrdersTheCluster(t *testing.T) {
	srvs, urls := newHistoryCluster(t, 3, 1000)
	for _, s := range srvs {
		c, _, _ := s.CreateChannel("/quiet")
		c.SetBroadcastToPublisher(false)
	}
	subs := make([]*lpClient, 3)
	for i := range subs {
		subs[i] = newLP(t, urls[i]).start()
		subs[i].subscribe("/chat/*")
	}
	const each = 40
	var wg sync.WaitGroup
	for i := range 2 {
		pub := newLP(t, urls[i]).start()
		wg.Go(func() {
			for n := range each {
				if r := pub.publish(fmt.Sprintf("/chat/%d", i), n); r["successful"] != true {
					t.Errorf("publish: %v", r)
				}
			}
		})
	}
	wg.Wait()
	var orders [][]string
	for i, sub := range subs {
		var order []string
		var last float64
		for _, e := range sub.collect(2 * each) {
			pos, _ := e["ext"].(map[string]any)["resume"].(float64)
			if pos <= last {
				t.Errorf("node %d: position %v after %v", i, pos, last)
			}
			last = pos
			order = append(order, fmt.Sprint(e["channel"], e["data"]))
		}
		if len(order) != 2*each {
			t.Fatalf("node %d: %d events, want %d", i, len(order), 2*each)
		}
		orders = append(orders, order)
	}
	for i := 1; i < len(orders); i++ {
		if !slices.Equal(orders[i], orders[0]) {
			t.Errorf("node %d delivered in another order than node 0:\n%v\n%v", i, orders[i], orders[0])
		}
	}

	// Broadcast to publisher off: the publisher's own session is left out,
	// its node's other subscribers are not.
	pub, other := newLP(t, urls[0]).start(), newLP(t, urls[0]).start()
	pub.subscribe("/quiet")
	other.subscribe("/quiet")
	if r := pub.publish("/quiet", "x"); r["successful"] != true {
		t.Fatalf("publish: %v", r)
	}
	if got := other.collect(1); len(got) != 1 {
		t.Fatalf("the other subscriber got %v", got)
	}
	if got := events(pub.connect(true)); len(got) != 0 {
		t.Errorf("the publisher got its own message: %v", got)
	}
}

// TestResumeProtocol covers the wire: the handshake grants resume only
// with a history broker and refuses an ext.resume that is neither true nor
// a position; a session that handshook with a position joins the channels
// it subscribes to before its first /meta/connect at that connect, after
// the replay of what it missed on them, and the connect's reply says the
// replay was complete.
func TestResumeProtocol(t *testing.T) {
	_, plainURL := newTestServer(t, Options{})
	srvs, urls := newHistoryCluster(t, 2, 100)
	handshake := func(url string, resume any) msg {
		c := newLP(t, url)
		r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"resume": resume}})
		if id, ok := r[0]["clientId"].(string); ok {
			c.clientID = id
		}
		r[0]["client"] = c
		return r[0]
	}
	for _, tc := range []struct {
		name  string
		url   string
		grant bool
	}{
		{"history", urls[0], true},
		{"no broker", plainURL, false},
	} {
		ext, _ := handshake(tc.url, true)["ext"].(map[string]any)
		if granted := ext["resume"] == true; granted != tc.grant {
			t.Errorf("%s: resume granted %v, want %v", tc.name, granted, tc.grant)
		}
	}
	for _, bad := range []any{"2", -1, 1.5, false} {
		if r := handshake(urls[0], bad); r["successful"] != false || r["error"] != "400::resume_invalid" {
			t.Errorf("resume %v: reply %v, want 400::resume_invalid", bad, r)
		}
	}

	pub := newLP(t, urls[1]).start()
	for i := 1; i <= 3; i++ {
		pub.publish("/chat/a", i)
		pub.publish("/other", i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srvs[0].hist.last.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// Events 1, 3 and 5 are on /chat/a; the client saw up to 2.
	c := handshake(urls[0], 2)["client"].(*lpClient)
	c.subscribe("/chat/*", "/service/x")
	if n := srvs[0].Channel("/chat/*"); n != nil && len(n.Subscribers()) != 0 {
		t.Errorf("subscribed before the first connect")
	}
	r := c.connect(true)
	var got []any
	for _, e := range events(r) {
		got = append(got, e["data"])
	}
	if cr := reply(t, r, "/meta/connect"); cr["ext"].(map[string]any)["resume"] != true {
		t.Errorf("first connect: %v, want ext.resume true", cr)
	}
	if want := []any{2.0, 3.0}; !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	// Now a live subscriber.
	pub.publish("/chat/b", 4)
	if got := c.collect(1); len(got) != 1 || got[0]["data"] != 4.0 {
		t.Errorf("live after the replay: %v", got)
	}
}

// TestDeliverAtSkipsRepeats: an event at or before the last position
// delivered is not delivered again.
func TestDeliverAtSkipsRepeats(t *testing.T) {
	srvs, urls := newHistoryCluster(t, 1, 10)
	sub := newLP(t, urls[0]).start()
	sub.subscribe("/chat/a")
	n := &Node{srv: srvs[0]}
	ev := encodeEvent("/chat/a", []byte(`1`), nil)
	base := srvs[0].hist.last.Load()
	for _, pos := range []uint64{base + 5, base + 5, base + 3, base + 6} {
		if err := n.DeliverAt(pos, ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := sub.collect(2); len(got) != 2 {
		t.Errorf("got %d events, want 2 (positions 5 and 6)", len(got))
	}
	if err := n.DeliverAt(base+7, []byte(`{"channel":"/chat/*","data":1}`), ""); err == nil {
		t.Error("an event on a wildcard channel was accepted")
	}
}
