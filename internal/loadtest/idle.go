package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/gorilla/websocket"
)

// Defaults of IdleConfig.
const (
	DefaultIdleChannels = 100
	DefaultIdlePrefix   = "/bench/idle"
	DefaultSettle       = 8 * time.Second
)

// IdleConfig describes a run that holds idle sessions and measures the
// server's memory per session.
type IdleConfig struct {
	// URL is the server's Bayeux endpoint (http:// or https://).
	URL string `json:"url"`
	// Transport is "websocket" (default) or "long-polling".
	Transport string `json:"transport"`
	// Sessions is the number of sessions to hold.
	Sessions int `json:"sessions"`
	// Channels is how many channels the sessions subscribe to, session i
	// to Prefix/(i mod Channels) (default 100).
	Channels int `json:"channels"`
	// Prefix names the channels (default /bench/idle).
	Prefix string `json:"prefix"`
	// Settle is how long to wait, once every session is set up, before
	// the memory is measured again (default 8s).
	Settle time.Duration `json:"settle_ns"`
	// ServerPID is the server's process id, whose VmRSS is read from
	// /proc/<pid>/status (the server must run on this machine).
	ServerPID int `json:"server_pid,omitempty"`
	// DebugAddr is the server's debug address (cometgen serve
	// --debug-addr, host:port or an http:// URL): its /debug/memory gives
	// RSS, heap, stacks and goroutines. One of ServerPID and DebugAddr is
	// required; with both, RSS is read from the pid.
	DebugAddr string `json:"debug_addr,omitempty"`
	// Collect makes the server collect its garbage and return its free
	// memory to the operating system after the second reading, through
	// its debug address (/debug/memory?gc=1), and reads its memory a third
	// time: what the sessions hold, without the garbage the server's
	// collector has not reclaimed yet. It needs DebugAddr.
	Collect bool `json:"collect,omitempty"`
	// NetHTTP: see Config.NetHTTP.
	NetHTTP bool `json:"net_http"`
	// HeldOnly: see Config.HeldOnly. The settling should outlast
	// HeldOnlyIdle.
	HeldOnly bool `json:"held_only,omitempty"`
	// SetupConcurrency bounds how many sessions are set up at once
	// (default 64).
	SetupConcurrency int `json:"setup_concurrency"`
	// SetupRate, when positive, starts at most that many sessions a
	// second, as clients arriving over time would: their held connects
	// then end at times spread over the server's hold time, instead of
	// all within the seconds the setup took (0: as fast as possible).
	SetupRate float64 `json:"setup_rate,omitempty"`
	// Logger receives progress (default: none).
	Logger *slog.Logger `json:"-"`
}

// Validate fills in defaults and checks the configuration.
func (c *IdleConfig) Validate() error {
	cfg := Config{URL: c.URL, Transport: c.Transport, Channel: DefaultChannel}
	if err := cfg.Validate(); err != nil {
		return err
	}
	c.URL, c.Transport = cfg.URL, cfg.Transport
	if c.Prefix == "" {
		c.Prefix = DefaultIdlePrefix
	}
	if !bayeux.ValidChannel(c.Prefix+"/0") || bayeux.IsWild(c.Prefix+"/0") || bayeux.KindOf(c.Prefix) != bayeux.Broadcast {
		return &ValidationError{"channel prefix", c.Prefix, errors.New("want a broadcast channel name without wildcards")}
	}
	switch {
	case c.Sessions <= 0:
		return &ValidationError{"idle sessions", c.Sessions, errors.New("out of range")}
	case c.Channels < 0:
		return &ValidationError{"channels", c.Channels, errors.New("out of range")}
	case c.Settle < 0:
		return &ValidationError{"settle", c.Settle, errors.New("out of range")}
	case c.SetupConcurrency < 0:
		return &ValidationError{"setup concurrency", c.SetupConcurrency, errors.New("out of range")}
	case c.SetupRate < 0:
		return &ValidationError{"setup rate", c.SetupRate, errors.New("out of range")}
	case c.ServerPID <= 0 && c.DebugAddr == "":
		return &ValidationError{"server", "", errors.New("give the server's pid or its debug address")}
	case c.Collect && c.DebugAddr == "":
		return &ValidationError{"collect", true, errors.New("needs the server's debug address")}
	}
	if c.Channels == 0 {
		c.Channels = DefaultIdleChannels
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.SetupConcurrency == 0 {
		c.SetupConcurrency = DefaultSetupConcurrency
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Memory is what the server's memory looked like at one moment. The
// fields other than RSS are known only from a debug address (zero
// otherwise).
type Memory struct {
	RSS        int64 `json:"rss_bytes"`
	HeapInuse  int64 `json:"heap_inuse_bytes,omitempty"`
	StackInuse int64 `json:"stack_inuse_bytes,omitempty"`
	Goroutines int   `json:"goroutines,omitempty"`
	Sessions   int   `json:"sessions,omitempty"`
}

// IdleReport is the outcome of RunIdle.
type IdleReport struct {
	Config IdleConfig `json:"config"`
	// Setup is how long setting up every session took.
	Setup time.Duration `json:"setup_ns"`
	// Connected counts the sessions still connected when the memory was
	// measured the second time.
	Connected int `json:"connected"`
	// Rehandshakes counts sessions the server dropped during the run.
	Rehandshakes  int64  `json:"rehandshakes"`
	Before, After Memory `json:"-"`
	// Collected is the third reading, after the server collected its
	// garbage (IdleConfig.Collect).
	Collected *Memory `json:"-"`
	// FileLimit is this process's limit of open files during the run.
	FileLimit uint64 `json:"file_limit"`
}

// PerSession returns the growth of the server's RSS divided by the
// sessions held, in bytes.
func (r *IdleReport) PerSession() float64 {
	return float64(r.After.RSS-r.Before.RSS) / float64(r.Config.Sessions)
}

// RunIdle holds cfg.Sessions sessions, each handshaken, subscribed to one
// of cfg.Channels channels and with its /meta/connect held, and measures
// the server's memory before they are set up and cfg.Settle after. It
// disconnects them before returning.
func RunIdle(ctx context.Context, cfg IdleConfig) (*IdleReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Each websocket session is one socket, a long-polling one two (the
	// held connect and the others' requests).
	limit, err := raiseFileLimitFor(cfg.Transport, cfg.HeldOnly, cfg.Sessions)
	if err != nil {
		return nil, err
	}
	probe := newMemoryProbe(cfg.ServerPID, cfg.DebugAddr)
	rep := &IdleReport{Config: cfg, FileLimit: limit}
	if rep.Before, err = probe.read(ctx, false); err != nil {
		return nil, err
	}
	b := &bench{cfg: Config{URL: cfg.URL, Transport: cfg.Transport, NetHTTP: cfg.NetHTTP, HeldOnly: cfg.HeldOnly, Subscribers: cfg.Sessions, SetupConcurrency: cfg.SetupConcurrency, Logger: cfg.Logger}, log: cfg.Logger}
	opts := b.clientOptions()
	if cfg.Transport == bayeux.TransportWebSocket {
		opts = append(opts, client.WithDialer(lightDialer()))
	}
	clients := make([]*client.Client, cfg.Sessions)
	defer b.closeClients(clients)
	start := time.Now()
	if err := setupIdle(ctx, cfg, opts, clients); err != nil {
		return nil, err
	}
	rep.Setup = time.Since(start)
	cfg.Logger.Info("sessions ready", "sessions", cfg.Sessions, "took", rep.Setup, "settling", cfg.Settle)
	settle := time.NewTimer(cfg.Settle)
	select {
	case <-settle.C:
	case <-ctx.Done():
		settle.Stop()
		return nil, ctx.Err()
	}
	if rep.After, err = probe.read(ctx, false); err != nil {
		return nil, err
	}
	if cfg.Collect {
		m, err := probe.read(ctx, true)
		if err != nil {
			return nil, err
		}
		rep.Collected = &m
	}
	for _, c := range clients {
		if c.State() == client.StateConnected {
			rep.Connected++
		}
	}
	rep.Rehandshakes = b.rehandshakes.Load()
	return rep, nil
}

// setupIdle handshakes and subscribes every client, a bounded number at a
// time.
func setupIdle(ctx context.Context, cfg IdleConfig, opts []client.Option, clients []*client.Client) error {
	ignore := func(*bayeux.Message) {}
	var pace *time.Ticker
	if cfg.SetupRate > 0 {
		pace = time.NewTicker(time.Duration(float64(time.Second) / cfg.SetupRate))
		defer pace.Stop()
	}
	return setupSessionsPaced(ctx, cfg.URL, cfg.SetupConcurrency, pace, opts, clients,
		func(i int) string { return fmt.Sprintf("%s/%d", cfg.Prefix, i%cfg.Channels) },
		func(int) client.Handler { return ignore })
}

// setupSessions creates clients[i] for every i, handshakes it and
// subscribes it to channel(i) with handler(i), at most concurrency at a
// time. It fails when any session could not be set up.
func setupSessions(ctx context.Context, url string, concurrency int, opts []client.Option, clients []*client.Client, channel func(int) string, handler func(int) client.Handler) error {
	return setupSessionsPaced(ctx, url, concurrency, nil, opts, clients, channel, handler)
}

// setupSessionsPaced is setupSessions starting a session at each tick of
// pace, if not nil.
func setupSessionsPaced(ctx context.Context, url string, concurrency int, pace *time.Ticker, opts []client.Option, clients []*client.Client, channel func(int) string, handler func(int) client.Handler) error {
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	for i := range clients {
		if pace != nil && i > 0 {
			select {
			case <-pace.C:
			case <-ctx.Done():
			}
		}
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c := client.New(url, opts...)
			clients[i] = c
			err := c.Handshake(ctx)
			if err == nil {
				_, err = c.Subscribe(ctx, channel(i), handler(i))
			}
			if err != nil {
				failed.Add(1)
				once.Do(func() { firstErr = fmt.Errorf("session %d: %w", i, err) })
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("setup: %w (and %d more)", firstErr, n-1)
	}
	return nil
}

// lightDialer is the websocket dialer of sessions that receive little: small
// buffers keep this process light when it holds tens of thousands of them.
func lightDialer() *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
	}
}

// closeClients disconnects clients, a bounded number at a time.
func (b *bench) closeClients(clients []*client.Client) {
	eachBounded(clients, b.cfg.SetupConcurrency, func(c *client.Client) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
}

// eachBounded calls f for every item that is not nil, on goroutines, at
// most concurrency at a time, and returns when all calls have.
func eachBounded[T comparable](items []T, concurrency int, f func(T)) {
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	var zero T
	for _, it := range items {
		if it == zero {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(it)
		})
	}
	wg.Wait()
}

// raiseFileLimitFor raises the file limit for sessions sessions of
// transport (long-polling holds two connections a session; with heldOnly,
// one, and two for a second while it is set up), with room to spare.
func raiseFileLimitFor(transport string, heldOnly bool, sessions int) (uint64, error) {
	n := uint64(sessions)
	if transport == bayeux.TransportLongPolling {
		if heldOnly {
			n += uint64(min(sessions, 4096))
		} else {
			n *= 2
		}
	}
	return RaiseFileLimit(n + 256)
}

// writeLines writes tab-separated report lines to tw and flushes it.
func writeLines(tw *tabwriter.Writer, lines []string) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(tw, l); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// RaiseFileLimit raises this process's soft limit of open files to at
// least want, as far as the hard limit allows, and returns the limit now in
// force. It fails when the hard limit is below want.
func RaiseFileLimit(want uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("file limit: %w", err)
	}
	if rl.Cur < want && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("file limit: raise to %d: %w", rl.Max, err)
		}
	}
	if rl.Cur < want {
		return rl.Cur, fmt.Errorf("file limit: %d open files needed, the limit is %d (ulimit -n)", want, rl.Cur)
	}
	return rl.Cur, nil
}

// memoryProbe reads a server's memory from /proc/<pid>/status, or from
// its debug address's /debug/memory, or both.
type memoryProbe struct {
	pid int
	url string // of /debug/memory, or ""
	hc  *http.Client
}

func newMemoryProbe(pid int, debugAddr string) *memoryProbe {
	p := &memoryProbe{pid: pid, hc: &http.Client{Timeout: 10 * time.Second}}
	if debugAddr != "" {
		if !strings.Contains(debugAddr, "://") {
			debugAddr = "http://" + debugAddr
		}
		u, err := url.Parse(debugAddr)
		if err == nil {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/debug/memory"
			p.url = u.String()
		} else {
			p.url = debugAddr // the request fails and says why
		}
	}
	return p
}

// read reads the server's memory; with collect, after a garbage collection
// (from the debug address, which must be known).
func (p *memoryProbe) read(ctx context.Context, collect bool) (Memory, error) {
	var m Memory
	if p.url != "" {
		u := p.url
		if collect {
			u += "?gc=1"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return m, fmt.Errorf("server memory: %w", err)
		}
		resp, err := p.hc.Do(req)
		if err != nil {
			return m, fmt.Errorf("server memory: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", p.url, resp.Status)
		}
		if err == nil {
			err = json.Unmarshal(body, &m)
		}
		if err != nil {
			return m, fmt.Errorf("server memory: %w", err)
		}
	}
	if p.pid > 0 {
		rss, err := ProcessRSS(p.pid)
		if err != nil {
			return m, err
		}
		m.RSS = rss
	}
	return m, nil
}

// ProcessRSS returns the resident set size of process pid, from the
// VmRSS line of /proc/<pid>/status.
func ProcessRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := strings.Fields(string(v))
		if len(fields) == 2 && fields[1] == "kB" {
			if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				return kb << 10, nil
			}
		}
		break
	}
	return 0, fmt.Errorf("server memory: no VmRSS in /proc/%d/status", pid)
}

// WriteText writes the report for people.
func (r *IdleReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c := r.Config
	n := float64(c.Sessions)
	kib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	per := func(a, b int64) string { return fmt.Sprintf("%.1f KiB", float64(b-a)/n/1024) }
	lines := []string{
		fmt.Sprintf("target\t%s (%s)", c.URL, c.Transport),
		fmt.Sprintf("sessions\t%d idle, on %d channels %s/N; %d connected at the end, %d re-handshakes", c.Sessions, c.Channels, c.Prefix, r.Connected, r.Rehandshakes),
		fmt.Sprintf("setup\t%s, then %s of settling", round(r.Setup), c.Settle),
		fmt.Sprintf("server RSS\t%s before, %s after", kib(r.Before.RSS), kib(r.After.RSS)),
		fmt.Sprintf("RSS per session\t%s", per(r.Before.RSS, r.After.RSS)),
	}
	if m := r.Collected; m != nil {
		lines = append(lines,
			fmt.Sprintf("after a collection\tRSS %s, %s per session; heap %s per session (in use)", kib(m.RSS), per(r.Before.RSS, m.RSS), per(r.Before.HeapInuse, m.HeapInuse)),
		)
	}
	if r.After.HeapInuse > 0 {
		lines = append(lines,
			fmt.Sprintf("heap per session\t%s (in use)", per(r.Before.HeapInuse, r.After.HeapInuse)),
			fmt.Sprintf("stacks per session\t%s", per(r.Before.StackInuse, r.After.StackInuse)),
			fmt.Sprintf("goroutines per session\t%.2f", float64(r.After.Goroutines-r.Before.Goroutines)/n),
			fmt.Sprintf("server sessions\t%d before, %d after", r.Before.Sessions, r.After.Sessions),
		)
	}
	lines = append(lines, fmt.Sprintf("file limit\t%d", r.FileLimit))
	return writeLines(tw, lines)
}

// WriteJSON writes the report as one JSON object.
func (r *IdleReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	var collected float64
	if r.Collected != nil {
		collected = float64(r.Collected.RSS-r.Before.RSS) / float64(r.Config.Sessions)
	}
	return enc.Encode(struct {
		*IdleReport
		Before                      Memory  `json:"before"`
		After                       Memory  `json:"after"`
		Collected                   *Memory `json:"collected,omitempty"`
		RSSPerSessionBytes          float64 `json:"rss_per_session_bytes"`
		HeapPerSessionBytes         float64 `json:"heap_per_session_bytes,omitempty"`
		CollectedRSSPerSessionBytes float64 `json:"collected_rss_per_session_bytes,omitempty"`
	}{r, r.Before, r.After, r.Collected, r.PerSession(), float64(r.After.HeapInuse-r.Before.HeapInuse) / float64(r.Config.Sessions), collected})
}
