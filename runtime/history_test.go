package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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

// resumingClient handshakes on url asking for the resume extension.
func resumingClient(t *testing.T, url string) *lpClient {
	t.Helper()
	c := newLP(t, url)
	r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"resume": true}})
	if r[0]["successful"] != true || r[0]["ext"].(map[string]any)["resume"] != true {
		t.Fatalf("handshake: %v", r[0])
	}
	c.clientID = r[0]["clientId"].(string)
	return c
}

// publishAndWait publishes data on each channel in turn from a client of
// node 1 and waits until node 0 delivered as many events.
func publishAndWait(t *testing.T, srvs []*Server, urls []string, channels ...string) {
	t.Helper()
	pub := newLP(t, urls[1]).start()
	want := srvs[0].hist.last.Load() + uint64(len(channels))
	for i, ch := range channels {
		if r := pub.publish(ch, i+1); r["successful"] != true {
			t.Fatalf("publish: %v", r)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for srvs[0].hist.last.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// resumeSub is a subscribe that resumes after position after.
func resumeSub(channel string, after any) msg {
	return msg{"channel": "/meta/subscribe", "subscription": channel, "ext": msg{"resume": after}}
}

// TestResumeProtocol covers the wire: the handshake grants resume only
// with a history broker and takes only true; a plain subscribe's reply
// tells the position it joined at; the resuming subscribes of one batch
// (ext.resume: the last position received) are joined after one replay of
// what was missed on their channels, and the next connect's reply says
// whether the replay was complete.
func TestResumeProtocol(t *testing.T) {
	_, plainURL := newTestServer(t, Options{})
	srvs, urls := newHistoryCluster(t, 2, 100)
	handshake := func(url string, resume any) msg {
		return newLP(t, url).send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"resume": resume}})[0]
	}
	if ext, _ := handshake(plainURL, true)["ext"].(map[string]any); ext["resume"] != nil {
		t.Errorf("a server without a history granted resume: %v", ext)
	}
	for _, bad := range []any{2, "2", false} {
		if r := handshake(urls[0], bad); r["successful"] != false || r["error"] != "400::resume_invalid" {
			t.Errorf("handshake resume %v: %v, want 400::resume_invalid", bad, r)
		}
	}

	// Positions 1..6: /chat/a has 1, 3, 5 (data 1, 3, 5).
	publishAndWait(t, srvs, urls, "/chat/a", "/other", "/chat/a", "/other", "/chat/a", "/other")
	plain := resumingClient(t, urls[0])
	r := plain.send(msg{"channel": "/meta/subscribe", "subscription": "/chat/a"})
	if r[0]["ext"].(map[string]any)["resume"] != float64(srvs[0].hist.last.Load()) {
		t.Errorf("plain subscribe: %v, want the position it joined at, %d", r[0], srvs[0].hist.last.Load())
	}

	c := resumingClient(t, urls[0])
	for _, bad := range []any{"2", -1, 1.5, true} {
		if r := c.send(resumeSub("/chat/a", bad)); r[0]["successful"] != false || r[0]["error"] != "400::resume_invalid" {
			t.Errorf("subscribe resume %v: %v, want 400::resume_invalid", bad, r[0])
		}
	}
	// The client saw up to position 2. Its first connect may come before
	// its subscribes (CometD's long-polling sends it alone).
	c.connect(true)
	r = c.send(resumeSub("/chat/*", 2), resumeSub("/service/x", 2), resumeSub("/other", 2), msg{"channel": "/meta/unsubscribe", "subscription": "/other"})
	for _, reply := range r {
		if reply["successful"] != true {
			t.Fatalf("resuming batch: %v", r)
		}
	}
	if ch := srvs[0].Channel("/other"); ch != nil && slices.Contains(ch.Subscribers(), srvs[0].sessions.get(c.clientID)) {
		t.Error("unsubscribed in the same batch, yet subscribed")
	}
	got := c.connect(true)
	var data []any
	for _, e := range events(got) {
		data = append(data, e["data"])
	}
	if want := []any{3.0, 5.0}; !slices.Equal(data, want) {
		t.Errorf("replayed %v, want %v", data, want)
	}
	if cr := reply(t, got, "/meta/connect"); cr["ext"].(map[string]any)["resume"] != true {
		t.Errorf("connect after the resume: %v, want ext.resume true", cr)
	}
	// Live afterwards, and the outcome is told once.
	publishAndWait(t, srvs, urls, "/chat/b")
	got = c.collect(1)
	if len(got) != 1 || got[0]["channel"] != "/chat/b" {
		t.Errorf("live after the replay: %v", got)
	}
}

// TestResumeStream: the handshake reply names the node's history
// (ext.resumeStream), the same on every node of a cluster, another in
// another cluster. A resuming subscribe that gives the stream of its
// position is replayed as before when it is the node's; when it is
// another's (a history reset since), the node replays its own history
// from its start and the next connect's reply says the resume was
// incomplete. The older forms (a bare number, no stream) are still read.
func TestResumeStream(t *testing.T) {
	srvs, urls := newHistoryCluster(t, 2, 100)
	_, otherURLs := newHistoryCluster(t, 1, 100)
	streamOf := func(url string) any {
		c := newLP(t, url)
		r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"resume": true}})
		return r[0]["ext"].(map[string]any)["resumeStream"]
	}
	stream, _ := streamOf(urls[0]).(string)
	if stream == "" || streamOf(urls[1]) != stream {
		t.Fatalf("handshake replies name streams %v and %v: want one, not empty", streamOf(urls[0]), streamOf(urls[1]))
	}
	if other := streamOf(otherURLs[0]); other == stream {
		t.Fatalf("two clusters name the same stream %v", other)
	}

	// Positions 1..4: /chat/a has 1 and 3 (data 1, 3).
	publishAndWait(t, srvs, urls, "/chat/a", "/other", "/chat/a", "/other")
	c := resumingClient(t, urls[0])
	if r := c.send(resumeSub("/chat/a", msg{"position": 1, "stream": 7})); r[0]["error"] != "400::resume_invalid" {
		t.Errorf("a stream that is not a string: %v, want 400::resume_invalid", r[0])
	}
	tests := []struct {
		name     string
		at       any
		want     []any
		complete bool
	}{
		{"this history", msg{"position": 1, "stream": stream}, []any{3.0}, true},
		{"no stream", msg{"position": 1}, []any{3.0}, true},
		{"a bare number", 1, []any{3.0}, true},
		{"a reset history, a position past the node's", msg{"position": 90, "stream": "gone"}, []any{1.0, 3.0}, false},
		{"a reset history, a position before the node's", msg{"position": 2, "stream": "gone"}, []any{1.0, 3.0}, false},
	}
	for _, tt := range tests {
		c := resumingClient(t, urls[0])
		c.send(resumeSub("/chat/a", tt.at))
		got := c.connect(true)
		var data []any
		for _, e := range events(got) {
			data = append(data, e["data"])
		}
		if !slices.Equal(data, tt.want) {
			t.Errorf("%s: replayed %v, want %v", tt.name, data, tt.want)
		}
		if cr := reply(t, got, "/meta/connect"); cr["ext"].(map[string]any)["resume"] != tt.complete {
			t.Errorf("%s: connect after the resume: %v, want ext.resume %v", tt.name, cr, tt.complete)
		}
	}
}

// TestResumeLimitedByQueue: a replay stops before it would fill the
// session's queue (keeping a tenth of MaxQueue for live messages), and the
// next connect's reply says the resume was incomplete; the session lives.
func TestResumeLimitedByQueue(t *testing.T) {
	c := NewMemoryClusterWithHistory(100)
	srvs, urls := make([]*Server, 2), make([]string, 2)
	for i := range srvs {
		srvs[i], urls[i] = newTestServer(t, Options{Broker: c.Broker(), MaxQueue: 10})
	}
	chans := make([]string, 12)
	for i := range chans {
		chans[i] = "/chat/a"
	}
	publishAndWait(t, srvs, urls, chans...)
	sub := resumingClient(t, urls[0])
	sub.send(resumeSub("/chat/a", 0))
	got := sub.connect(true)
	if n := len(events(got)); n != 9 {
		t.Errorf("replayed %d, want 9 (MaxQueue 10 less a tenth)", n)
	}
	if cr := reply(t, got, "/meta/connect"); cr["successful"] != true || cr["ext"].(map[string]any)["resume"] != false {
		t.Errorf("connect after the capped replay: %v, want successful with ext.resume false", cr)
	}
	if st := srvs[0].Stats(); st.ResumeGaps != 1 || st.QueueOverflows != 0 || st.Replayed != 9 {
		t.Errorf("stats: %+v", st)
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

// TestResumeLeavesOutOwnMessages: on a channel that does not broadcast to
// its publisher, a resume that names the client's previous session leaves
// that session's own messages out of the replay, as they were left out
// when they were published.
func TestResumeLeavesOutOwnMessages(t *testing.T) {
	srvs, urls := newHistoryCluster(t, 2, 100)
	for _, s := range srvs {
		c, _, _ := s.CreateChannel("/quiet")
		c.SetBroadcastToPublisher(false)
	}
	old := resumingClient(t, urls[0])
	r := old.send(msg{"channel": "/meta/subscribe", "subscription": "/quiet"})
	start := r[0]["ext"].(map[string]any)["resume"].(float64)
	if r := old.publish("/quiet", "mine"); r["successful"] != true {
		t.Fatalf("publish: %v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srvs[0].hist.last.Load() < uint64(start)+1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	publishAndWait(t, srvs, urls, "/quiet") // data 1, from another client
	for _, tc := range []struct {
		name   string
		resume any
		want   []any
	}{
		{"previous session named", msg{"position": start, "session": old.clientID}, []any{1.0}},
		{"position only", start, []any{"mine", 1.0}},
	} {
		c := resumingClient(t, urls[0])
		if r := c.send(resumeSub("/quiet", tc.resume)); r[0]["successful"] != true {
			t.Fatalf("%s: %v", tc.name, r)
		}
		var got []any
		for _, e := range events(c.connect(true)) {
			got = append(got, e["data"])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: replayed %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []any{msg{"position": "1"}, msg{"session": "x"}, msg{"position": 1.0, "session": 7}} {
		c := resumingClient(t, urls[0])
		if r := c.send(resumeSub("/quiet", bad)); r[0]["error"] != "400::resume_invalid" {
			t.Errorf("resume %v: %v, want 400::resume_invalid", bad, r[0])
		}
	}
}

// countingHistory counts the replays asked of a HistoryBroker.
type countingHistory struct {
	HistoryBroker
	replays atomic.Int32
}

func (c *countingHistory) Replay(ctx context.Context, patterns []string, after, upto uint64, f func(uint64, []byte, string) error) (bool, error) {
	c.replays.Add(1)
	return c.HistoryBroker.Replay(ctx, patterns, after, upto, f)
}

// TestReplayBuffer: a resume that needs nothing older than the node's
// last Options.ReplayBuffer events is replayed from memory, without asking
// the broker; an older one asks the broker for what the buffer lacks. Both
// give the same events.
func TestReplayBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
		broker bool // the broker is asked
	}{
		{"in the buffer", 0, false},
		{"older than the buffer", 2, true},
		{"no buffer", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster := NewMemoryClusterWithHistory(100)
			counted := &countingHistory{HistoryBroker: cluster.Broker().(HistoryBroker)}
			srvs, urls := make([]*Server, 2), make([]string, 2)
			srvs[0], urls[0] = newTestServer(t, Options{Broker: counted, ReplayBuffer: tc.buffer})
			srvs[1], urls[1] = newTestServer(t, Options{Broker: cluster.Broker()})
			publishAndWait(t, srvs, urls, "/chat/a", "/other", "/chat/a", "/other", "/chat/a")
			expectChatReplay(t, urls[0], counted, tc.broker)
		})
	}
}

// TestReplayBufferRemembersBeforeStart: a node that starts after events
// were appended to the history has the newest of them in its replay
// buffer (Node.Remember), so that a client resuming from a position of
// before the node started (a reconnect storm after a restart) is replayed
// from memory, without asking the broker; the buffer is bounded by
// Options.ReplayBuffer, beyond which the broker is asked.
func TestReplayBufferRemembersBeforeStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
		broker bool // the broker is asked
	}{
		{"in the buffer", 0, false},
		{"older than the buffer", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster := NewMemoryClusterWithHistory(100)
			_, url1 := newTestServer(t, Options{Broker: cluster.Broker()})
			pub := newLP(t, url1).start()
			for i, ch := range []string{"/chat/a", "/other", "/chat/a", "/other", "/chat/a"} {
				if r := pub.publish(ch, i+1); r["successful"] != true {
					t.Fatalf("publish: %v", r)
				}
			}
			counted := &countingHistory{HistoryBroker: cluster.Broker().(HistoryBroker)}
			srv, url := newTestServer(t, Options{Broker: counted, ReplayBuffer: tc.buffer})
			if got := srv.hist.last.Load(); got != 5 {
				t.Fatalf("the node began at %d, want 5", got)
			}
			expectChatReplay(t, url, counted, tc.broker)
		})
	}
}

// expectChatReplay resumes a client of url on /chat/* from position 1
// after the five publishes of the tests above (/chat/a, /other, /chat/a,
// /other, /chat/a): it must be replayed the third and the fifth, and the
// broker asked (or not) as broker says.
func expectChatReplay(t *testing.T, url string, counted *countingHistory, broker bool) {
	t.Helper()
	c := resumingClient(t, url)
	c.send(resumeSub("/chat/*", 1))
	var got []any
	for _, e := range events(c.connect(true)) {
		got = append(got, e["data"])
	}
	if want := []any{3.0, 5.0}; !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	if asked := counted.replays.Load() > 0; asked != broker {
		t.Errorf("broker asked: %v, want %v", asked, broker)
	}
}

// TestRememberRefusesHoles: Node.Remember takes only events in order,
// without a gap, ending where the node began, and only before it delivered
// anything: a buffer with a hole would serve a replay that misses events.
func TestRememberRefusesHoles(t *testing.T) {
	cluster := NewMemoryClusterWithHistory(100)
	srv, _ := newTestServer(t, Options{Broker: cluster.Broker()})
	n := &Node{srv: srv}
	ev := func(pos uint64) HistoryEvent {
		return HistoryEvent{Pos: pos, Event: []byte(fmt.Sprintf(`{"channel":"/chat/a","data":%d}`, pos))}
	}
	n.Begin("s", 3)
	for _, bad := range [][]HistoryEvent{
		{ev(1), ev(3)},        // a gap
		{ev(1), ev(2)},        // does not end where the node began
		{ev(2), ev(1), ev(3)}, // out of order
		{{Pos: 3, Event: []byte(`not json`)}},
	} {
		if err := n.Remember(bad); err == nil {
			t.Errorf("Remember(%v) accepted", bad)
		}
	}
	if srv.hist.ring.len != 0 {
		t.Fatalf("a refused Remember left %d events", srv.hist.ring.len)
	}
	if err := n.Remember([]HistoryEvent{ev(2), ev(3)}); err != nil {
		t.Fatal(err)
	}
	if err := n.Remember([]HistoryEvent{ev(3)}); err == nil {
		t.Error("a second Remember accepted")
	}
	if evs, ok := recent(&srv.hist.ring, 1, 3); !ok || len(evs) != 2 {
		t.Errorf("recent after 1: %d events, ok %v; want 2, true", len(evs), ok)
	}
}
