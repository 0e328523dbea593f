package soak_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/soak"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/nats-io/nats-server/v2/server"
)

var soakFor = flag.Duration("soak", 0, "run TestSoak this long with more clients (0: the short version of make test)")

func TestMain(m *testing.M) {
	if os.Getenv("COMETGEN_SOAK_NODE") != "" {
		soak.NodeMain() // a node process started by the suite; never returns
	}
	flag.Parse()
	os.Exit(m.Run())
}

// The memory margin: once its clients have left, a node's heap in use
// (after two collections) may exceed its baseline by this much.
const (
	memMarginFactor = 1.25
	memMarginBytes  = 8 << 20
)

// channels are the channels published to; every subscriber takes them all.
var channels = []string{"/soak/0", "/soak/1", "/soak/2"}

// scale is how many clients of each kind the suite runs on each node.
type scale struct {
	wsSubs, lpSubs, jsonpSubs int
	wsPubs, lpPubs            int
	publishEvery              time.Duration
}

// TestSoak runs a two-node cluster on an embedded NATS with subscribers
// on websocket, long-polling and callback-polling (each with the ack and
// resume extensions) and publishers that count every publish the server
// acknowledged, while it injects faults: invalid UTF-8 publishes on every
// transport, half-open websockets (a raw one that stops reading, and a
// subscriber's connection frozen so that it moves to a new one), abrupt
// connection drops, node kills (SIGKILL; the clients move to the other
// node and resume) and NATS restarts. Then every acknowledged message must
// have reached every subscriber exactly once, in each publisher's order
// per channel, no subscriber may have received invalid UTF-8, every
// session must be gone once the clients leave (the half-open ones too), and
// each node's heap in use must be back within the margin of its baseline.
//
// The short version (make test) runs its faults once in about 15 s; with
// -soak d it runs them in a loop for d, with more clients.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	run, sc := 12*time.Second, scale{wsSubs: 1, lpSubs: 1, jsonpSubs: 1, wsPubs: 1, lpPubs: 1, publishEvery: 10 * time.Millisecond}
	long := *soakFor > 0
	if long {
		run, sc = *soakFor, scale{wsSubs: 4, lpSubs: 3, jsonpSubs: 2, wsPubs: 2, lpPubs: 2, publishEvery: 10 * time.Millisecond}
	}
	h := newHarness(t)
	h.warmUp()
	base := h.mems()
	for i, m := range base {
		t.Logf("node %d baseline: heap in use %.1f MiB, %d goroutines", i, mib(m.HeapInuse), m.Goroutines)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var subs []*subscriber
	for home := range 2 {
		for i := range sc.wsSubs {
			subs = append(subs, h.goSubscriber(ctx, fmt.Sprintf("ws-%d-%d", home, i), bayeux.TransportWebSocket, home))
		}
		for i := range sc.lpSubs {
			subs = append(subs, h.goSubscriber(ctx, fmt.Sprintf("lp-%d-%d", home, i), bayeux.TransportLongPolling, home))
		}
		for i := range sc.jsonpSubs {
			subs = append(subs, h.jsonpSubscriber(ctx, fmt.Sprintf("jsonp-%d-%d", home, i), home))
		}
	}
	var pubs []*publisher
	pctx, stopPublishing := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	for home := range 2 {
		for i := range sc.wsPubs + sc.lpPubs {
			tr := bayeux.TransportWebSocket
			if i >= sc.wsPubs {
				tr = bayeux.TransportLongPolling
			}
			p := h.publisher(fmt.Sprintf("pub-%s-%d-%d", tr, home, i), tr, home)
			pubs = append(pubs, p)
			pwg.Go(func() { p.run(pctx, sc.publishEvery) })
		}
	}

	// The faults, one every second or so, in a loop until the run ends
	// (once through in the short version).
	faults := []struct {
		name string
		do   func(r *rand.Rand, round int)
	}{
		{"invalid UTF-8 publishes", func(*rand.Rand, int) { h.invalidUTF8() }},
		{"half-open websocket (stops reading)", func(r *rand.Rand, _ int) { h.halfOpen(r) }},
		{"connection drops", func(r *rand.Rand, _ int) { h.dropSome(r) }},
		{"frozen subscriber websocket", func(r *rand.Rand, _ int) { h.freezeOne(r) }},
		{"node kill", func(_ *rand.Rand, round int) { h.killNode(round % 2) }},
		{"connection drops", func(r *rand.Rand, _ int) { h.dropSome(r) }},
		{"NATS restart", func(*rand.Rand, int) { h.restartNATS() }},
		{"invalid UTF-8 publishes", func(*rand.Rand, int) { h.invalidUTF8() }},
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	start := time.Now()
	time.Sleep(time.Second)
	for round := 0; ; round++ {
		for _, f := range faults {
			h.logf("round %d: %s", round, f.name)
			f.do(r, round)
			h.injected[f.name]++
			time.Sleep(time.Second)
		}
		if !long || time.Since(start) > run {
			break
		}
	}
	if rest := run - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	stopPublishing()
	pwg.Wait()
	elapsed := time.Since(start)

	// Every subscriber gets every acknowledged message.
	acked := map[string][]int{}
	total := 0
	for _, p := range pubs {
		for k, seqs := range p.ackedSeqs() {
			acked[k] = seqs
			total += len(seqs)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range subs {
		for !s.has(acked) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(time.Second) // a late duplicate would land now
	var lost, dup, unacked, events, late int
	for _, s := range subs {
		l, d, u, n, bad, lateOnes := s.check(acked)
		late += len(lateOnes)
		for _, b := range lateOnes[:min(len(lateOnes), 3)] {
			t.Errorf("%s: %s (a refused publish delivered later: docs/reliability.md)", s.name, b)
		}
		lost, dup, unacked, events = lost+l, dup+d, unacked+u, events+n
		gaps, rehs := s.counts()
		extra := ""
		if s.overlaps != nil {
			extra = fmt.Sprintf(", %d replayed events dropped as already received", s.overlaps())
		}
		t.Logf("%s: %d events, %d lost, %d duplicated, %d unacknowledged received, %d resume gaps, %d re-handshakes%s", s.name, n, l, d, u, gaps, rehs, extra)
		for _, b := range bad[:min(len(bad), 5)] {
			t.Errorf("%s: %s", s.name, b)
		}
		if p := s.poisoned.Load(); p > 0 {
			t.Errorf("%s received %d messages holding invalid UTF-8", s.name, p)
		}
	}
	var failed int64
	for _, p := range pubs {
		failed += p.failed.Load()
	}
	t.Logf("%v of traffic: %d publishes acknowledged (%d refused or timed out) to %d subscribers on %d channels; %d events delivered: %d lost, %d duplicated, %d unacknowledged delivered (%d of them after later ones)",
		elapsed.Round(time.Second), total, failed, len(subs), len(channels), events, lost, dup, unacked, late)
	t.Logf("faults injected: %v; invalid UTF-8 refused %d of %d", h.injected, h.utf8Refused.Load(), h.utf8Sent.Load())
	if total == 0 {
		t.Fatal("no publish was acknowledged")
	}

	// Everyone leaves; the half-open websockets stay open on the client's
	// side: the nodes must reap them.
	cancel()
	for _, s := range subs {
		s.stop()
	}
	for _, p := range pubs {
		p.stop()
	}
	h.waitSessionsGone(30 * time.Second)
	for i, m := range h.mems() {
		limit := uint64(float64(base[i].HeapInuse)*memMarginFactor) + memMarginBytes
		t.Logf("node %d: heap in use %.1f MiB after the run (baseline %.1f MiB, limit %.1f MiB), %d goroutines (baseline %d), %d replayed, %d resume gaps",
			i, mib(m.HeapInuse), mib(base[i].HeapInuse), mib(limit), m.Goroutines, base[i].Goroutines, m.Stats.Replayed, m.Stats.ResumeGaps)
		if m.HeapInuse > limit {
			t.Errorf("node %d: heap in use %.1f MiB, over %.1f MiB (baseline %.1f MiB)", i, mib(m.HeapInuse), mib(limit), mib(base[i].HeapInuse))
		}
		if m.Goroutines > base[i].Goroutines+20 {
			t.Errorf("node %d: %d goroutines, %d at the baseline", i, m.Goroutines, base[i].Goroutines)
		}
		t.Logf("node %d logged: %s", i, h.logSummary(i))
	}
}

// logSummary counts the warnings node i logged (all its processes), by
// message.
func (h *harness) logSummary(i int) string {
	b, err := os.ReadFile(filepath.Join(h.dir, fmt.Sprintf("node%d.log", i)))
	if err != nil {
		return err.Error()
	}
	counts := map[string]int{}
	for line := range strings.Lines(string(b)) {
		msg := strings.TrimSpace(line)
		if _, rest, ok := strings.Cut(line, " msg="); ok {
			msg = rest
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				msg = q
			} else if k := strings.IndexByte(rest, ' '); k >= 0 {
				msg = rest[:k]
			}
		}
		counts[msg]++
	}
	if len(counts) == 0 {
		return "nothing"
	}
	keys := slices.Sorted(maps.Keys(counts))
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%dx %s", counts[k], k))
	}
	return strings.Join(out, "; ")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// harness is the cluster under test: an embedded NATS and two node
// processes, with the balancers of every client.
type harness struct {
	t        *testing.T
	dir      string
	nats     *server.Server
	natsPort int
	nodes    nodeAddrs
	procs    [2]*exec.Cmd
	logs     [2]*os.File

	mu      sync.Mutex
	bals    []*balancer // subscribers' and publishers' balancers
	wsBals  []*balancer // websocket subscribers' balancers
	raw     []func()    // closes the raw connections of the faults
	t0      time.Time
	verbose bool

	injected              map[string]int
	utf8Sent, utf8Refused atomic.Int64
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), nodes: nodeAddrs{addrs: make([]string, 2)}, injected: map[string]int{}, t0: time.Now(), verbose: testing.Verbose()}
	h.startNATS(-1)
	h.natsPort = h.nats.Addr().(*net.TCPAddr).Port
	for i := range 2 {
		h.startNode(i)
	}
	t.Cleanup(func() {
		h.mu.Lock()
		raw := h.raw
		h.mu.Unlock()
		for _, f := range raw {
			f()
		}
		for i := range 2 {
			h.stopNode(i)
		}
		h.nats.Shutdown()
		if t.Failed() {
			for i := range 2 {
				if b, err := os.ReadFile(filepath.Join(h.dir, fmt.Sprintf("node%d.log", i))); err == nil && len(b) > 0 {
					t.Logf("node %d log (last 4 KiB):\n%s", i, b[max(0, len(b)-4096):])
				}
			}
		}
	})
	return h
}

func (h *harness) logf(format string, args ...any) {
	if h.verbose {
		h.t.Logf("%6.1fs "+format, append([]any{time.Since(h.t0).Seconds()}, args...)...)
	}
}

func (h *harness) startNATS(port int) {
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: filepath.Join(h.dir, "nats"),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		h.t.Fatal("embedded NATS did not start")
	}
	h.nats = ns
}

// startNode starts node i in a process of its own (this test binary, run
// as a node by TestMain) and points the balancers at it.
func (h *harness) startNode(i int) {
	h.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COMETGEN_SOAK_NODE="+fmt.Sprint("node", i), "COMETGEN_SOAK_NATS="+h.nats.ClientURL())
	logf, err := os.OpenFile(filepath.Join(h.dir, fmt.Sprintf("node%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		h.procs[i], h.logs[i] = cmd, logf
		h.nodes.set(i, a)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		h.t.Fatalf("node %d did not start", i)
	}
}

func (h *harness) stopNode(i int) {
	cmd := h.procs[i]
	if cmd == nil {
		return
	}
	h.nodes.set(i, "")
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	h.logs[i].Close()
	h.procs[i] = nil
}

// killNode kills node i (SIGKILL), leaves it down for two seconds, during
// which its clients move to the other node, and starts it again.
func (h *harness) killNode(i int) {
	h.nodes.set(i, "")
	h.procs[i].Process.Kill()
	h.procs[i].Wait()
	h.logs[i].Close()
	time.Sleep(2 * time.Second)
	h.startNode(i)
}

// restartNATS stops the NATS server for a second and starts it again on
// the same port and store: the nodes are unhealthy meanwhile, their
// sessions removed, and their clients handshake again and resume.
func (h *harness) restartNATS() {
	h.nats.Shutdown()
	h.nats.WaitForShutdown()
	time.Sleep(time.Second)
	h.startNATS(h.natsPort)
}

func (h *harness) mem(i int) (soak.Mem, error) {
	var m soak.Mem
	addr := h.nodes.order(i)
	if len(addr) == 0 || addr[0] != h.nodes.addrs[i] {
		return m, fmt.Errorf("node %d is down", i)
	}
	resp, err := http.Get("http://" + addr[0] + "/soak/mem")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

func (h *harness) mems() []soak.Mem {
	h.t.Helper()
	out := make([]soak.Mem, 2)
	for i := range out {
		m, err := h.mem(i)
		if err != nil {
			h.t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

// waitSessionsGone waits until no node holds a session.
func (h *harness) waitSessionsGone(d time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var left []string
		for i := range 2 {
			m, err := h.mem(i)
			if err != nil {
				h.t.Fatal(err)
			}
			if m.Stats.Sessions > 0 {
				left = append(left, fmt.Sprintf("node %d: %d sessions", i, m.Stats.Sessions))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %v with no client left: %v", d, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// warmUp fills what a node keeps for good (its replay buffer, pools, the
// channels) before the baseline is taken: clients on both nodes exchange
// more messages than the replay buffer holds, then leave.
func (h *harness) warmUp() {
	h.t.Helper()
	ctx := h.t.Context()
	var cs []*client.Client
	for i := range 2 {
		for _, tr := range []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling} {
			c := client.New("http://"+h.nodes.order(i)[0]+"/cometd", client.WithTransport(tr), client.WithAck(), client.WithResume())
			if err := c.Handshake(ctx); err != nil {
				h.t.Fatal(err)
			}
			for _, ch := range channels {
				if _, err := c.Subscribe(ctx, ch, func(*bayeux.Message) {}); err != nil {
					h.t.Fatal(err)
				}
			}
			cs = append(cs, c)
		}
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for seq := range 1200 {
				if err := c.Publish(ctx, channels[seq%len(channels)], map[string]any{"p": fmt.Sprint("warm-", i), "s": seq}); err != nil {
					h.t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, c := range cs {
		c.Disconnect(ctx)
	}
	h.waitSessionsGone(10 * time.Second)
}

func (h *harness) balancer(home int, ws bool) *balancer {
	b := newBalancer(h.t, &h.nodes, home)
	h.mu.Lock()
	h.bals = append(h.bals, b)
	if ws {
		h.wsBals = append(h.wsBals, b)
	}
	h.mu.Unlock()
	return b
}

// dropSome cuts every connection of about half the clients.
func (h *harness) dropSome(r *rand.Rand) {
	h.mu.Lock()
	bals := slices.Clone(h.bals)
	h.mu.Unlock()
	n := 0
	for _, b := range bals {
		if r.IntN(2) == 0 {
			n += b.drop()
		}
	}
	h.logf("dropped %d connections", n)
}

// freezeOne makes one websocket subscriber's connection half-open: its
// client times out and moves its session to a new websocket, while the
// old one stays open on the server (issue 14, defect 2).
func (h *harness) freezeOne(r *rand.Rand) {
	h.mu.Lock()
	bals := slices.Clone(h.wsBals)
	h.mu.Unlock()
	if len(bals) > 0 {
		h.logf("froze %d connections", pick(r, bals).freeze())
	}
}

// subscriber is one subscribing client and what it received.
type subscriber struct {
	name string
	stop func()
	// counts returns the resume gaps and re-handshakes of the client.
	counts func() (gaps, rehandshakes int)
	// overlaps, for the JSONP driver, counts the replayed events it
	// dropped as already received (the Go client does the same, uncounted).
	overlaps func() int

	mu       sync.Mutex
	got      map[string][]int // "publisher channel" → seqs in arrival order
	poisoned atomic.Int64
}

type payload struct {
	P string `json:"p"`
	S int    `json:"s"`
}

func (s *subscriber) onEvent(m *bayeux.Message) {
	if bytes.Contains(m.Data, []byte("poison")) {
		s.poisoned.Add(1)
		return
	}
	var p payload
	if err := json.Unmarshal(m.Data, &p); err != nil || p.P == "" {
		return
	}
	s.mu.Lock()
	k := p.P + " " + m.Channel
	s.got[k] = append(s.got[k], p.S)
	s.mu.Unlock()
}

// has reports whether s received every acknowledged seq.
func (s *subscriber) has(acked map[string][]int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, seqs := range acked {
		got := s.got[k]
		if len(got) == 0 || got[len(got)-1] < seqs[len(seqs)-1] {
			return false
		}
	}
	return true
}

// check returns what s lost and received twice of the acknowledged
// messages, how many unacknowledged ones it received, how many events in
// all, every acknowledged or repeated seq that came out of order (bad),
// and every unacknowledged one that came after later ones (late).
func (s *subscriber) check(acked map[string][]int) (lost, dup, unacked, events int, bad, late []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, got := range s.got {
		events += len(got)
		ok := map[int]bool{}
		for _, seq := range acked[k] {
			ok[seq] = true
		}
		seen := map[int]int{}
		for i, seq := range got {
			seen[seq]++
			if i == 0 || seq > got[i-1] {
				continue
			}
			if !ok[seq] && seen[seq] == 1 {
				// A publish its publisher was not told was accepted, delivered
				// after later ones (docs/reliability.md, "What it found").
				late = append(late, fmt.Sprintf("%s: unacknowledged seq %d after %d", k, seq, got[i-1]))
				continue
			}
			bad = append(bad, fmt.Sprintf("%s: seq %d after %d", k, seq, got[i-1]))
		}
		for seq, n := range seen {
			dup += n - 1
			if !ok[seq] {
				unacked++
			}
		}
	}
	for k, seqs := range acked {
		got := s.got[k]
		var missing []int
		for _, seq := range seqs {
			if !slices.Contains(got, seq) {
				missing = append(missing, seq)
			}
		}
		if len(missing) > 0 {
			lost += len(missing)
			bad = append(bad, fmt.Sprintf("%s: lost %d acknowledged: %v", k, len(missing), missing[:min(len(missing), 10)]))
		}
	}
	return
}

func (h *harness) goSubscriber(ctx context.Context, name, transport string, home int) *subscriber {
	h.t.Helper()
	s := &subscriber{name: name, got: map[string][]int{}}
	var rehs atomic.Int64
	c := client.New(h.balancer(home, transport == bayeux.TransportWebSocket).url(),
		client.WithTransport(transport), client.WithAck(), client.WithResume(),
		client.WithBackoff(50*time.Millisecond, 500*time.Millisecond),
		client.WithMaxNetworkDelay(2*time.Second),
		client.WithStateHandler(func(st client.State, _ error) {
			if st == client.StateRehandshaking {
				rehs.Add(1)
			}
		}))
	if err := c.Handshake(ctx); err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	for _, ch := range channels {
		if _, err := c.Subscribe(ctx, ch, s.onEvent); err != nil {
			h.t.Fatalf("%s: subscribe %s: %v", name, ch, err)
		}
	}
	if !c.AckGranted() || !c.ResumeGranted() {
		h.t.Fatalf("%s: ack %v, resume %v: want both granted", name, c.AckGranted(), c.ResumeGranted())
	}
	s.counts = func() (int, int) { return int(c.ResumeGaps()), int(rehs.Load()) }
	s.stop = func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Disconnect(dctx)
	}
	return s
}

func (h *harness) jsonpSubscriber(ctx context.Context, name string, home int) *subscriber {
	s := &subscriber{name: name, got: map[string][]int{}}
	j := newJSONPClient(h.balancer(home, false).url(), channels, s.onEvent)
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { j.run(jctx); close(done) }()
	// Wait for its subscriptions, so that it is owed every message
	// published from now on.
	deadline := time.Now().Add(10 * time.Second)
	for {
		j.mu.Lock()
		ok := j.ready
		j.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s did not subscribe", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.counts = j.counts
	s.overlaps = func() int { j.mu.Lock(); defer j.mu.Unlock(); return j.overlaps }
	s.stop = func() { cancel(); <-done }
	return s
}

// publisher publishes seq-numbered messages round the channels and keeps
// the seqs the server acknowledged, per channel.
type publisher struct {
	name   string
	c      *client.Client
	mu     sync.Mutex
	acked  map[string][]int // "publisher channel" → seqs
	failed atomic.Int64
}

func (h *harness) publisher(name, transport string, home int) *publisher {
	h.t.Helper()
	c := client.New(h.balancer(home, false).url(), client.WithTransport(transport),
		client.WithBackoff(50*time.Millisecond, 500*time.Millisecond), client.WithMaxNetworkDelay(2*time.Second))
	if err := c.Handshake(h.t.Context()); err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return &publisher{name: name, c: c, acked: map[string][]int{}}
}

func (p *publisher) run(ctx context.Context, every time.Duration) {
	for seq := 1; ctx.Err() == nil; seq++ {
		ch := channels[seq%len(channels)]
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := p.c.Publish(pctx, ch, payload{P: p.name, S: seq})
		cancel()
		if err == nil {
			p.mu.Lock()
			k := p.name + " " + ch
			p.acked[k] = append(p.acked[k], seq)
			p.mu.Unlock()
		} else {
			p.failed.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

func (p *publisher) ackedSeqs() map[string][]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]int{}
	for k, v := range p.acked {
		out[k] = slices.Clone(v)
	}
	return out
}

func (p *publisher) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.c.Disconnect(ctx)
}
