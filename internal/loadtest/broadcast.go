package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// Defaults of BroadcastConfig.
const (
	DefaultBroadcastRate    = 10
	DefaultBroadcastChannel = "/bench/broadcast"
)

// BroadcastConfig describes a run in which one publisher broadcasts to many
// subscribers of one channel at a low rate, and what is measured is when
// each broadcast reached its last subscriber.
type BroadcastConfig struct {
	// URL is the server's Bayeux endpoint (http:// or https://).
	URL string `json:"url"`
	// Transport is "websocket" (default) or "long-polling".
	Transport string `json:"transport"`
	// Subscribers is the number of sessions subscribed to Channel.
	Subscribers int `json:"subscribers"`
	// Rate is broadcasts per second (default 10).
	Rate float64 `json:"rate"`
	// Duration is how long to publish (default 10s).
	Duration time.Duration `json:"duration_ns"`
	// Channel is the channel broadcast on (default /bench/broadcast).
	Channel string `json:"channel"`
	// PayloadSize: see Config.PayloadSize.
	PayloadSize int `json:"payload_size"`
	// Drain is how long to wait after the last broadcast for deliveries
	// still in flight (default 2s; ends early once all arrived).
	Drain time.Duration `json:"drain_ns"`
	// NetHTTP: see Config.NetHTTP.
	NetHTTP bool `json:"net_http"`
	// SetupConcurrency bounds how many sessions are set up at once.
	SetupConcurrency int `json:"setup_concurrency"`
	// Logger receives progress (default: none).
	Logger *slog.Logger `json:"-"`
}

// Validate fills in defaults and checks the configuration.
func (c *BroadcastConfig) Validate() error {
	cfg := Config{URL: c.URL, Transport: c.Transport, Channel: c.Channel, Subscribers: c.Subscribers,
		Rate: c.Rate, Duration: c.Duration, PayloadSize: c.PayloadSize, Drain: c.Drain, SetupConcurrency: c.SetupConcurrency, Logger: c.Logger}
	if cfg.Channel == "" {
		cfg.Channel = DefaultBroadcastChannel
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultBroadcastRate
	}
	if c.Subscribers <= 0 {
		return &ValidationError{"subscribers", c.Subscribers, errors.New("out of range")}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Rate > 1000 {
		return &ValidationError{"rate", cfg.Rate, errors.New("a broadcast run publishes at most 1000/s")}
	}
	c.URL, c.Transport, c.Channel, c.Rate, c.Duration = cfg.URL, cfg.Transport, cfg.Channel, cfg.Rate, cfg.Duration
	c.Drain, c.SetupConcurrency, c.Logger = cfg.Drain, cfg.SetupConcurrency, cfg.Logger
	return nil
}

// BroadcastReport is the outcome of RunBroadcast.
type BroadcastReport struct {
	Config BroadcastConfig `json:"config"`
	// Setup is how long setting up every subscriber took.
	Setup time.Duration `json:"setup_ns"`
	// Broadcasts counts the broadcasts the server acknowledged; Failed the
	// ones it did not (refused or timed out).
	Broadcasts int `json:"broadcasts"`
	Failed     int `json:"failed"`
	// FirstError is the first failed broadcast's error.
	FirstError string `json:"first_error,omitempty"`
	// Complete counts the acknowledged broadcasts that reached every
	// subscriber.
	Complete int `json:"complete"`
	// Expected is Broadcasts × Subscribers; Delivered the distinct
	// deliveries of acknowledged broadcasts; Lost the difference;
	// Duplicates deliveries received more than once.
	Expected   int64 `json:"expected"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	// Elapsed runs from the first broadcast to the last delivery (or the
	// end of the drain).
	Elapsed time.Duration `json:"elapsed_ns"`
	// LastTimes are over the complete broadcasts, of the time from
	// publishing a broadcast to its delivery to its last subscriber.
	LastTimes
	// First* are the same for the first subscriber.
	FirstP50 time.Duration `json:"first_p50_ns"`
	FirstP99 time.Duration `json:"first_p99_ns"`
	// Rehandshakes counts sessions the server dropped during the run.
	Rehandshakes int64 `json:"rehandshakes"`
	// CPU is this process's CPU time (user + system) while publishing and
	// draining: the clients' share of the machine.
	CPU time.Duration `json:"cpu_ns"`
	// FileLimit is this process's limit of open files during the run.
	FileLimit uint64 `json:"file_limit"`
}

// DeliveriesPerSecond is Delivered over Elapsed.
func (r *BroadcastReport) DeliveriesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.Elapsed.Seconds()
}

// broadcastLog is the account of every broadcast: when it was published and
// when it reached its first and last subscriber.
type broadcastLog struct {
	published []atomic.Int64 // unix nanos, by seq (1-based; index 0 unused)
	acked     []atomic.Int32 // 1 acknowledged, -1 failed
	first     []atomic.Int64 // earliest receipt, unix nanos
	last      []atomic.Int64 // latest receipt, unix nanos
	count     []atomic.Int64 // distinct deliveries
	dups      atomic.Int64
	invalid   atomic.Int64
	errOnce   sync.Once
	firstErr  string
}

func (l *broadcastLog) failed(seq int, err error) {
	l.errOnce.Do(func() { l.firstErr = fmt.Sprintf("broadcast %d: %v", seq, err) })
	l.acked[seq].Store(-1)
}

func newBroadcastLog(n int) *broadcastLog {
	return &broadcastLog{
		published: make([]atomic.Int64, n+1),
		acked:     make([]atomic.Int32, n+1),
		first:     make([]atomic.Int64, n+1),
		last:      make([]atomic.Int64, n+1),
		count:     make([]atomic.Int64, n+1),
	}
}

// subscriber returns the handler of one subscriber, which remembers which
// broadcasts it received to tell duplicates.
func (l *broadcastLog) subscriber() client.Handler {
	receive := l.receiver()
	return func(m *bayeux.Message) { receive(m.Data, time.Now().UnixNano()) }
}

// receiver returns what records one subscriber's deliveries (their data,
// received at now, unix nanos) and remembers which broadcasts it received
// to tell duplicates.
func (l *broadcastLog) receiver() func(data []byte, now int64) {
	seen := make([]atomic.Uint64, (len(l.count)+63)/64)
	return func(data []byte, now int64) {
		seq, _, _, ok := parsePayload(data)
		if !ok || seq <= 0 || seq >= int64(len(l.count)) {
			l.invalid.Add(1)
			return
		}
		bit := uint64(1) << (seq % 64)
		if seen[seq/64].Or(bit)&bit != 0 {
			l.dups.Add(1)
			return
		}
		l.count[seq].Add(1)
		storeMax(&l.last[seq], now)
		storeMin(&l.first[seq], now)
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if (old != 0 && old <= v) || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// RunBroadcast sets up cfg.Subscribers sessions on cfg.Channel and one
// publishing session, publishes cfg.Rate broadcasts a second for
// cfg.Duration, and reports per broadcast when it reached its last
// subscriber. It disconnects every session before returning.
func RunBroadcast(ctx context.Context, cfg BroadcastConfig) (*BroadcastReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limit, err := raiseFileLimitFor(cfg.Transport, false, cfg.Subscribers+1)
	if err != nil {
		return nil, err
	}
	rep := &BroadcastReport{Config: cfg, FileLimit: limit}
	n := int(math.Ceil(cfg.Rate*cfg.Duration.Seconds())) + 1
	log := newBroadcastLog(n)

	b := &bench{cfg: Config{URL: cfg.URL, Transport: cfg.Transport, NetHTTP: cfg.NetHTTP, Subscribers: cfg.Subscribers, Publishers: 1, Window: 64, SetupConcurrency: cfg.SetupConcurrency, Logger: cfg.Logger}, log: cfg.Logger}
	opts := b.clientOptions()
	subOpts := slices.Clip(opts)
	if cfg.Transport == bayeux.TransportWebSocket {
		subOpts = append(subOpts, client.WithDialer(lightDialer()))
	}
	subOpts = append(subOpts, client.WithInlineDispatch())
	var clients []*client.Client
	defer func() { b.closeClients(clients) }()
	start := time.Now()
	var loop *wsLoop
	if useWSLoop(cfg) {
		// The bench's own subscribers, read by one event loop: see wsSub.
		subs, err := setupSubs(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		if loop, err = startWSLoop(subs); err != nil {
			closeSubs(subs, cfg.SetupConcurrency)
			return nil, err
		}
		defer func() {
			loop.close()
			closeSubs(subs, cfg.SetupConcurrency)
		}()
	} else {
		clients = make([]*client.Client, cfg.Subscribers, cfg.Subscribers+1)
		err = setupSessions(ctx, cfg.URL, cfg.SetupConcurrency, subOpts, clients,
			func(int) string { return cfg.Channel },
			func(int) client.Handler { return log.subscriber() })
		if err != nil {
			return nil, err
		}
	}
	pub := client.New(cfg.URL, opts...)
	clients = append(clients, pub)
	if err := pub.Handshake(ctx); err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	rep.Setup = time.Since(start)
	cfg.Logger.Info("sessions ready", "subscribers", cfg.Subscribers, "took", rep.Setup)
	rehandshakes0 := b.rehandshakes.Load()
	lost0 := int64(0)
	if loop != nil {
		lost0 = loop.lost.Load()
	}

	// Publish on a fixed schedule; each broadcast's time is taken just
	// before it is handed to the client.
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	var pending sync.WaitGroup
	buf := make([]byte, 0, 96+cfg.PayloadSize)
	cpu0 := cpuTime()
	first := time.Now()
	sent := 0
	pubCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	for seq := 1; seq < n; seq++ {
		if wait := time.Until(first.Add(time.Duration(seq-1) * interval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-pubCtx.Done():
				t.Stop()
			}
		}
		if pubCtx.Err() != nil {
			break
		}
		ts := time.Now().UnixNano()
		log.published[seq].Store(ts)
		buf = appendPayload(buf[:0], int64(seq), 0, ts, cfg.PayloadSize)
		pending.Add(1)
		err := pub.PublishAsync(ctx, cfg.Channel, json.RawMessage(buf), func(err error) {
			if err != nil {
				log.failed(seq, err)
			} else {
				log.acked[seq].Store(1)
			}
			pending.Done()
		})
		if err != nil {
			log.failed(seq, err)
			pending.Done()
		}
		sent = seq
	}
	cancel()
	pending.Wait()

	// Drain until every acknowledged broadcast reached every subscriber.
	drainCtx, cancelDrain := context.WithTimeout(ctx, cfg.Drain)
	defer cancelDrain()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !log.allDelivered(sent, cfg.Subscribers) {
		select {
		case <-drainCtx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	end := time.Now()
	rep.CPU = cpuTime() - cpu0
	rep.Rehandshakes = b.rehandshakes.Load() - rehandshakes0
	if loop != nil {
		rep.Rehandshakes += loop.lost.Load() - lost0
	}
	log.fill(rep, sent, cfg.Subscribers, first, end)
	return rep, ctx.Err()
}

func (l *broadcastLog) allDelivered(sent, subscribers int) bool {
	for seq := 1; seq <= sent; seq++ {
		if l.acked[seq].Load() == 1 && l.count[seq].Load() < int64(subscribers) {
			return false
		}
	}
	return true
}

// fill computes the report's figures from the log.
func (l *broadcastLog) fill(rep *BroadcastReport, sent, subscribers int, first, end time.Time) {
	var lastLat, firstLat []time.Duration
	lastReceipt := first.UnixNano()
	for seq := 1; seq <= sent; seq++ {
		switch l.acked[seq].Load() {
		case 1:
		case -1:
			rep.Failed++
			continue
		default:
			rep.Failed++ // never answered
			continue
		}
		rep.Broadcasts++
		got := l.count[seq].Load()
		rep.Delivered += got
		lastReceipt = max(lastReceipt, l.last[seq].Load())
		if got >= int64(subscribers) {
			rep.Complete++
			lastLat = append(lastLat, time.Duration(l.last[seq].Load()-l.published[seq].Load()))
		}
		if got > 0 {
			firstLat = append(firstLat, time.Duration(l.first[seq].Load()-l.published[seq].Load()))
		}
	}
	rep.Expected = int64(rep.Broadcasts) * int64(subscribers)
	rep.Lost = rep.Expected - rep.Delivered
	rep.Duplicates = l.dups.Load()
	rep.FirstError = l.firstErr
	if rep.Lost > 0 {
		rep.Elapsed = end.Sub(first)
	} else {
		rep.Elapsed = time.Duration(lastReceipt - first.UnixNano())
	}
	slices.Sort(lastLat)
	slices.Sort(firstLat)
	rep.LastTimes = lastTimesOf(lastLat)
	rep.FirstP50, rep.FirstP99 = exactPercentile(firstLat, 50), exactPercentile(firstLat, 99)
}

// LastTimes are percentiles of the times until a broadcast (or a burst)
// reached its last receiver.
type LastTimes struct {
	LastP50 time.Duration `json:"last_p50_ns"`
	LastP90 time.Duration `json:"last_p90_ns"`
	LastP99 time.Duration `json:"last_p99_ns"`
	LastMax time.Duration `json:"last_max_ns"`
}

// lastTimesOf returns the percentiles of sorted.
func lastTimesOf(sorted []time.Duration) LastTimes {
	t := LastTimes{LastP50: exactPercentile(sorted, 50), LastP90: exactPercentile(sorted, 90), LastP99: exactPercentile(sorted, 99)}
	if len(sorted) > 0 {
		t.LastMax = sorted[len(sorted)-1]
	}
	return t
}

// String formats the percentiles for a report.
func (t LastTimes) String() string {
	return fmt.Sprintf("p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms", ms(t.LastP50), ms(t.LastP90), ms(t.LastP99), ms(t.LastMax))
}

// exactPercentile returns the value at or below which p percent of sorted
// lie (nearest rank), 0 for none.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// WriteText writes the report for people.
func (r *BroadcastReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c := r.Config
	lines := []string{
		fmt.Sprintf("target\t%s (%s)", c.URL, c.Transport),
		fmt.Sprintf("subscribers\t%d on %s, set up in %s; %d re-handshakes", c.Subscribers, c.Channel, round(r.Setup), r.Rehandshakes),
		fmt.Sprintf("broadcasts\t%d acknowledged (%g/s for %s), %d failed; %d reached every subscriber", r.Broadcasts, c.Rate, c.Duration, r.Failed, r.Complete),
		fmt.Sprintf("deliveries\t%d of %d, %d lost, %d duplicated; %.0f/s over %s", r.Delivered, r.Expected, r.Lost, r.Duplicates, r.DeliveriesPerSecond(), round(r.Elapsed)),
		"last subscriber\t" + r.LastTimes.String(),
		fmt.Sprintf("first subscriber\tp50 %.1f ms  p99 %.1f ms", ms(r.FirstP50), ms(r.FirstP99)),
		fmt.Sprintf("bench CPU\t%s while publishing and draining", round(r.CPU)),
		fmt.Sprintf("file limit\t%d", r.FileLimit),
	}
	if r.FirstError != "" {
		lines = append(lines, "first error\t"+r.FirstError)
	}
	return writeLines(tw, lines)
}

// WriteJSON writes the report as JSON, durations in nanoseconds.
func (r *BroadcastReport) WriteJSON(w io.Writer) error {
	type out BroadcastReport
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*out
		DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	}{(*out)(r), r.DeliveriesPerSecond()})
}
