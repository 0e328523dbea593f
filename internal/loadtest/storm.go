package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/bits"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// Defaults of StormConfig.
const (
	DefaultStormPrefix = "/bench/storm"
	DefaultStormTick   = 250 * time.Millisecond
	DefaultStormWait   = 60 * time.Second
	DefaultStormDrain  = 10 * time.Second
)

// StormConfig describes a reconnect storm: sessions connected to a server
// that this process runs, kills and starts again.
type StormConfig struct {
	// URL is the server's Bayeux endpoint (http:// or https://).
	URL string `json:"url"`
	// Transport is "websocket" (default) or "long-polling".
	Transport string `json:"transport"`
	// Sessions is the number of sessions, each subscribed to one of
	// Channels channels.
	Sessions int `json:"sessions"`
	// Channels and Prefix: session i subscribes to Prefix/(i mod Channels)
	// (default 100 channels, /bench/storm).
	Channels int    `json:"channels"`
	Prefix   string `json:"prefix"`
	// ServerCmd is the server's command line, run without a shell; it must
	// serve URL. The server is started before the sessions, killed with
	// SIGKILL and started again.
	ServerCmd []string `json:"server_cmd"`
	// Down is how long the server stays dead before it is started again.
	Down time.Duration `json:"down_ns"`
	// Tick is how often a publishing session publishes one message on
	// every channel (default 250ms): how finely "receives again" is timed.
	Tick time.Duration `json:"tick_ns"`
	// Wait bounds how long to wait for every session to receive again
	// (default 60s).
	Wait time.Duration `json:"wait_ns"`
	// Settle is how long to wait before each memory reading (default 8s).
	Settle time.Duration `json:"settle_ns"`
	// Resume makes the sessions use the resume extension
	// (client.WithResume): the server must keep a history (cometgen serve
	// --nats … --nats-history …, with NATS kept up while the server
	// restarts), and every message the server acknowledged is then to reach
	// every session of its channel, once and in order, across the restart.
	Resume bool `json:"resume,omitempty"`
	// Drain bounds the wait, once publishing stopped, for the messages
	// still due to the sessions (default 10s; it ends when all arrived).
	Drain time.Duration `json:"drain_ns"`
	// SetupConcurrency bounds how many sessions are set up at once.
	SetupConcurrency int `json:"setup_concurrency"`
	// ServerOutput receives the server's standard output and error
	// (default: discarded).
	ServerOutput io.Writer `json:"-"`
	// Logger receives progress (default: none).
	Logger *slog.Logger `json:"-"`
}

// Validate fills in defaults and checks the configuration.
func (c *StormConfig) Validate() error {
	idle := IdleConfig{URL: c.URL, Transport: c.Transport, Sessions: c.Sessions, Channels: c.Channels, Prefix: c.Prefix,
		Settle: c.Settle, ServerPID: 1, SetupConcurrency: c.SetupConcurrency, Logger: c.Logger}
	if idle.Prefix == "" {
		idle.Prefix = DefaultStormPrefix
	}
	if err := idle.Validate(); err != nil {
		return err
	}
	switch {
	case len(c.ServerCmd) == 0:
		return &ValidationError{"server command", "", errors.New("the storm runs the server itself: give its command")}
	case c.Down < 0:
		return &ValidationError{"down", c.Down, errors.New("out of range")}
	case c.Tick < 0:
		return &ValidationError{"tick", c.Tick, errors.New("out of range")}
	case c.Wait < 0:
		return &ValidationError{"wait", c.Wait, errors.New("out of range")}
	case c.Drain < 0:
		return &ValidationError{"drain", c.Drain, errors.New("out of range")}
	}
	c.URL, c.Transport, c.Channels, c.Prefix = idle.URL, idle.Transport, idle.Channels, idle.Prefix
	c.Settle, c.SetupConcurrency, c.Logger = idle.Settle, idle.SetupConcurrency, idle.Logger
	if c.Tick == 0 {
		c.Tick = DefaultStormTick
	}
	if c.Wait == 0 {
		c.Wait = DefaultStormWait
	}
	if c.Drain == 0 {
		c.Drain = DefaultStormDrain
	}
	if c.ServerOutput == nil {
		c.ServerOutput = io.Discard
	}
	return nil
}

// StormReport is the outcome of RunStorm.
type StormReport struct {
	Config StormConfig `json:"config"`
	// Setup is how long setting up every session took.
	Setup time.Duration `json:"setup_ns"`
	// Restart is how long the new server took to accept connections,
	// from its start.
	Restart time.Duration `json:"restart_ns"`
	// Recovered counts the sessions that received a message the new
	// server delivered; Recovery holds the times, from the new server's
	// start, at which the first 50%, 90%, 99% and 100% of the sessions had
	// (zero when not reached within Wait).
	Recovered   int              `json:"recovered"`
	Recovery50  time.Duration    `json:"recovery_p50_ns"`
	Recovery90  time.Duration    `json:"recovery_p90_ns"`
	Recovery99  time.Duration    `json:"recovery_p99_ns"`
	Recovery100 time.Duration    `json:"recovery_p100_ns"`
	FirstBack   time.Duration    `json:"first_back_ns"`
	Histogram   []RecoveryBucket `json:"histogram"`
	// Rehandshakes counts the clients' re-handshakes; the rest count what
	// the clients logged while they recovered by themselves: failed
	// connects, failed handshakes, handshakes the server refused with an
	// error (by error), and failed re-subscriptions.
	Rehandshakes     int64            `json:"rehandshakes"`
	ConnectFailures  int64            `json:"connect_failures"`
	HandshakeFailed  int64            `json:"handshake_failures"`
	HandshakeRefused map[string]int64 `json:"handshake_refused,omitempty"`
	ResubscribeFails int64            `json:"resubscribe_failures"`
	// StillConnected counts sessions connected at the end.
	StillConnected int `json:"still_connected"`
	// RSS of the server: the first one steady with every session, the
	// second one Settle after every session recovered (or Wait ended).
	RSSBefore int64 `json:"rss_before_bytes"`
	RSSAfter  int64 `json:"rss_after_bytes"`
	// FileLimit is this process's limit of open files during the run.
	FileLimit uint64 `json:"file_limit"`
	Deliveries
}

// Deliveries is the account of the storm's messages: what the server
// acknowledged to the publisher, and what each session received of the
// acknowledged messages of its channel.
type Deliveries struct {
	// Published counts the publishes; Acknowledged those the server
	// acknowledged (the others failed while the server was down, or their
	// outcome is unknown: they may be delivered or not).
	Published    int64 `json:"published"`
	Acknowledged int64 `json:"acknowledged"`
	// Expected counts the acknowledged messages times the sessions of
	// their channel; Delivered the deliveries of acknowledged messages,
	// once each; Lost what was expected and not delivered, in
	// LosingSessions sessions; Unacknowledged the deliveries of messages
	// whose publish was not acknowledged.
	Expected       int64 `json:"expected"`
	Delivered      int64 `json:"delivered"`
	Lost           int64 `json:"lost"`
	LosingSessions int   `json:"losing_sessions"`
	Unacknowledged int64 `json:"unacknowledged_delivered"`
	// Duplicated counts messages a session received again; OutOfOrder
	// those it received after a later one of its channel.
	Duplicated int64 `json:"duplicated"`
	OutOfOrder int64 `json:"out_of_order"`
	// ResumeGranted counts the sessions that used the resume extension at
	// the end, ResumeGaps the resumes the server said were incomplete.
	ResumeGranted int   `json:"resume_granted,omitempty"`
	ResumeGaps    int64 `json:"resume_gaps,omitempty"`
}

// RecoveryBucket is how many sessions received again within one second
// after the server's start.
type RecoveryBucket struct {
	Second   int `json:"second"`
	Sessions int `json:"sessions"`
}

// serverProcess is the server under test, run by this process.
type serverProcess struct {
	cfg  *StormConfig
	cmd  *exec.Cmd
	done chan error
}

func startServer(ctx context.Context, cfg *StormConfig) (*serverProcess, time.Duration, error) {
	cmd := exec.Command(cfg.ServerCmd[0], cfg.ServerCmd[1:]...)
	cmd.Stdout, cmd.Stderr = cfg.ServerOutput, cfg.ServerOutput
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("server: %w", err)
	}
	p := &serverProcess{cfg: cfg, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	u, _ := url.Parse(cfg.URL)
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return p, time.Since(start), nil
		}
		select {
		case err := <-p.done:
			return nil, 0, fmt.Errorf("server exited: %v", err)
		case <-ctx.Done():
			p.kill()
			return nil, 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, 0, fmt.Errorf("server: %s not accepting after 30s", addr)
		}
	}
}

// kill ends the server at once (SIGKILL) and waits for it.
func (p *serverProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop ends the server with SIGTERM, then SIGKILL after 10 s.
func (p *serverProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// clientEvents counts what the clients log while they recover.
type clientEvents struct {
	connectFailed, handshakeFailed, resubscribeFailed atomic.Int64
	mu                                                sync.Mutex
	refused                                           map[string]int64
}

func (e *clientEvents) Enabled(context.Context, slog.Level) bool { return true }
func (e *clientEvents) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *clientEvents) WithGroup(string) slog.Handler            { return e }
func (e *clientEvents) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "bayeux client: connect failed":
		e.connectFailed.Add(1)
	case "bayeux client: re-subscribe failed":
		e.resubscribeFailed.Add(1)
	case "bayeux client: handshake failed":
		e.handshakeFailed.Add(1)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "err" {
				return true
			}
			if err, ok := a.Value.Any().(error); ok {
				var be *bayeux.Error
				if errors.As(err, &be) {
					e.mu.Lock()
					e.refused[be.Error()]++
					e.mu.Unlock()
				}
			}
			return false
		})
	}
	return nil
}

// sessionLog is what one session received: the sequence numbers (of its
// channel's publishes) as a bitset, the highest, and the duplicates and
// late ones. Its handler runs on one goroutine; the report reads it under
// mu.
type sessionLog struct {
	mu       sync.Mutex
	got      []uint64
	max      int64
	dup, ooo int64
}

func (l *sessionLog) record(seq int64) {
	if seq <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := int(seq / 64)
	if w >= len(l.got) {
		l.got = append(l.got, make([]uint64, w+1-len(l.got))...)
	}
	bit := uint64(1) << (seq % 64)
	switch {
	case l.got[w]&bit != 0:
		l.dup++
		return
	case seq < l.max:
		l.ooo++
	default:
		l.max = seq
	}
	l.got[w] |= bit
}

func (l *sessionLog) has(seq int64) bool {
	w := int(seq / 64)
	return w < len(l.got) && l.got[w]&(1<<(seq%64)) != 0
}

// channelLog is what was published on one channel: the sequence numbers
// the server acknowledged, as a bitset.
type channelLog struct {
	mu    sync.Mutex
	next  int64 // the last sequence number published
	acked []uint64
}

func (l *channelLog) ack(seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := int(seq / 64)
	if w >= len(l.acked) {
		l.acked = append(l.acked, make([]uint64, w+1-len(l.acked))...)
	}
	l.acked[w] |= 1 << (seq % 64)
}

// account counts the deliveries of the acknowledged messages: session i
// is subscribed to channel i mod len(channels).
func account(channels []channelLog, sessions []sessionLog) Deliveries {
	var d Deliveries
	for c := range channels {
		ch := &channels[c]
		ch.mu.Lock()
		d.Published += ch.next
		for _, w := range ch.acked {
			d.Acknowledged += int64(bits.OnesCount64(w))
		}
		ch.mu.Unlock()
	}
	for i := range sessions {
		s, ch := &sessions[i], &channels[i%len(channels)]
		s.mu.Lock()
		ch.mu.Lock()
		var lost int64
		for w := range max(len(ch.acked), len(s.got)) {
			var a, g uint64
			if w < len(ch.acked) {
				a = ch.acked[w]
			}
			if w < len(s.got) {
				g = s.got[w]
			}
			d.Expected += int64(bits.OnesCount64(a))
			d.Delivered += int64(bits.OnesCount64(a & g))
			lost += int64(bits.OnesCount64(a &^ g))
			d.Unacknowledged += int64(bits.OnesCount64(g &^ a))
		}
		ch.mu.Unlock()
		d.Lost += lost
		if lost > 0 {
			d.LosingSessions++
		}
		d.Duplicated += s.dup
		d.OutOfOrder += s.ooo
		s.mu.Unlock()
	}
	return d
}

// complete reports whether every session received every acknowledged
// message of its channel.
func complete(channels []channelLog, sessions []sessionLog) bool {
	return account(channels, sessions).Lost == 0
}

// RunStorm starts the server with cfg.ServerCmd, sets up cfg.Sessions
// sessions and one publishing session that publishes on every channel each
// cfg.Tick, reads the server's RSS, kills the server, starts it again and
// measures when each session receives again: the clients re-handshake and
// re-subscribe by themselves, as their server's advice and their backoff
// say. It stops the server and disconnects the sessions before returning.
func RunStorm(ctx context.Context, cfg StormConfig) (*StormReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limit, err := raiseFileLimitFor(cfg.Transport, false, cfg.Sessions+1)
	if err != nil {
		return nil, err
	}
	rep := &StormReport{Config: cfg, FileLimit: limit}
	srv, _, err := startServer(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer func() { srv.stop() }()

	events := &clientEvents{refused: map[string]int64{}}
	b := &bench{cfg: Config{URL: cfg.URL, Transport: cfg.Transport, Subscribers: cfg.Sessions, Publishers: 1, Window: 64, SetupConcurrency: cfg.SetupConcurrency, Logger: slog.New(events)}, log: cfg.Logger}
	opts := b.clientOptions()
	subOpts := slices.Clip(opts)
	if cfg.Transport == bayeux.TransportWebSocket {
		subOpts = append(subOpts, client.WithDialer(lightDialer()))
	}
	subOpts = append(subOpts, client.WithInlineDispatch())
	if cfg.Resume {
		subOpts = append(subOpts, client.WithResume())
	}

	// back[i] is when session i first received a message published after
	// the kill (unix nanos, 0 before).
	back := make([]atomic.Int64, cfg.Sessions)
	logs := make([]sessionLog, cfg.Sessions)
	channels := make([]channelLog, cfg.Channels)
	var killedAt atomic.Int64
	killedAt.Store(1 << 62)
	clients := make([]*client.Client, cfg.Sessions, cfg.Sessions+1)
	defer func() { b.closeClients(clients) }()
	start := time.Now()
	err = setupSessions(ctx, cfg.URL, cfg.SetupConcurrency, subOpts, clients,
		func(i int) string { return fmt.Sprintf("%s/%d", cfg.Prefix, i%cfg.Channels) },
		func(i int) client.Handler {
			return func(m *bayeux.Message) {
				seq, _, ts, ok := parsePayload(m.Data)
				if !ok {
					return
				}
				logs[i].record(seq)
				if ts > killedAt.Load() && back[i].Load() == 0 {
					back[i].CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		})
	if err != nil {
		return nil, err
	}
	pub := client.New(cfg.URL, opts...)
	clients = append(clients, pub)
	if err := pub.Handshake(ctx); err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	rep.Setup = time.Since(start)
	cfg.Logger.Info("sessions ready", "sessions", cfg.Sessions, "took", rep.Setup)
	if cfg.Resume {
		for i, c := range clients[:cfg.Sessions] {
			if !c.ResumeGranted() {
				return nil, fmt.Errorf("session %d: the server did not grant the resume extension (it needs a history: cometgen serve --nats … --nats-history …)", i)
			}
		}
	}

	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	published := make(chan struct{})
	go func() {
		defer close(published)
		publishTicks(pubCtx, pub, &cfg, channels)
	}()

	if !sleep(ctx, cfg.Settle) {
		return nil, ctx.Err()
	}
	if rep.RSSBefore, err = ProcessRSS(srv.cmd.Process.Pid); err != nil {
		return nil, err
	}
	rehandshakes0 := b.rehandshakes.Load()
	events.connectFailed.Store(0)

	cfg.Logger.Info("killing the server", "pid", srv.cmd.Process.Pid)
	killedAt.Store(time.Now().UnixNano())
	srv.kill()
	if !sleep(ctx, cfg.Down) {
		return nil, ctx.Err()
	}
	restarted := time.Now()
	if srv, rep.Restart, err = startServer(ctx, &cfg); err != nil {
		return nil, err
	}
	cfg.Logger.Info("server restarted", "pid", srv.cmd.Process.Pid, "accepting after", rep.Restart)

	deadline := time.Now().Add(cfg.Wait)
	for time.Now().Before(deadline) && countBack(back) < cfg.Sessions {
		if !sleep(ctx, 50*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	recoveryFigures(rep, back, restarted)
	rep.Rehandshakes = b.rehandshakes.Load() - rehandshakes0
	rep.ConnectFailures = events.connectFailed.Load()
	rep.HandshakeFailed = events.handshakeFailed.Load()
	rep.ResubscribeFails = events.resubscribeFailed.Load()
	events.mu.Lock()
	rep.HandshakeRefused = maps.Clone(events.refused)
	events.mu.Unlock()
	cfg.Logger.Info("recovered", "sessions", rep.Recovered, "all after", rep.Recovery100)

	if !sleep(ctx, cfg.Settle) {
		return nil, ctx.Err()
	}
	if rep.RSSAfter, err = ProcessRSS(srv.cmd.Process.Pid); err != nil {
		return nil, err
	}
	// The last messages: publishing stops, every publish gets its outcome,
	// and the sessions get what they are due.
	stopPub()
	<-published
	deadline = time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && !complete(channels, logs) {
		if !sleep(ctx, 50*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	rep.Deliveries = account(channels, logs)
	for _, c := range clients[:cfg.Sessions] {
		if c.State() == client.StateConnected {
			rep.StillConnected++
		}
		if c.ResumeGranted() {
			rep.ResumeGranted++
		}
		rep.ResumeGaps += c.ResumeGaps()
	}
	return rep, nil
}

func countBack(back []atomic.Int64) int {
	n := 0
	for i := range back {
		if back[i].Load() != 0 {
			n++
		}
	}
	return n
}

// recoveryFigures fills in the recovery times from back.
func recoveryFigures(rep *StormReport, back []atomic.Int64, restarted time.Time) {
	var times []time.Duration
	for i := range back {
		if t := back[i].Load(); t != 0 {
			times = append(times, max(time.Duration(t-restarted.UnixNano()), 0))
		}
	}
	slices.Sort(times)
	rep.Recovered = len(times)
	n := len(back)
	at := func(p float64) time.Duration {
		k := (int(p*float64(n)) + 99) / 100 // sessions needed, rounded up
		if k < 1 || k > len(times) {
			return 0
		}
		return times[k-1]
	}
	rep.Recovery50, rep.Recovery90, rep.Recovery99, rep.Recovery100 = at(50), at(90), at(99), at(100)
	if len(times) > 0 {
		rep.FirstBack = times[0]
	}
	for _, t := range times {
		s := int(t / time.Second)
		if l := len(rep.Histogram); l == 0 || rep.Histogram[l-1].Second != s {
			rep.Histogram = append(rep.Histogram, RecoveryBucket{Second: s})
		}
		rep.Histogram[len(rep.Histogram)-1].Sessions++
	}
}

// publishTicks publishes one message on each channel every cfg.Tick until
// ctx ends, numbering each channel's messages from 1, and records in
// channels which the server acknowledged; failures (while the server is
// down) are left out. It returns once every publish has its outcome.
func publishTicks(ctx context.Context, pub *client.Client, cfg *StormConfig, channels []channelLog) {
	t := time.NewTicker(cfg.Tick)
	defer t.Stop()
	var buf []byte
	window := make(chan struct{}, 256)
	defer func() {
		for range cap(window) { // the outcomes still due
			window <- struct{}{}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for c := range channels {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			ch := &channels[c]
			ch.mu.Lock()
			ch.next++
			seq := ch.next
			ch.mu.Unlock()
			buf = appendPayload(buf[:0], seq, c, time.Now().UnixNano(), 0)
			err := pub.PublishAsync(ctx, fmt.Sprintf("%s/%d", cfg.Prefix, c), json.RawMessage(buf), func(err error) {
				if err == nil {
					ch.ack(seq)
				}
				<-window
			})
			if err != nil {
				<-window
			}
		}
	}
}

// WriteText writes the report for people.
func (r *StormReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c := r.Config
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	at := func(d time.Duration) string {
		if d == 0 {
			return "not reached"
		}
		return round(d).String()
	}
	hist := make([]string, 0, len(r.Histogram))
	for _, h := range r.Histogram {
		hist = append(hist, fmt.Sprintf("%ds:%d", h.Second, h.Sessions))
	}
	refused := make([]string, 0, len(r.HandshakeRefused))
	for k, v := range r.HandshakeRefused {
		refused = append(refused, fmt.Sprintf("%s ×%d", k, v))
	}
	slices.Sort(refused)
	lines := []string{
		fmt.Sprintf("target\t%s (%s), server %s", c.URL, c.Transport, strings.Join(c.ServerCmd, " ")),
		fmt.Sprintf("sessions\t%d on %d channels %s/N, set up in %s; a publish on every channel each %s", c.Sessions, c.Channels, c.Prefix, round(r.Setup), c.Tick),
		fmt.Sprintf("restart\tkilled (SIGKILL), down %s, accepting %s after its start", c.Down, round(r.Restart)),
		fmt.Sprintf("receiving again\t%d of %d; first %s, 50%% %s, 90%% %s, 99%% %s, 100%% %s (from the new server's start)", r.Recovered, c.Sessions, at(r.FirstBack), at(r.Recovery50), at(r.Recovery90), at(r.Recovery99), at(r.Recovery100)),
		fmt.Sprintf("per second\t%s", strings.Join(hist, " ")),
		fmt.Sprintf("clients\t%d re-handshakes, %d failed connects, %d failed handshakes (refused: %s), %d failed re-subscriptions; %d connected at the end", r.Rehandshakes, r.ConnectFailures, r.HandshakeFailed, strings.Join(refused, ", "), r.ResubscribeFails, r.StillConnected),
		fmt.Sprintf("server RSS\t%s before, %s after (%s later)", mib(r.RSSBefore), mib(r.RSSAfter), c.Settle),
		fmt.Sprintf("messages\t%d published, %d acknowledged; %d deliveries of them due, %d made, %d lost (in %d sessions), %d duplicated, %d out of order; %d deliveries of unacknowledged ones", r.Published, r.Acknowledged, r.Expected, r.Delivered, r.Lost, r.LosingSessions, r.Duplicated, r.OutOfOrder, r.Unacknowledged),
		fmt.Sprintf("file limit\t%d", r.FileLimit),
	}
	if c.Resume {
		lines = append(lines, fmt.Sprintf("resume\t%d sessions with the extension at the end, %d incomplete resumes", r.ResumeGranted, r.ResumeGaps))
	}
	return writeLines(tw, lines)
}

// WriteJSON writes the report as JSON, durations in nanoseconds.
func (r *StormReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// sleep waits for d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
