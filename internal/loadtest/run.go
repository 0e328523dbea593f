package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/gorilla/websocket"
)

// notMeasuring is the measureFrom of a publisher before measuring starts:
// no sequence number reaches it, so warm-up messages are ignored.
const notMeasuring = math.MaxInt64

// Run performs the load test described by cfg and returns its report. It
// sets up every session first (an error there aborts the run), publishes
// for the configured duration or count, waits for the drain, and
// disconnects. When ctx ends early, Run stops publishing and returns the
// report of what was measured so far together with ctx's error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, log: cfg.Logger}
	b.measureFrom = make([]atomic.Int64, cfg.Publishers)
	for i := range b.measureFrom {
		b.measureFrom[i].Store(notMeasuring)
	}
	b.opts = b.clientOptions()
	defer b.closeAll()

	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	if cfg.Warmup > 0 {
		b.log.Info("warming up", "for", cfg.Warmup)
		b.publish(ctx, cfg.Warmup, 0)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return b.measure(ctx)
}

type bench struct {
	cfg  Config
	log  interface{ Info(string, ...any) }
	opts []client.Option

	subs []*receiver
	pubs []*publisher

	// measureFrom[p] is the first sequence number of publisher p that counts.
	measureFrom  []atomic.Int64
	rehandshakes atomic.Int64
}

// clientOptions returns the options shared by every session: for
// long-polling one HTTP connection pool sized for every held connect plus
// the publishers' windows; for websocket larger read buffers.
func (b *bench) clientOptions() []client.Option {
	opts := []client.Option{
		client.WithTransport(b.cfg.Transport),
		client.WithLogger(b.cfg.Logger),
		client.WithStateHandler(func(s client.State, _ error) {
			if s == client.StateRehandshaking {
				b.rehandshakes.Add(1)
			}
		}),
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if b.cfg.Transport == bayeux.TransportLongPolling {
		if !b.cfg.NetHTTP && !b.cfg.HeldOnly && strings.HasPrefix(b.cfg.URL, "http://") {
			return append(opts, client.WithDirectHTTP(dialer.DialContext))
		}
		conns := 2*b.cfg.Subscribers + b.cfg.Publishers*(b.cfg.Window+1) + 16
		tr := &http.Transport{
			Proxy:               nil, // the target is loopback or chosen explicitly
			DialContext:         dialer.DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
			TLSHandshakeTimeout: 10 * time.Second,
		}
		if b.cfg.HeldOnly {
			tr.IdleConnTimeout = HeldOnlyIdle
		}
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: tr}))
	} else {
		opts = append(opts, client.WithDialer(&websocket.Dialer{
			NetDialContext:   dialer.DialContext,
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   32 << 10,
			WriteBufferSize:  8 << 10,
		}))
	}
	return opts
}

// HeldOnlyIdle is how long a connection of Config.HeldOnly may stay idle.
const HeldOnlyIdle = time.Second

// setup handshakes every session and subscribes the subscribers, a bounded
// number at a time.
func (b *bench) setup(ctx context.Context) error {
	cfg := b.cfg
	b.subs = make([]*receiver, cfg.Subscribers)
	b.pubs = make([]*publisher, cfg.Publishers)
	sem := make(chan struct{}, cfg.SetupConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := time.Now()
	// The receivers' handler is short and never waits for the client: it
	// may run on the goroutine that received the events, which saves a
	// hand-off per response.
	subOpts := append(slices.Clip(b.opts), client.WithInlineDispatch())
	for i := range cfg.Subscribers + cfg.Publishers {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var err error
			if i < cfg.Subscribers {
				target := cfg.URL
				if n := len(cfg.SubscriberURLs); n > 0 {
					target = cfg.SubscriberURLs[i%n]
				}
				c := client.New(target, subOpts...)
				r := newReceiver(c, cfg.Publishers, b.measureFrom)
				b.subs[i] = r
				if err = c.Handshake(ctx); err == nil {
					_, err = c.Subscribe(ctx, cfg.Channel, r.handle)
				}
				if err != nil {
					err = fmt.Errorf("subscriber %d: %w", i, err)
				}
			} else {
				c := client.New(cfg.URL, b.opts...)
				p := i - cfg.Subscribers
				b.pubs[p] = &publisher{id: p, c: c}
				if err = c.Handshake(ctx); err != nil {
					err = fmt.Errorf("publisher %d: %w", p, err)
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("setup: %w (and %d more)", errs[0], len(errs)-1)
	}
	b.log.Info("sessions ready", "subscribers", cfg.Subscribers, "publishers", cfg.Publishers, "took", time.Since(start))
	return nil
}

// closeAll disconnects every session, a bounded number at a time.
func (b *bench) closeAll() {
	var clients []*client.Client
	for _, r := range b.subs {
		if r != nil {
			clients = append(clients, r.c)
		}
	}
	for _, p := range b.pubs {
		if p != nil {
			clients = append(clients, p.c)
		}
	}
	b.closeClients(clients)
}

// measure runs the measured phase and builds the report.
func (b *bench) measure(ctx context.Context) (*Report, error) {
	cfg := b.cfg
	for _, p := range b.pubs {
		b.measureFrom[p.id].Store(p.seq + 1)
		p.resetCounters()
	}
	rehandshakes0 := b.rehandshakes.Load()
	cpu0 := cpuTime()
	start := time.Now()
	b.log.Info("measuring", "duration", cfg.Duration, "messages", cfg.Messages)

	b.publish(ctx, cfg.Duration, cfg.Messages)
	published := time.Now()

	// Drain: wait for the deliveries still in flight, until everything
	// acknowledged has arrived everywhere or the drain period is over.
	drainCtx, cancel := context.WithTimeout(ctx, cfg.Drain)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
drain:
	for b.missing() > 0 {
		select {
		case <-drainCtx.Done():
			break drain
		case <-tick.C:
		}
	}
	end := time.Now()
	cpu := cpuTime() - cpu0

	rep := b.report(start, published, end, cpu)
	rep.Rehandshakes = b.rehandshakes.Load() - rehandshakes0
	return rep, ctx.Err()
}

// missing returns how many acknowledged deliveries have not arrived yet.
func (b *bench) missing() int64 {
	var want, got int64
	for _, p := range b.pubs {
		want += p.acked.Load() * int64(len(b.subs))
	}
	for _, r := range b.subs {
		got += r.uniqueCount()
	}
	return want - got
}

// publish runs every publisher for d (when positive) or until total
// messages (when positive) have been published, then waits for their
// outstanding acknowledgements.
func (b *bench) publish(ctx context.Context, d time.Duration, total int64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, d)
		defer cancelT()
	}
	var quota *atomic.Int64
	if total > 0 {
		quota = new(atomic.Int64)
		quota.Store(total)
	}
	rate := b.cfg.Rate / float64(len(b.pubs))
	var wg sync.WaitGroup
	for _, p := range b.pubs {
		wg.Go(func() { p.run(ctx, b, rate, quota) })
	}
	wg.Wait()
}

// publisher is one publishing session.
type publisher struct {
	id  int
	c   *client.Client
	seq int64 // last sequence number used; only its run goroutine touches it

	published atomic.Int64
	acked     atomic.Int64 // acknowledged successful, measured phase only
	failed    atomic.Int64
	errMu     sync.Mutex
	firstErr  error
}

func (p *publisher) resetCounters() {
	p.published.Store(0)
	p.acked.Store(0)
	p.failed.Store(0)
	p.errMu.Lock()
	p.firstErr = nil
	p.errMu.Unlock()
}

func (p *publisher) recordErr(err error) {
	p.failed.Add(1)
	p.errMu.Lock()
	if p.firstErr == nil {
		p.firstErr = err
	}
	p.errMu.Unlock()
}

// run publishes until ctx ends or the quota is used up, at rate messages
// per second (0: as fast as the window allows), then waits (bounded) for
// the outstanding acknowledgements.
func (p *publisher) run(ctx context.Context, b *bench, rate float64, quota *atomic.Int64) {
	window := make(chan struct{}, b.cfg.Window)
	measureFrom := &b.measureFrom[p.id]
	buf := make([]byte, 0, 96+b.cfg.PayloadSize)
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	next := time.Now()
	for ctx.Err() == nil {
		if quota != nil && quota.Add(-1) < 0 {
			break
		}
		if interval > 0 {
			now := time.Now()
			if lag := now.Sub(next); lag > time.Second {
				next = now // far behind: do not burst to catch up
			}
			if wait := next.Sub(now); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					continue
				}
			}
			next = next.Add(interval)
		}
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		p.seq++
		seq := p.seq
		buf = appendPayload(buf[:0], seq, p.id, time.Now().UnixNano(), b.cfg.PayloadSize)
		err := p.c.PublishAsync(ctx, b.cfg.Channel, json.RawMessage(buf), func(err error) {
			if err != nil {
				p.recordErr(err)
			} else if seq >= measureFrom.Load() {
				p.acked.Add(1)
			}
			<-window
		})
		if err != nil {
			<-window
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				p.recordErr(err)
			}
			continue
		}
		p.published.Add(1)
	}
	// Wait for the outstanding acknowledgements by filling the window.
	deadline := time.NewTimer(b.cfg.Drain + client.DefaultMaxNetworkDelay)
	defer deadline.Stop()
	for range b.cfg.Window {
		select {
		case window <- struct{}{}:
		case <-deadline.C:
			return
		}
	}
}

// receiver is one subscribing session and its account of deliveries.
type receiver struct {
	c           *client.Client
	measureFrom []atomic.Int64

	mu          sync.Mutex
	pairs       []pairStats // by publisher id
	hist        histogram
	unique      atomic.Int64 // mirrors the sum of pairs[*].unique for polling
	delivered   int64
	invalid     int64 // data not in the load test's format
	lastReceipt time.Time
}

func newReceiver(c *client.Client, publishers int, measureFrom []atomic.Int64) *receiver {
	return &receiver{c: c, measureFrom: measureFrom, pairs: make([]pairStats, publishers)}
}

// handle is the subscription handler: it runs on the session's dispatcher
// goroutine and must stay cheap.
func (r *receiver) handle(m *bayeux.Message) {
	now := time.Now()
	seq, pub, ts, ok := parsePayload(m.Data)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok || pub >= len(r.pairs) || seq <= 0 {
		r.invalid++
		return
	}
	if seq < r.measureFrom[pub].Load() {
		return // warm-up traffic
	}
	p := &r.pairs[pub]
	before := p.unique
	p.record(seq)
	r.unique.Add(p.unique - before)
	r.delivered++
	r.hist.record(time.Duration(now.UnixNano() - ts))
	r.lastReceipt = now
}

func (r *receiver) uniqueCount() int64 { return r.unique.Load() }

// cpuTime returns the user plus system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
