package natsbroker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/runtime/natsbroker"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// cluster starts three nodes on one embedded NATS.
func cluster(t *testing.T, opts ...func(*natsbroker.Options)) (*node, *node, *node, string) {
	ns := startNATS(t, 0, t.TempDir())
	u := ns.ClientURL()
	return startNode(t, "a", u, opts...), startNode(t, "b", u, opts...), startNode(t, "c", u, opts...), u
}

// withHistory keeps a minute of history (Options.History).
func withHistory(o *natsbroker.Options) { o.History = time.Minute }

// countSeqs checks that recs hold every seq 1..n of every publisher in
// from exactly once and in order, and returns what is wrong.
func countSeqs(t *testing.T, recs []string, from []string, n int) []string {
	t.Helper()
	last := map[string]int{}
	var bad []string
	for _, r := range recs {
		f, seq := seqOf(t, r)
		if seq != last[f]+1 {
			bad = append(bad, fmt.Sprintf("%s: seq %d after %d", f, seq, last[f]))
		}
		last[f] = seq
	}
	for _, f := range from {
		if last[f] != n {
			bad = append(bad, fmt.Sprintf("%s: last seq %d, want %d", f, last[f], n))
		}
	}
	return bad
}

// modes runs f without and with a history (Options.History): broadcasts
// on plain subjects, or through the history stream.
func modes(t *testing.T, f func(t *testing.T, opts ...func(*natsbroker.Options))) {
	t.Run("plain", func(t *testing.T) { f(t) })
	t.Run("history", func(t *testing.T) { f(t, withHistory) })
}

func TestClusterBroadcastExactlyOnceInOrder(t *testing.T) {
	modes(t, testBroadcastExactlyOnceInOrder)
}

func testBroadcastExactlyOnceInOrder(t *testing.T, opts ...func(*natsbroker.Options)) {
	a, b, c, _ := cluster(t, opts...)
	nodes := []*node{a, b, c}
	clients := make([]*client.Client, 3)
	recs := make([]*recorder, 3)
	for i, n := range nodes {
		clients[i] = newClient(t, n.url, "", nil)
		recs[i] = subscribe(t, clients[i], "/chat/*") // a wildcard on one node
	}
	extra := subscribe(t, clients[2], "/chat/room") // and two matches on one session
	const perNode = 100
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() {
			for seq := 1; seq <= perNode; seq++ {
				if err := cl.Publish(t.Context(), "/chat/room", map[string]any{"from": nodes[i].name, "seq": seq}); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, r := range recs {
		waitFor(t, 10*time.Second, fmt.Sprintf("client on node %s: %d of %d messages", nodes[i].name, len(r.got()), 3*perNode), func() bool {
			return len(r.got()) >= 3*perNode
		})
	}
	// A late duplicate would land now: settle with one more round trip
	// through NATS before checking counts.
	barrier(t, clients[0], recs)
	for i, r := range append(recs, extra) {
		if i == 3 {
			i = 2
		}
		got := r.got()
		got = got[:len(got)-min(len(got), 1)] // the barrier
		if bad := countSeqs(t, withoutBarrier(got), []string{"a", "b", "c"}, perNode); len(bad) > 0 {
			t.Errorf("client on node %s: %v", nodes[i].name, bad[:min(len(bad), 5)])
		}
	}
	for _, n := range nodes {
		if st := n.srv.Stats(); st.BrokerBad != 0 {
			t.Errorf("node %s dropped %d remote messages", n.name, st.BrokerBad)
		}
	}
}

// barrier publishes a marker from c on /chat/room and waits for every
// recorder to see it: anything c's node sent before it has arrived.
func barrier(t *testing.T, c *client.Client, recs []*recorder) {
	t.Helper()
	if err := c.Publish(t.Context(), "/chat/room", map[string]any{"from": "barrier"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		waitFor(t, 5*time.Second, "the barrier", func() bool {
			return slices.ContainsFunc(r.got(), func(s string) bool { return strings.Contains(s, `"barrier"`) })
		})
	}
}

func withoutBarrier(recs []string) []string {
	return slices.DeleteFunc(recs, func(s string) bool { return strings.Contains(s, `"barrier"`) })
}

func TestClusterPrivateLocalAndServiceStayHome(t *testing.T) {
	a, b, c, _ := cluster(t)
	nodes := []*node{a, b, c}
	var serviceOn sync.Map
	for _, n := range nodes {
		ch, _, _ := n.srv.CreateChannel("/local/**")
		ch.SetNodeLocal(true)
		svc, _, _ := n.srv.CreateChannel("/service/echo")
		svc.AddListener(func(context.Context, *runtime.ServerSession, *bayeux.Message) error {
			serviceOn.Store(n.name, true)
			return nil
		})
	}
	ann := newClient(t, a.url, "ann", nil)
	bob := newClient(t, b.url, "bob", nil)
	ann2 := newClient(t, c.url, "ann", nil)
	var chat, local, inbox []*recorder
	for _, cl := range []*client.Client{ann, bob, ann2} {
		chat = append(chat, subscribe(t, cl, "/chat/room"))
		local = append(local, subscribe(t, cl, "/local/x"))
		inbox = append(inbox, subscribe(t, cl, "/user/inbox"))
	}
	// Presence: every node learns of ann and bob, ann once.
	for _, n := range nodes {
		waitFor(t, 5*time.Second, "presence on node "+n.name, func() bool {
			p := n.presenceLog()
			return slices.Contains(p, "ann=true") && slices.Contains(p, "bob=true")
		})
		if p := n.presenceLog(); len(p) != 2 {
			t.Errorf("node %s presence = %v, want ann and bob online once", n.name, p)
		}
	}
	for _, n := range nodes {
		waitFor(t, 5*time.Second, "node "+n.name+" sees both online", func() bool { return n.b.Online("ann") && n.b.Online("bob") })
	}

	if err := ann.Publish(t.Context(), "/local/x", "home"); err != nil {
		t.Fatal(err)
	}
	if err := ann.Publish(t.Context(), "/service/echo", "svc"); err != nil {
		t.Fatal(err)
	}
	n, err := b.srv.DeliverToUser(t.Context(), "ann", "/user/inbox", "for ann")
	if err != nil || n != 0 {
		t.Fatalf("DeliverToUser from node b = %d, %v; want 0 local sessions, nil", n, err)
	}
	if _, err := a.srv.DeliverToUser(t.Context(), "bob", "/user/inbox", "for bob"); err != nil {
		t.Fatal(err)
	}
	barrier(t, ann, chat)
	barrier(t, bob, chat)
	tests := []struct {
		name        string
		rec         *recorder
		want        []string
		wantPresent bool
	}{
		{"ann on a: node-local", local[0], []string{`/local/x "home"`}, true},
		{"bob on b: node-local", local[1], nil, false},
		{"ann on c: node-local", local[2], nil, false},
		{"ann on a: inbox", inbox[0], []string{`/user/inbox "for ann"`}, true},
		{"bob on b: inbox", inbox[1], []string{`/user/inbox "for bob"`}, true},
		{"ann on c: inbox", inbox[2], []string{`/user/inbox "for ann"`}, true},
	}
	for _, tt := range tests {
		if tt.wantPresent {
			waitFor(t, 5*time.Second, tt.name, func() bool { return len(tt.rec.got()) >= len(tt.want) })
		}
		if got := tt.rec.got(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	serviceOn.Range(func(k, _ any) bool {
		if k != "a" {
			t.Errorf("a service message reached node %v", k)
		}
		return true
	})
}

func TestClusterDeadNodeUsersGoOffline(t *testing.T) {
	a, b, _, _ := cluster(t)
	newClient(t, b.url, "bob", nil)
	waitFor(t, 5*time.Second, "bob online on a", func() bool { return a.b.Online("bob") })
	// b dies without a goodbye: its NATS connection just ends.
	died := time.Now()
	b.b.Conn().Close()
	waitFor(t, 5*time.Second, "bob offline on a", func() bool { return !a.b.Online("bob") })
	took := time.Since(died)
	// Bounded by the TTL (400ms in these tests) plus one expiry tick.
	if limit := fast(natsbroker.Options{}).PresenceTTL + 200*time.Millisecond; took > limit {
		t.Errorf("dead node's user went offline after %v, want within %v", took, limit)
	}
	if p := a.presenceLog(); !slices.Equal(p, []string{"bob=true", "bob=false"}) {
		t.Errorf("presence on a = %v", p)
	}
}

// TestClusterNodeStopsMidStream stops a node under a stream of publishes
// from two publishers, one on the node that stops. The publishers count
// the messages they were told were accepted. Without a history, the
// subscriber that moves off the stopped node misses the messages published
// while it moved (one stretch, counted and logged); with a history
// (Options.History) and the resume extension it misses none.
func TestClusterNodeStopsMidStream(t *testing.T) {
	for _, history := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "history"}[history], func(t *testing.T) {
			testNodeStopsMidStream(t, history)
		})
	}
}

func testNodeStopsMidStream(t *testing.T, history bool) {
	var opts []func(*natsbroker.Options)
	moveOpts := []client.Option{client.WithAck()}
	if history {
		opts = append(opts, withHistory)
		moveOpts = append(moveOpts, client.WithResume())
	}
	a, b, c, _ := cluster(t, opts...)
	lb := newBalancer(t, a)
	var rehandshakes atomic.Int32
	// The subscribers use the ack extension: their servers send again what
	// a lost connection did not deliver.
	moving := newClient(t, lb.url(), "", countRehandshakes(&rehandshakes), moveOpts...)
	moved := subscribe(t, moving, "/chat/room")
	stableClient := newClient(t, c.url, "", nil, client.WithAck())
	stable := subscribe(t, stableClient, "/chat/room")
	if !moving.AckGranted() || !stableClient.AckGranted() {
		t.Fatal("ack extension not granted")
	}
	// p publishes from b throughout; q publishes from a, through the load
	// balancer, and moves to b with the subscriber.
	pubs := map[string]*client.Client{"p": newClient(t, b.url, "", nil), "q": newClient(t, lb.url(), "", nil)}

	const total = 300
	var mu sync.Mutex
	acked := map[string][]int{} // seqs each publisher got a success reply for
	var wg sync.WaitGroup
	for name, pc := range pubs {
		wg.Go(func() {
			for seq := 1; seq <= total; seq++ {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				err := pc.Publish(ctx, "/chat/room", map[string]any{"from": name, "seq": seq})
				cancel()
				if err == nil {
					mu.Lock()
					acked[name] = append(acked[name], seq)
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	ackedOf := func(name string) []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(acked[name])
	}
	waitFor(t, 10*time.Second, "a third of the stream", func() bool { return len(ackedOf("p")) >= total/3 })
	stoppedAt := len(ackedOf("p"))
	a.stop() // a's clients are told to go away…
	// …and find no node for a while, during which p goes on.
	waitFor(t, 10*time.Second, "p publishes while the subscriber has no node", func() bool { return len(ackedOf("p")) >= stoppedAt+20 })
	lb.point(b)
	wg.Wait()

	received := func(r *recorder) map[string]map[int]int {
		out := map[string]map[int]int{"p": {}, "q": {}}
		last := map[string]int{}
		for _, rec := range r.got() {
			from, seq := seqOf(t, rec)
			if seq <= last[from] {
				t.Errorf("%s after %s %d", rec, from, last[from])
			}
			last[from] = seq
			out[from][seq]++
		}
		return out
	}
	// The stable subscriber gets every message a publisher was told was
	// accepted, from either publisher, exactly once and in order.
	waitFor(t, 10*time.Second, "the stable subscriber gets every acknowledged message", func() bool {
		return len(stable.got()) >= len(ackedOf("p"))+len(ackedOf("q"))
	})
	got := received(stable)
	for name := range pubs {
		lost, dup := 0, 0
		for _, seq := range ackedOf(name) {
			switch got[name][seq] {
			case 0:
				lost++
			case 1:
			default:
				dup++
			}
		}
		t.Logf("publisher %s: %d of %d acknowledged; the stable subscriber lost %d, duplicated %d", name, len(ackedOf(name)), total, lost, dup)
		if lost+dup > 0 {
			t.Errorf("publisher %s: stable subscriber lost %d and duplicated %d acknowledged messages", name, lost, dup)
		}
	}
	if len(ackedOf("q")) == total {
		// The stop fell between two of q's publishes: q's stream moved to b
		// without a refusal. The accounting above holds either way.
		t.Logf("every publish of q succeeded: the stop fell between two of them")
	}

	// The moved subscriber re-handshook on b (so it knows its session is
	// new); what it missed is one stretch of p's messages starting at the
	// stop, and nothing is duplicated.
	waitFor(t, 10*time.Second, "the moved subscriber re-handshook", func() bool { return rehandshakes.Load() > 0 })
	mgot := received(moved)
	var lostSeqs []int
	for _, seq := range ackedOf("p") {
		if mgot["p"][seq] == 0 {
			lostSeqs = append(lostSeqs, seq)
		}
		if mgot["p"][seq] > 1 {
			t.Errorf("moved subscriber got p's seq %d %d times", seq, mgot["p"][seq])
		}
	}
	t.Logf("node a stopped after p's seq %d; the moved subscriber missed %d of p's messages (%s) while it moved", stoppedAt, len(lostSeqs), summarize(lostSeqs))
	if history {
		if !moving.ResumeGranted() {
			t.Error("resume not granted")
		}
		for name := range pubs {
			lost := 0
			for _, seq := range ackedOf(name) {
				if mgot[name][seq] != 1 {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("with a history, the moved subscriber missed or duplicated %d of %s's acknowledged messages", lost, name)
			}
		}
		if n := moving.ResumeGaps(); n != 0 {
			t.Errorf("ResumeGaps = %d, want 0", n)
		}
		if n := b.srv.Stats().Replayed; n == 0 {
			t.Error("node b replayed nothing: the subscriber did not move through a gap")
		} else {
			t.Logf("node b replayed %d messages to the moved subscriber", n)
		}
		return
	}
	if len(lostSeqs) == 0 {
		t.Error("without a history the moved subscriber missed nothing: it did not move through a gap")
	}
	for i, seq := range lostSeqs {
		if seq < stoppedAt-1 || (i > 0 && seq != lostSeqs[i-1]+1) {
			t.Errorf("moved subscriber lost p's seq %d outside one stretch from the stop (seq %d)", seq, stoppedAt)
		}
	}
	if mgot["p"][total] != 1 {
		t.Errorf("moved subscriber did not get p's last message on its new node")
	}
}

func summarize(seqs []int) string {
	if len(seqs) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d", seqs[0], seqs[len(seqs)-1])
}

func TestClusterSurvivesNATSRestart(t *testing.T) {
	modes(t, testSurvivesNATSRestart)
}

func testSurvivesNATSRestart(t *testing.T, opts ...func(*natsbroker.Options)) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	u := ns.ClientURL()
	a, b := startNode(t, "a", u, opts...), startNode(t, "b", u, opts...)
	sub := subscribe(t, newClient(t, b.url, "", nil), "/chat/room")
	pub := newClient(t, a.url, "", nil)
	if err := pub.Publish(t.Context(), "/chat/room", map[string]any{"from": "p", "seq": 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first message", func() bool { return len(sub.got()) == 1 })

	ns.Shutdown()
	ns.WaitForShutdown()
	waitFor(t, 5*time.Second, "nodes unhealthy without NATS", func() bool { return a.srv.Healthy() != nil && b.srv.Healthy() != nil })
	startNATS(t, natsPort(t, u), dir)
	waitFor(t, 10*time.Second, "nodes healthy again", func() bool { return a.srv.Healthy() == nil && b.srv.Healthy() == nil })
	// The clients' sessions were removed when NATS went away; their
	// clients handshake again and re-subscribe on their own.
	waitFor(t, 10*time.Second, "delivery resumes", func() bool {
		err := pub.Publish(t.Context(), "/chat/room", map[string]any{"from": "p", "seq": 2})
		if err != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
		return slices.ContainsFunc(sub.got(), func(s string) bool { return strings.Contains(s, `"seq":2`) })
	})
}

func natsPort(t *testing.T, u string) int {
	t.Helper()
	var port int
	if _, err := fmt.Sscanf(u[strings.LastIndexByte(u, ':')+1:], "%d", &port); err != nil {
		t.Fatalf("port of %s: %v", u, err)
	}
	return port
}

func TestClusterPartitionedNodeSendsClientsElsewhere(t *testing.T) {
	tests := []struct {
		name string
		cut  func(*tcpProxy)
	}{
		{"connection reset", (*tcpProxy).partition},
		{"silent black hole, found by pings", (*tcpProxy).freeze},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := startNATS(t, 0, t.TempDir())
			proxy := newTCPProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
			a := startNode(t, "a", proxy.url()) // a reaches NATS through the proxy
			b := startNode(t, "b", ns.ClientURL())
			lb := newBalancer(t, a)
			var rehandshakes atomic.Int32
			cl := newClient(t, lb.url(), "", countRehandshakes(&rehandshakes))
			rec := subscribe(t, cl, "/chat/room")
			pub := newClient(t, b.url, "", nil)

			cut := time.Now()
			tt.cut(proxy)
			waitFor(t, 5*time.Second, "a reports itself unhealthy", func() bool { return a.srv.Healthy() != nil })
			took := time.Since(cut)
			t.Logf("a unhealthy %v after the partition", took.Round(time.Millisecond))
			// Pings every 100ms in these tests, three unanswered: ~400ms;
			// the bound leaves room for a loaded machine.
			if took > 2*time.Second {
				t.Errorf("partition noticed after %v, want within 2s", took)
			}
			// The node says it is unhealthy first (no handshake gets in
			// after that), then removes its sessions: give it a moment.
			waitFor(t, time.Second, "a removed its sessions", func() bool { return a.srv.Stats().Sessions == 0 })
			// a closed its websockets and refuses new ones (503) until it
			// is healthy: the client retries, and the load balancer's
			// health check (Server.Healthy) takes a out.
			lb.point(b)
			waitFor(t, 10*time.Second, "the client lands on b", func() bool {
				_ = pub.Publish(t.Context(), "/chat/room", map[string]any{"from": "p", "seq": 1})
				time.Sleep(20 * time.Millisecond)
				return len(rec.got()) > 0
			})
			if rehandshakes.Load() == 0 {
				t.Errorf("the client never handshook again: it would not know it missed messages")
			}
			proxy.heal()
			waitFor(t, 10*time.Second, "a healthy again after the partition heals", func() bool { return a.srv.Healthy() == nil })
		})
	}
}

func TestConnectFailsClearly(t *testing.T) {
	start := time.Now()
	_, err := natsbroker.Connect(t.Context(), natsbroker.Options{URL: "nats://127.0.0.1:1", ConnectTimeout: 500 * time.Millisecond, Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Fatalf("Connect to a closed port = %v, want an error naming the URL", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Connect took %v to fail", time.Since(start))
	}
	tests := []struct {
		name string
		o    natsbroker.Options
		want string
	}{
		{"no url", natsbroker.Options{}, "no NATS URL"},
		{"bad cluster", natsbroker.Options{URL: "nats://x", Cluster: "a.b"}, "cluster name"},
		{"ttl too short", natsbroker.Options{URL: "nats://x", Heartbeat: time.Second, PresenceTTL: time.Second}, "presence TTL"},
	}
	for _, tt := range tests {
		if _, err := natsbroker.Connect(t.Context(), tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestMalformedRemoteMessagesAreDropped(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	a := startNode(t, "a", ns.ClientURL())
	rec := subscribe(t, newClient(t, a.url, "", nil), "/chat/room")
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	send := func(subject, origin, data string) {
		m := nats.NewMsg(subject)
		if origin != "" {
			m.Header.Set("Cometgen-Origin", origin)
		}
		m.Data = []byte(data)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	send("cometgen.b.chat.room", "x", `{"channel":"/chat/room","data":{"half":`)
	send("cometgen.b.chat.room", "", `{"channel":"/chat/room","data":"no origin"}`)
	send("cometgen.b.chat.room", "x", `{"channel":"/service/x","data":1}`)
	send("cometgen.u.ann", "x", `{"channel":"/user/inbox","data":"no user header"}`)
	send("cometgen.p", "", `{"node":`)
	send("cometgen.b.chat.room", "x", `{"channel":"/chat/room","data":"ok"}`)
	waitFor(t, 5*time.Second, "the good message", func() bool { return len(rec.got()) == 1 })
	if got := rec.got(); !slices.Equal(got, []string{`/chat/room "ok"`}) {
		t.Errorf("delivered %v, want only the well-formed message", got)
	}
	waitFor(t, 5*time.Second, "5 drops counted", func() bool { return a.b.Dropped() == 5 })
}

// TestMalformedHistoryEventsAreDropped: events in the history stream that
// do not decode, or are not on a concrete broadcast channel, are counted
// and dropped; the node goes on with the next.
func TestMalformedHistoryEventsAreDropped(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	a := startNode(t, "a", ns.ClientURL(), withHistory)
	rec := subscribe(t, newClient(t, a.url, "", nil), "/chat/room")
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, data := range []string{
		`{"channel":"/chat/room","data":{"half":`,
		`{"channel":"/service/x","data":1}`,
		`{"channel":"/chat/*","data":1}`,
		`[{"channel":"/chat/room","data":1}]`,
		`{"channel":"/chat/room","data":"ok"}`,
	} {
		// Straight into the stream, as a broken or foreign node would.
		if _, err := nc.Request("cometgen.h.chat.room", []byte(data), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the good event", func() bool { return len(rec.got()) == 1 })
	if got := rec.got(); !slices.Equal(got, []string{`/chat/room "ok"`}) {
		t.Errorf("delivered %v, want only the well-formed event", got)
	}
	waitFor(t, 5*time.Second, "4 drops counted", func() bool { return a.b.Dropped() == 4 })
	if n := a.srv.Stats().BrokerBad; n != 4 {
		t.Errorf("Stats().BrokerBad = %d, want 4", n)
	}
}

func TestMapReplicates(t *testing.T) {
	a, b, _, _ := cluster(t)
	ctx := t.Context()
	ma, err := a.b.Map(ctx, "rooms", natsbroker.MapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.b.Map(ctx, "rooms", natsbroker.MapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]string{}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := mb.Watch(wctx, func(k string, v []byte, deleted bool) {
		mu.Lock()
		defer mu.Unlock()
		if deleted {
			delete(seen, k)
			return
		}
		seen[k] = string(v)
	}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"/chat/lobby/ann", "room with spaces.and.dots", "ünïcode=key", ""}
	for _, k := range keys {
		if err := ma.Put(ctx, k, []byte("in")); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	waitFor(t, 5*time.Second, "b's watch sees a's puts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == len(keys)
	})
	for _, k := range keys {
		if v, ok, err := mb.Get(ctx, k); err != nil || !ok || string(v) != "in" {
			t.Errorf("b.Get(%q) = %q, %v, %v", k, v, ok, err)
		}
	}
	if err := mb.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	all, err := ma.All(ctx)
	if err != nil || len(all) != len(keys)-1 {
		t.Errorf("a.All after b's delete = %v, %v", all, err)
	}
	if _, ok, _ := ma.Get(ctx, keys[0]); ok {
		t.Errorf("deleted key still present on a")
	}
	if err := ma.Put(ctx, "big", make([]byte, 100<<10)); err == nil {
		t.Errorf("a value over MaxValueSize was accepted")
	}
	if _, err := a.b.Map(ctx, "bad.group", natsbroker.MapOptions{}); err == nil {
		t.Errorf("a group name with a dot was accepted")
	}
}

// countRehandshakes is a client state handler that counts re-handshakes.
func countRehandshakes(n *atomic.Int32) func(client.State, error) {
	return func(s client.State, _ error) {
		if s == client.StateRehandshaking {
			n.Add(1)
		}
	}
}

// TestClusterClientsExchangePrivateMessages: a client sends a private
// message to a user through a service channel; the server on the sender's
// node routes it (Server.DeliverToUser) to every session of that user,
// whichever node they are on, and to no one else.
func TestClusterClientsExchangePrivateMessages(t *testing.T) {
	a, b, c, _ := cluster(t)
	for _, n := range []*node{a, b, c} {
		svc, _, _ := n.srv.CreateChannel("/service/dm")
		srv := n.srv
		svc.AddListener(func(ctx context.Context, from *runtime.ServerSession, m *bayeux.Message) error {
			var dm struct {
				To   string `json:"to"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(m.Data, &dm); err != nil || dm.To == "" {
				return bayeux.NewError(400, "dm_invalid")
			}
			_, err := srv.DeliverToUser(ctx, dm.To, "/dm", map[string]string{"from": from.UserID(), "text": dm.Text})
			return err
		})
	}
	ann := newClient(t, a.url, "ann", nil)
	bobB := newClient(t, b.url, "bob", nil)
	bobC := newClient(t, c.url, "bob", nil)
	eve := newClient(t, c.url, "eve", nil)
	var inbox []*recorder
	for _, cl := range []*client.Client{ann, bobB, bobC, eve} {
		inbox = append(inbox, subscribe(t, cl, "/dm"))
	}
	if err := ann.Publish(t.Context(), "/service/dm", map[string]string{"to": "bob", "text": "psst"}); err != nil {
		t.Fatal(err)
	}
	if err := bobC.Publish(t.Context(), "/service/dm", map[string]string{"to": "ann", "text": "hi ann"}); err != nil {
		t.Fatal(err)
	}
	type inboxWant struct {
		name string
		rec  *recorder
		want []string
	}
	want := []inboxWant{
		{"ann on a", inbox[0], []string{`/dm {"from":"bob","text":"hi ann"}`}},
		{"bob on b", inbox[1], []string{`/dm {"from":"ann","text":"psst"}`}},
		{"bob on c", inbox[2], []string{`/dm {"from":"ann","text":"psst"}`}},
	}
	for _, w := range want {
		waitFor(t, 5*time.Second, w.name+" gets the message", func() bool { return len(w.rec.got()) >= len(w.want) })
	}
	// One more message to eve's node settles what is in flight to it.
	if err := ann.Publish(t.Context(), "/service/dm", map[string]string{"to": "eve", "text": "last"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "eve gets her message", func() bool { return len(inbox[3].got()) >= 1 })
	want = append(want, inboxWant{"eve on c", inbox[3], []string{`/dm {"from":"ann","text":"last"}`}})
	for _, w := range want {
		if got := w.rec.got(); !slices.Equal(got, w.want) {
			t.Errorf("%s: got %v, want %v", w.name, got, w.want)
		}
	}
}

// TestNodeStartsWhileNATSIsAway: a server created while its broker's
// connection is down starts unhealthy and becomes healthy, with working
// delivery, once NATS is back.
func TestNodeStartsWhileNATSIsAway(t *testing.T) {
	// With a history, the stream starts once NATS is back.
	modes(t, testNodeStartsWhileNATSIsAway)
}

func testNodeStartsWhileNATSIsAway(t *testing.T, opts ...func(*natsbroker.Options)) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	u := ns.ClientURL()
	o := fast(natsbroker.Options{URL: u, NodeID: "late"})
	for _, f := range opts {
		f(&o)
	}
	b, err := natsbroker.Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	waitFor(t, 5*time.Second, "the broker notices", func() bool { return !b.Conn().IsConnected() })
	start := time.Now()
	srv := runtime.New(runtime.Options{Broker: b, Logger: quiet()})
	defer srv.Shutdown(context.Background())
	if took := time.Since(start); took > time.Second {
		t.Errorf("runtime.New took %v with NATS away", took)
	}
	if srv.Healthy() == nil {
		t.Fatal("a node whose broker is disconnected reports itself healthy")
	}
	startNATS(t, natsPort(t, u), dir)
	waitFor(t, 10*time.Second, "healthy once NATS is back", func() bool { return srv.Healthy() == nil })
	other := startNode(t, "other", u, opts...)
	ls := srv.NewLocalSession("probe")
	if err := ls.Handshake(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	if err := ls.Subscribe("/chat/room", func(m *bayeux.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery from another node", func() bool {
		if _, err := other.srv.Publish("/chat/room", "hello"); err != nil {
			return false
		}
		select {
		case <-got:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
}

// countingHandler counts the log records at Warn and above.
type countingHandler struct{ n atomic.Int32 }

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *countingHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *countingHandler) WithGroup(string) slog.Handler                { return h }

// TestDropsAreLoggedSparingly: a flood of garbage from NATS is counted in
// full but logged at most once a second.
func TestDropsAreLoggedSparingly(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	h := &countingHandler{}
	o := fast(natsbroker.Options{URL: ns.ClientURL()})
	o.Logger = slog.New(h)
	b, err := natsbroker.Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.New(runtime.Options{Broker: b, Logger: quiet()})
	defer srv.Shutdown(context.Background())
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 500
	for range n {
		m := nats.NewMsg("cometgen.b.x")
		m.Header.Set("Cometgen-Origin", "x")
		m.Data = []byte("not json")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "every drop counted", func() bool { return b.Dropped() == n })
	if got := h.n.Load(); got < 1 || got > 2 {
		t.Errorf("%d drops logged %d times, want once (twice if a second passed)", n, got)
	}
}

// TestHistoryLimits: the history keeps at most HistoryMaxMessages events; a
// replay from before them says it is incomplete and gives what is left, in
// order, filtered by the channel pattern.
func TestHistoryLimits(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	a := startNode(t, "a", ns.ClientURL(), func(o *natsbroker.Options) {
		o.History = time.Minute
		o.HistoryMaxMessages = 5
	})
	if !a.b.KeepsHistory() {
		t.Fatal("KeepsHistory = false with Options.History set")
	}
	var last uint64
	for i := 1; i <= 20; i++ {
		ch := "/chat/room"
		if i%2 == 0 {
			ch = "/other/room"
		}
		pos, err := a.b.Append(ch, []byte(fmt.Sprintf(`{"channel":%q,"data":%d}`, ch, i)), "")
		if err != nil {
			t.Fatal(err)
		}
		if pos <= last {
			t.Fatalf("position %d after %d", pos, last)
		}
		last = pos
	}
	replay := func(after uint64, patterns ...string) (bool, []string) {
		var got []string
		complete, err := a.b.Replay(t.Context(), patterns, after, last, func(pos uint64, event []byte, _ string) error {
			got = append(got, fmt.Sprint(pos, " ", string(event)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return complete, got
	}
	complete, got := replay(last-20, "/chat/*")
	want := []string{fmt.Sprint(last-3, ` {"channel":"/chat/room","data":17}`), fmt.Sprint(last-1, ` {"channel":"/chat/room","data":19}`)}
	if complete || !slices.Equal(got, want) {
		t.Errorf("replay from before the history: complete %v, %q; want false, %q", complete, got, want)
	}
	if complete, got := replay(last-2, "/**"); !complete || len(got) != 2 {
		t.Errorf("replay of the last two: complete %v, %q", complete, got)
	}
	if complete, got := replay(last); !complete || len(got) != 0 {
		t.Errorf("replay of nothing: complete %v, %q", complete, got)
	}
	if _, err := natsbroker.Connect(t.Context(), natsbroker.Options{URL: ns.ClientURL(), History: -time.Second}); err == nil {
		t.Error("a negative history was accepted")
	}
}

// TestHistoryNeedsJetStream: a node asked for a history on a NATS without
// JetStream stays unhealthy, saying why.
func TestHistoryNeedsJetStream(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS did not start")
	}
	t.Cleanup(ns.Shutdown)
	b, err := natsbroker.Connect(t.Context(), fast(natsbroker.Options{URL: ns.ClientURL(), History: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.New(runtime.Options{Broker: b, Logger: quiet()})
	defer srv.Shutdown(context.Background())
	if err := srv.Healthy(); !errors.Is(err, natsbroker.ErrNoJetStream) {
		t.Errorf("Healthy() = %v, want %v", err, natsbroker.ErrNoJetStream)
	}
}

// TestHistoryAppendTimeout: an append that NATS does not acknowledge fails
// after Options.RequestTimeout, and the publisher is refused.
func TestHistoryAppendTimeout(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	p := newTCPProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	a := startNode(t, "a", p.url(), func(o *natsbroker.Options) {
		o.History = time.Minute
		o.RequestTimeout = 300 * time.Millisecond
		o.PingInterval = time.Hour // the freeze must not look like a partition
	})
	if _, err := a.b.Append("/chat/room", []byte(`{"channel":"/chat/room","data":1}`), ""); err != nil {
		t.Fatal(err)
	}
	p.freeze()
	start := time.Now()
	_, err := a.b.Append("/chat/room", []byte(`{"channel":"/chat/room","data":2}`), "")
	took := time.Since(start)
	if err == nil || took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("append while NATS is silent: %v after %v, want an error after ~300ms", err, took)
	}
	if _, err := a.srv.Publish("/chat/room", 3); err == nil {
		t.Error("a publish that could not be appended was accepted")
	}
}

// TestHeartbeatLargerThanMaxPayload: a node whose list of users does not
// fit in one NATS message sends its heartbeat in parts, and the other
// nodes keep its users online, heartbeat after heartbeat.
func TestHeartbeatLargerThanMaxPayload(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 2048})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS did not start")
	}
	t.Cleanup(ns.Shutdown)
	a, b := startNode(t, "a", ns.ClientURL()), startNode(t, "b", ns.ClientURL())
	const users = 200 // ~30 bytes each: 6 KB of ids, three times the max payload
	for i := range users {
		body := fmt.Sprintf(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"ext":{"user":"user-with-a-longish-name-%03d"}}]`, i)
		resp, err := http.Post(a.url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	online := func() int {
		n := 0
		for i := range users {
			if b.b.Online(fmt.Sprintf("user-with-a-longish-name-%03d", i)) {
				n++
			}
		}
		return n
	}
	waitFor(t, 5*time.Second, "a's users online on b", func() bool { return online() == users })
	// Twice the presence TTL: a node whose heartbeats did not arrive would
	// be dead by now.
	time.Sleep(2 * fast(natsbroker.Options{}).PresenceTTL)
	if n := online(); n != users {
		t.Errorf("%d of a's %d users online on b after %v of heartbeats", n, users, 2*fast(natsbroker.Options{}).PresenceTTL)
	}
	for _, e := range b.presenceLog() {
		if strings.HasSuffix(e, "=false") {
			t.Fatalf("presence flapped on b: %s", e)
		}
	}
}

// TestHistoryStreamDeleted: a node whose history stream is deleted under
// it turns unhealthy (its clients go elsewhere) and stays so, instead of
// skipping every later event as a repeat.
func TestHistoryStreamDeleted(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	a := startNode(t, "a", ns.ClientURL(), withHistory)
	if _, err := a.srv.Publish("/chat/room", 1); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(a.b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(t.Context(), "cometgen-history"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the node unhealthy", func() bool { return a.srv.Healthy() != nil })
	if err := a.srv.Healthy(); !strings.Contains(err.Error(), "history stream cometgen-history was deleted") {
		t.Errorf("Healthy() = %v", err)
	}
	time.Sleep(200 * time.Millisecond) // a few heartbeats: it stays unhealthy
	if a.srv.Healthy() == nil {
		t.Error("healthy again with its history gone")
	}
}

// TestResumeAfterStreamRecreated: the history stream is deleted and
// created again (its positions start from 1 again) while a client that
// holds a position of the old stream has no node. It resumes on a node of
// the new stream: it is told of a gap, it is replayed what the new stream
// holds on its channel, and it gets the later events, though their
// positions are at or below its old one.
func TestResumeAfterStreamRecreated(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	a := startNode(t, "a", ns.ClientURL(), withHistory)
	lb := newBalancer(t, a)
	sub := newClient(t, lb.url(), "", nil, client.WithResume())
	rec := subscribe(t, sub, "/chat/room")
	publish := func(n *node, first, last int) {
		t.Helper()
		for i := first; i <= last; i++ {
			if _, err := n.srv.Publish("/chat/room", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := func(last int) []string {
		var w []string
		for i := 1; i <= last; i++ {
			w = append(w, fmt.Sprint("/chat/room ", i))
		}
		return w
	}
	publish(a, 1, 10)
	waitFor(t, 5*time.Second, "events 1..10", func() bool { return len(rec.got()) == 10 })
	a.stop()
	js, err := jetstream.New(natsConn(t, ns.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(t.Context(), "cometgen-history"); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, "b", ns.ClientURL(), withHistory) // creates the stream again
	publish(b, 11, 13)                                  // positions 1..3
	lb.point(b)
	waitFor(t, 10*time.Second, "events 11..13 replayed", func() bool { return len(rec.got()) >= 13 })
	publish(b, 14, 20) // positions 4..10
	waitFor(t, 5*time.Second, "events 14..20", func() bool { return len(rec.got()) >= 20 })
	if got := rec.got(); !slices.Equal(got, want(20)) {
		t.Errorf("got %v, want %v", got, want(20))
	}
	waitFor(t, 5*time.Second, "the gap told", func() bool { return sub.ResumeGaps() == 1 })
	if n := b.srv.Stats().ResumeGaps; n != 1 {
		t.Errorf("server Stats().ResumeGaps = %d, want 1", n)
	}
}

// natsConn connects to NATS at url for the test's own requests.
func natsConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestNothingSentLaterWhileNATSIsAway: a broadcast published while the
// node is cut from NATS fails at once, so its publisher is told, and is
// never sent later on reconnection, where it would reach subscribers after
// the publisher's newer messages (the soak suite saw a message refused
// with 503 delivered after 75 later ones).
func TestNothingSentLaterWhileNATSIsAway(t *testing.T) {
	modes(t, testNothingSentLater)
}

func testNothingSentLater(t *testing.T, opts ...func(*natsbroker.Options)) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	u := ns.ClientURL()
	a := startNode(t, "a", u, opts...)
	ns.Shutdown()
	ns.WaitForShutdown()
	waitFor(t, 5*time.Second, "node unhealthy without NATS", func() bool { return a.srv.Healthy() != nil })
	start := time.Now()
	err := a.b.Publish("/chat/room", []byte(`{"channel":"/chat/room","data":{"seq":1}}`))
	if err == nil {
		t.Fatal("a publish while NATS is away succeeded: it is held for later")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the publish failed after %v, not at once", took)
	}
}

// TestClusterNodes checks the cluster's nodes as Server.ClusterNodes
// reports them (the admin page): every node, itself first, with its users;
// a node that dies silently turns unhealthy and is then forgotten; a node
// that shuts down is gone at once.
func TestClusterNodes(t *testing.T) {
	a, b, c, _ := cluster(t)
	newClient(t, b.url, "bob", nil)
	summary := func() string {
		var parts []string
		for _, n := range a.srv.ClusterNodes() {
			parts = append(parts, fmt.Sprintf("%s self=%v users=%d healthy=%v", n.ID, n.Self, n.Users, n.Healthy))
		}
		return strings.Join(parts, "; ")
	}
	want := "a self=true users=0 healthy=true; b self=false users=1 healthy=true; c self=false users=0 healthy=true"
	waitFor(t, 5*time.Second, "three healthy nodes, bob on b", func() bool { return summary() == want })

	c.stop()
	waitFor(t, 5*time.Second, "c gone after its goodbye", func() bool {
		return !strings.Contains(summary(), "c self")
	})

	b.b.Conn().Close() // b dies without a goodbye
	waitFor(t, 5*time.Second, "b unhealthy", func() bool {
		for _, n := range a.srv.ClusterNodes() {
			if n.ID == "b" && !n.Healthy && strings.Contains(n.Problem, "not heard from") {
				return true
			}
		}
		return false
	})
	waitFor(t, 5*time.Second, "b forgotten after the TTL", func() bool { return summary() == "a self=true users=0 healthy=true" })
	alone := runtime.New(runtime.Options{Logger: quiet()})
	defer alone.Shutdown(context.Background())
	if nodes := alone.ClusterNodes(); nodes != nil {
		t.Errorf("a server without a broker lists nodes %v", nodes)
	}
}
