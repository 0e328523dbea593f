package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// balancer serves one node of a cluster at a time, as a load balancer in
// front of the nodes does when one of them goes away.
type balancer struct {
	cur atomic.Pointer[runtime.Server]
	url string
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.cur.Load().ServeHTTP(w, r) }

func newBalancer(t *testing.T, to *runtime.Server) *balancer {
	b := &balancer{}
	b.cur.Store(to)
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/cometd"
	return b
}

// historyCluster starts n nodes on one MemoryCluster that keeps the last
// size broadcasts.
func historyCluster(t *testing.T, n, size int, opts runtime.Options) []*runtime.Server {
	t.Helper()
	c := runtime.NewMemoryClusterWithHistory(size)
	nodes := make([]*runtime.Server, n)
	for i := range nodes {
		o := opts
		o.Broker = c.Broker()
		o.Timeout = time.Second
		nodes[i] = runtime.New(o)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			_ = nodes[i].Shutdown(ctx)
		})
	}
	return nodes
}

// serve serves srv on a loopback URL of its own.
func serve(t *testing.T, srv *runtime.Server) string {
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL + "/cometd"
}

func connectClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c := client.New(url, append([]client.Option{client.WithBackoff(20*time.Millisecond, 50*time.Millisecond)}, opts...)...)
	if err := c.Handshake(testCtx(t)); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return c
}

// seqs records the "seq" of every event a subscription received, and the
// positions they carried.
type seqs struct {
	mu   sync.Mutex
	seq  []int
	pos  []uint64
	wake chan struct{}
}

func subscribeSeqs(t *testing.T, c *client.Client, channel string) *seqs {
	t.Helper()
	s := &seqs{wake: make(chan struct{}, 1)}
	_, err := c.Subscribe(testCtx(t), channel, func(m *bayeux.Message) {
		var d struct{ Seq int }
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Errorf("event %s: %v", m.Data, err)
		}
		pos, _ := m.Ext["resume"].(float64)
		s.mu.Lock()
		s.seq = append(s.seq, d.Seq)
		s.pos = append(s.pos, uint64(pos))
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("Subscribe %s: %v", channel, err)
	}
	return s
}

func (s *seqs) got() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seq)
}

// waitLast waits until the subscription received seq.
func (s *seqs) waitLast(t *testing.T, seq int) {
	t.Helper()
	deadline := time.After(2 * waitFor)
	for !slices.Contains(s.got(), seq) {
		select {
		case <-s.wake:
		case <-deadline:
			t.Fatalf("seq %d never arrived; got %v", seq, s.got())
		}
	}
}

// publishSeqs publishes seq first..last on channel and returns the seqs the
// server accepted.
func publishSeqs(t *testing.T, c *client.Client, channel string, first, last int) []int {
	t.Helper()
	var ok []int
	for seq := first; seq <= last; seq++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := c.Publish(ctx, channel, map[string]int{"seq": seq}); err == nil {
			ok = append(ok, seq)
		}
		cancel()
	}
	return ok
}

// TestResumeOnAnotherNode moves two subscribers from a node that shuts
// down to another one while a publisher on a third node goes on: the one
// with the resume extension gets every message the publisher was told was
// accepted, once and in order; the one without misses those published
// while it moved (which shows that the test moves them through a gap).
func TestResumeOnAnotherNode(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		nodes := historyCluster(t, 3, 1000, runtime.Options{})
		a, b, c := nodes[0], nodes[1], nodes[2]
		lb := newBalancer(t, a)
		resuming := connectClient(t, lb.url, append(transportOptions(tr), client.WithResume())...)
		plain := connectClient(t, lb.url, transportOptions(tr)...)
		if !resuming.ResumeGranted() || plain.ResumeGranted() {
			t.Fatalf("resume granted: %v (asked), %v (not asked)", resuming.ResumeGranted(), plain.ResumeGranted())
		}
		got := subscribeSeqs(t, resuming, "/chat/*")
		gotPlain := subscribeSeqs(t, plain, "/chat/room")
		pub := connectClient(t, serve(t, b), client.WithTransport(bayeux.TransportLongPolling))

		acked := publishSeqs(t, pub, "/chat/room", 1, 50)
		got.waitLast(t, 50)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		if err := a.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		cancel()
		// Published while the subscribers have no node.
		acked = append(acked, publishSeqs(t, pub, "/chat/room", 51, 100)...)
		lb.cur.Store(c)
		// Both subscribers back, on c: the rest reaches them live.
		deadline := time.Now().Add(2 * waitFor)
		for c.Stats().Subscriptions < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the subscribers did not come back on node c: %+v", c.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		acked = append(acked, publishSeqs(t, pub, "/chat/room", 101, 150)...)
		got.waitLast(t, 150)
		gotPlain.waitLast(t, 150)

		if g := got.got(); !slices.Equal(g, acked) {
			t.Errorf("the resuming subscriber got %v, want every accepted message once, in order: %v", g, acked)
		}
		if n := resuming.ResumeGaps(); n != 0 {
			t.Errorf("ResumeGaps = %d, want 0", n)
		}
		if st := c.Stats(); st.Replayed == 0 {
			t.Errorf("node c replayed nothing (%+v)", st)
		}
		missed := len(acked) - len(gotPlain.got())
		if missed == 0 {
			t.Errorf("the subscriber without resume missed nothing: the test did not move it through a gap")
		}
		t.Logf("%s: %d accepted; resuming subscriber got %d, %d replayed; the other missed %d", tr, len(acked), len(got.got()), c.Stats().Replayed, missed)
		got.mu.Lock()
		defer got.mu.Unlock()
		for i := 1; i < len(got.pos); i++ {
			if got.pos[i] <= got.pos[i-1] {
				t.Fatalf("positions not increasing: %v", got.pos)
			}
		}
	})
}

// moveThroughGap subscribes a resuming client to /chat/room on node a of
// a two-node cluster, publishes seq 1 from node b, stops a, publishes
// 2..missed+1 while the client has no node, and moves the client to b. It
// returns the client, its events and the publisher.
func moveThroughGap(t *testing.T, size, missed int, opts runtime.Options, tr string) (*client.Client, *seqs, *client.Client, *runtime.Server) {
	t.Helper()
	nodes := historyCluster(t, 2, size, opts)
	a, b := nodes[0], nodes[1]
	lb := newBalancer(t, a)
	sub := connectClient(t, lb.url, client.WithTransport(tr), client.WithResume())
	got := subscribeSeqs(t, sub, "/chat/room")
	pub := connectClient(t, serve(t, b), client.WithTransport(bayeux.TransportLongPolling))
	publishSeqs(t, pub, "/chat/room", 1, 1)
	got.waitLast(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = a.Shutdown(ctx)
	publishSeqs(t, pub, "/chat/room", 2, missed+1)
	lb.cur.Store(b)
	return sub, got, pub, b
}

// gapsSoon returns c.ResumeGaps once it is not 0, or 0 after a while: the
// replayed events may reach the handlers before the connect reply that
// tells of the gap is processed.
func gapsSoon(c *client.Client) int64 {
	deadline := time.Now().Add(waitFor)
	for c.ResumeGaps() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return c.ResumeGaps()
}

// TestResumeGap: a subscriber that comes back after the history dropped
// what it missed is told so (ResumeGaps, Stats.ResumeGaps), and gets what
// the history still holds.
func TestResumeGap(t *testing.T) {
	// The history keeps 16..20, and the nodes keep nothing in memory.
	sub, got, _, b := moveThroughGap(t, 5, 19, runtime.Options{ReplayBuffer: -1}, bayeux.TransportWebSocket)
	got.waitLast(t, 20)
	if g, want := got.got(), []int{1, 16, 17, 18, 19, 20}; !slices.Equal(g, want) {
		t.Errorf("got %v, want %v", g, want)
	}
	if n := gapsSoon(sub); n != 1 {
		t.Errorf("client ResumeGaps = %d, want 1", n)
	}
	if n := b.Stats().ResumeGaps; n != 1 {
		t.Errorf("server Stats().ResumeGaps = %d, want 1", n)
	}
}

// TestResumeMaxReplay: a node replays at most Options.MaxReplay messages
// to one batch of resuming subscribes, and says the resume is incomplete.
func TestResumeMaxReplay(t *testing.T) {
	sub, got, pub, b := moveThroughGap(t, 1000, 10, runtime.Options{MaxReplay: 3}, bayeux.TransportLongPolling)
	got.waitLast(t, 4)
	publishSeqs(t, pub, "/chat/room", 12, 12)
	got.waitLast(t, 12)
	if g, want := got.got(), []int{1, 2, 3, 4, 12}; !slices.Equal(g, want) {
		t.Errorf("got %v, want %v", g, want)
	}
	if n := gapsSoon(sub); n != 1 {
		t.Errorf("ResumeGaps = %d, want 1", n)
	}
	if st := b.Stats(); st.Replayed != 3 {
		t.Errorf("Stats().Replayed = %d, want 3", st.Replayed)
	}
}

// TestResumeWithNothingReceived: a subscriber that has received nothing
// yet when its node dies resumes from the position its subscribe joined
// at, so it gets what was published while it moved.
func TestResumeWithNothingReceived(t *testing.T) {
	for _, before := range []int{0, 5} { // events in the history before the subscribe
		t.Run(fmt.Sprintf("history of %d", before), func(t *testing.T) {
			nodes := historyCluster(t, 2, 1000, runtime.Options{})
			a, b := nodes[0], nodes[1]
			pub := connectClient(t, serve(t, b), client.WithTransport(bayeux.TransportLongPolling))
			publishSeqs(t, pub, "/other", 1, before)
			lb := newBalancer(t, a)
			sub := connectClient(t, lb.url, client.WithTransport(bayeux.TransportWebSocket), client.WithResume())
			got := subscribeSeqs(t, sub, "/chat/quiet")
			if _, ok := sub.Position(); !ok {
				t.Fatal("no position after the subscribe")
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			_ = a.Shutdown(ctx)
			publishSeqs(t, pub, "/chat/quiet", 1, 1)
			lb.cur.Store(b)
			got.waitLast(t, 1)
			publishSeqs(t, pub, "/chat/quiet", 2, 2)
			got.waitLast(t, 2)
			if g := got.got(); !slices.Equal(g, []int{1, 2}) {
				t.Errorf("got %v, want [1 2]", g)
			}
		})
	}
}

// TestResumeAfterHistoryReset: a client holds a position of a history that
// is gone (the cluster started again with a new one, a new epoch) and
// resumes on a node of the new history, whose positions start again from
// 1. It is told of a gap (what the old history had after its position is
// lost to it), it is replayed what the new history holds on its channels,
// and it gets the new history's later events, though their positions are
// at or below its old one; a later move on the new history is complete.
func TestResumeAfterHistoryReset(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		old := historyCluster(t, 1, 1000, runtime.Options{})[0]
		lb := newBalancer(t, old)
		sub := connectClient(t, lb.url, append(transportOptions(tr), client.WithResume())...)
		got := subscribeSeqs(t, sub, "/chat/room")
		pub := connectClient(t, serve(t, old), client.WithTransport(bayeux.TransportLongPolling))
		publishSeqs(t, pub, "/chat/room", 1, 10)
		got.waitLast(t, 10)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = old.Shutdown(ctx)

		nodes := historyCluster(t, 2, 1000, runtime.Options{}) // a new history: positions from 1 again
		a, b := nodes[0], nodes[1]
		pub2 := connectClient(t, serve(t, b), client.WithTransport(bayeux.TransportLongPolling))
		publishSeqs(t, pub2, "/chat/room", 11, 13) // positions 1..3: missed, and replayed
		lb.cur.Store(a)
		got.waitLast(t, 13)
		publishSeqs(t, pub2, "/chat/room", 14, 20) // positions 4..10: at or below the old position
		got.waitLast(t, 20)
		if g, want := got.got(), seqRange(1, 20); !slices.Equal(g, want) {
			t.Errorf("got %v, want %v", g, want)
		}
		if n := gapsSoon(sub); n != 1 {
			t.Errorf("client ResumeGaps = %d, want 1", n)
		}
		if n := a.Stats().ResumeGaps; n != 1 {
			t.Errorf("server Stats().ResumeGaps = %d, want 1", n)
		}

		// Moving again, within the new history: nothing lost, no gap.
		ctx2, cancel2 := context.WithTimeout(context.Background(), waitFor)
		defer cancel2()
		_ = a.Shutdown(ctx2)
		publishSeqs(t, pub2, "/chat/room", 21, 25)
		lb.cur.Store(b)
		got.waitLast(t, 25)
		if g, want := got.got(), seqRange(1, 25); !slices.Equal(g, want) {
			t.Errorf("after a second move: got %v, want %v", g, want)
		}
		if n := sub.ResumeGaps(); n != 1 {
			t.Errorf("client ResumeGaps = %d after a move within one history, want still 1", n)
		}
	})
}

func seqRange(first, last int) []int {
	var s []int
	for i := first; i <= last; i++ {
		s = append(s, i)
	}
	return s
}
