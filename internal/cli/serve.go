package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/internal/loadtest"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/admin"
	"github.com/cometgen/cometgen/runtime/ext"
	"github.com/cometgen/cometgen/runtime/natsbroker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	addr    string
	path    string
	opts    runtime.Options
	origins []string
	// clientIPHeader names the header a trusted reverse proxy puts the
	// client's address in.
	clientIPHeader string
	logLevel       string
	logFormat      string
	shutdownFor    time.Duration
	debugAddr      string
	// metrics serves /metrics on the main address too.
	metrics   bool
	timesync  bool
	timestamp bool
	spec      specFlags
	nats      natsFlags
	conn      connFlags
}

// connFlags bound connections: their number, their reads, their idleness,
// and their encryption.
type connFlags struct {
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	parkAfter         time.Duration
	maxConnections    int
	tlsCert, tlsKey   string
}

// natsFlags configure clustering over NATS.
type natsFlags struct {
	url     string
	cluster string
	nodeID  string
	history time.Duration
	timeout time.Duration
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Bayeux server (an open relay when no spec is given)",
		Long: `Serve runs a Bayeux 1.0 server that the CometD and Faye clients accept, over
websocket, long-polling and callback-polling. Without a spec it is an open
relay: any client may subscribe and publish on any broadcast channel. With
--spec it is a gateway that enforces the spec: every message is validated
against its channel's schema, the subscribe and publish rules apply,
handshakes carry JWTs your backend issued (HS256 secret from
$COMETGEN_JWT_SECRET, or RS256 with --jwt-public-key), the declared filters
run, and your backend publishes with POST /publish (key from
$COMETGEN_PUBLISH_KEY).

It prints one line with the URL when it is ready and stops cleanly on
SIGINT or SIGTERM.`,
		Example: `  cometgen serve
  cometgen serve --addr 127.0.0.1:9000 --path /bayeux --timeout 30s
  COMETGEN_JWT_SECRET=... COMETGEN_PUBLISH_KEY=... cometgen serve --spec cometgen.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fl.StringVar(&f.path, "path", "/cometd", "URL path of the Bayeux endpoint")
	fl.DurationVar(&f.opts.Timeout, "timeout", runtime.DefaultTimeout, "how long a /meta/connect is held")
	fl.DurationVar(&f.opts.MaxInterval, "max-interval", runtime.DefaultMaxInterval, "how long a session outlives its last /meta/connect")
	fl.Int64Var(&f.opts.MaxMessageSize, "max-message-size", runtime.DefaultMaxMessageSize, "largest request body or websocket message, in bytes")
	fl.IntVar(&f.opts.MaxQueue, "max-queue", runtime.DefaultMaxQueue, "messages that may wait for one session before it is disconnected as a slow consumer")
	fl.IntVar(&f.opts.MaxSessions, "max-sessions", runtime.DefaultMaxSessions, "sessions alive at once")
	fl.IntVar(&f.opts.MaxSessionsPerClient, "max-sessions-per-client", runtime.DefaultMaxSessionsPerClient, "sessions of one client address alive at once (-1: no cap; loopback and private addresses are not counted unless --client-ip-header names where the proxy puts the client's)")
	fl.StringVar(&f.clientIPHeader, "client-ip-header", "", "behind a reverse proxy: the header it appends the client's address to (X-Forwarded-For, X-Real-IP), trusted for --max-sessions-per-client; never set it without a proxy that always sets it")
	fl.IntVar(&f.opts.MaxMessagesPerRequest, "max-messages-per-request", runtime.DefaultMaxMessagesPerRequest, "messages in one request body or websocket message (more: HTTP 413, websocket close 1009)")
	fl.IntVar(&f.opts.MaxSubscriptionsPerSession, "max-subscriptions", runtime.DefaultMaxSubscriptions, "channels one session may be subscribed to at once")
	fl.IntVar(&f.opts.MaxChannels, "max-channels", runtime.DefaultMaxChannels, "channels the server holds at once; a subscribe creating one more is refused")
	fl.BoolVar(&f.opts.BrowserCookieSecure, "cookie-secure", false, "mark the BAYEUX_BROWSER cookie Secure on every request (behind a proxy that terminates TLS; it is Secure over TLS anyway)")
	fl.StringSliceVar(&f.opts.Transports, "transports", []string{"websocket", "long-polling", "callback-polling"}, "allowed transports, in order of preference")
	fl.StringSliceVar(&f.origins, "allow-origin", nil, "origins whose pages may use the server cross-origin, over every transport, callback-polling too (repeatable; * for any)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text (logfmt) or json, one record a line")
	fl.BoolVar(&f.timesync, "timesync", true, "answer the CometD client's timesync extension")
	fl.BoolVar(&f.timestamp, "timestamp", false, "stamp every outgoing message with a timestamp field")
	fl.BoolVar(&f.opts.DisableAck, "no-ack", false, "refuse the ack extension (guaranteed delivery across reconnects)")
	fl.StringVar(&f.debugAddr, "debug-addr", "", "if set, serve the admin page (/admin/), Prometheus metrics (/metrics), pprof and the server's counters (/debug/bayeux) on this private address")
	fl.BoolVar(&f.metrics, "metrics", false, "serve Prometheus metrics at /metrics on --addr too (they are always on --debug-addr)")
	f.spec.register(fl)
	fl.StringVar(&f.nats.url, "nats", "", "cluster with the other servers given the same NATS URL (nats://host:4222); /healthz reports 503 while NATS is lost")
	fl.StringVar(&f.nats.cluster, "nats-cluster", natsbroker.DefaultCluster, "name of the cluster on NATS (prefix of its subjects)")
	fl.StringVar(&f.nats.nodeID, "node-id", "", "this node's id in the cluster (default: random)")
	fl.DurationVar(&f.nats.history, "nats-history", 0, "keep the cluster's broadcasts this long in a NATS JetStream stream, so that clients with the resume extension lose nothing when their node dies (needs --nats and JetStream; default 0: off)")
	fl.DurationVar(&f.nats.timeout, "nats-timeout", natsbroker.DefaultRequestTimeout, "how long a request to NATS JetStream may take: a history append (its publisher waits) or a replay for a resuming client")
	fl.DurationVar(&f.shutdownFor, "shutdown-timeout", 5*time.Second, "how long a shutdown may take")
	fl.DurationVar(&f.conn.readHeaderTimeout, "read-header-timeout", runtime.DefaultReadHeaderTimeout, "how long a client may take to send a request's headers")
	fl.DurationVar(&f.opts.BodyReadTimeout, "body-read-timeout", runtime.DefaultBodyReadTimeout, "how long a client may take to send a long-polling request's body (held connects are not cut off)")
	fl.DurationVar(&f.conn.idleTimeout, "idle-timeout", runtime.DefaultIdleTimeout, "how long a kept-alive connection may wait for its next request")
	fl.DurationVar(&f.conn.parkAfter, "park-after", runtime.DefaultParkAfter, "park a long-polling /meta/connect held this long: its connection is taken from the HTTP server, which lets go of its handler goroutine and buffers, until it is answered (0: never)")
	fl.DurationVar(&f.opts.PingInterval, "ping-interval", runtime.DefaultPingInterval, "how often each websocket is pinged")
	fl.DurationVar(&f.opts.PingTimeout, "ping-timeout", runtime.DefaultPingTimeout, "how long past --ping-interval a websocket may stay silent before it is closed")
	fl.IntVar(&f.conn.maxConnections, "max-connections", runtime.DefaultMaxConnections(), "connections open at once; more are refused (0: no limit; the default is nine tenths of the open-file limit)")
	fl.StringVar(&f.conn.tlsCert, "tls-cert", "", "serve HTTPS and secure websockets with this PEM certificate (chain) file; needs --tls-key")
	fl.StringVar(&f.conn.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	return cmd
}

func runServe(ctx context.Context, cmd *cobra.Command, f *serveFlags) error {
	if !strings.HasPrefix(f.path, "/") {
		return fmt.Errorf("--path %q: must start with /", f.path)
	}
	for _, t := range f.opts.Transports {
		switch t {
		case "websocket", "long-polling", "callback-polling":
		default:
			return fmt.Errorf("--transports: unknown transport %q (want websocket, long-polling or callback-polling)", t)
		}
	}
	if err := f.spec.check(); err != nil {
		return err
	}
	tlsConfig, err := f.conn.tls()
	if err != nil {
		return err
	}
	if f.conn.parkAfter < 0 {
		return fmt.Errorf("--park-after %v: must not be negative", f.conn.parkAfter)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	f.opts.AllowedOrigins = f.origins
	if f.clientIPHeader != "" {
		f.opts.ClientAddress = runtime.ForwardedClientIP(f.clientIPHeader)
	}
	logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, level)
	if err != nil {
		return err
	}
	f.opts.Logger = logger
	var reg *prometheus.Registry
	if f.debugAddr != "" || f.metrics {
		reg = newRegistry()
		f.opts.Metrics = reg
	}
	if f.nats.history != 0 && f.nats.url == "" {
		return errors.New("--nats-history: needs --nats")
	}
	if f.nats.url != "" {
		if f.nats.timeout <= 0 {
			return fmt.Errorf("--nats-timeout %v: must be positive", f.nats.timeout)
		}
		b, err := natsbroker.Connect(ctx, natsbroker.Options{URL: f.nats.url, Cluster: f.nats.cluster, NodeID: f.nats.nodeID, History: f.nats.history, RequestTimeout: f.nats.timeout, Logger: f.opts.Logger})
		if err != nil {
			return fmt.Errorf("--nats: %w", err)
		}
		f.opts.Broker = b // closed by bayeux.Shutdown
	}

	ln, err := f.conn.listen(f.addr, f.opts.Logger)
	if err != nil {
		if f.opts.Broker != nil {
			f.opts.Broker.Close()
		}
		return err
	}
	bayeux := runtime.New(f.opts)
	if err := bayeux.Healthy(); errors.Is(err, natsbroker.ErrNoJetStream) {
		// Connected, yet NATS cannot keep a history: a configuration to
		// fix, not to wait out. (Other errors at start are retried at
		// each reconnection; /healthz says 503 meanwhile.)
		ln.Close()
		bayeux.Shutdown(context.Background())
		return fmt.Errorf("--nats: %w", err)
	}
	if f.timesync {
		ts := &ext.TimeSync{}
		bayeux.AddExtension(ts)
		bayeux.OnSessionRemoved(ts.Forget)
	}
	if f.timestamp {
		bayeux.AddExtension(ext.Timestamp{})
	}
	mux := http.NewServeMux()
	if f.spec.spec != "" {
		if err := f.spec.install(bayeux, mux, f.opts.Logger); err != nil {
			ln.Close()
			bayeux.Shutdown(context.Background())
			return err
		}
	}
	mux.Handle(f.path, bayeux)
	mux.Handle(strings.TrimSuffix(f.path, "/")+"/", bayeux)
	if f.metrics {
		mux.Handle("GET /metrics", metricsHandler(reg))
	}
	// For load balancers: 200, or 503 while a cluster node has lost NATS.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := bayeux.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	// No ReadTimeout: it would end held long polls. The body's read is
	// bounded by the Bayeux server (--body-read-timeout), websockets by
	// pings (--ping-interval, --ping-timeout).
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: f.conn.readHeaderTimeout,
		IdleTimeout:       f.conn.idleTimeout,
		TLSConfig:         tlsConfig,
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsConfig)
	}
	parker := runtime.ParkHeldConnects(hs, ln, f.conn.parkAfter)
	if reg != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cometgen_parked_connects",
			Help: "Long-polling /meta/connects parked now (held past --park-after, their connections out of the HTTP server until answered).",
		}, func() float64 { return float64(parker.Parked()) }))
	}

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(parker) }()
	debugLine := ""
	if f.debugAddr != "" {
		dln, err := net.Listen("tcp", f.debugAddr)
		if err != nil {
			ln.Close()
			bayeux.Shutdown(context.Background()) // a cluster node says goodbye
			return fmt.Errorf("listen on %s: %w", f.debugAddr, err)
		}
		adm := admin.New(bayeux, admin.Options{Logger: f.opts.Logger.With("server", "admin")})
		defer adm.Close()
		ds := &http.Server{Handler: debugHandler(bayeux, reg, adm), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ds.Serve(dln) }()
		defer ds.Close()
		// Printed after the line with the Bayeux URL, which tools wait for.
		debugLine = fmt.Sprintf("cometgen: debug endpoints (metrics, pprof) at http://%s/, the admin page at http://%s%s\n", dln.Addr(), dln.Addr(), admin.Path)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "cometgen: serving Bayeux at %s://%s%s\n", scheme, ln.Addr(), f.path)
	fmt.Fprint(cmd.OutOrStdout(), debugLine)
	if b, ok := f.opts.Broker.(*natsbroker.Broker); ok {
		fmt.Fprintf(cmd.OutOrStdout(), "cometgen: node %s of cluster %s on %s\n", b.NodeID(), f.nats.cluster, natsbroker.RedactURL(f.nats.url))
		if f.nats.history > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "cometgen: keeping %v of history for resuming clients\n", f.nats.history)
		}
	}

	select {
	case err := <-errc:
		bayeux.Shutdown(context.Background()) // a cluster node says goodbye
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	f.opts.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownFor)
	defer cancel()
	if err := bayeux.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// The parked connects are answered by now; their answers are written.
	if err := parker.Wait(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Held connects are answered by now; what is left are requests in
	// flight (microseconds) and connections with no request on them, which
	// net/http would wait 5 s for. Give the first a grace period, then close.
	gctx, gcancel := context.WithTimeout(sctx, time.Second)
	defer gcancel()
	if err := hs.Shutdown(gctx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		hs.Close()
	}
	return nil
}

// tls returns the TLS configuration of --tls-cert and --tls-key, or nil
// without them.
func (c *connFlags) tls() (*tls.Config, error) {
	if c.tlsCert == "" && c.tlsKey == "" {
		return nil, nil
	}
	if c.tlsCert == "" || c.tlsKey == "" {
		return nil, errors.New("--tls-cert and --tls-key: give both, or neither")
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	// HTTP/2 and HTTP/1.1, as http.Server.ListenAndServeTLS offers.
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// listen listens on addr, with at most --max-connections connections open
// at once; refusals are logged, at 1, 2, 4, 8… of them.
func (c *connFlags) listen(addr string, log *slog.Logger) (net.Listener, error) {
	if c.maxConnections < 0 {
		return nil, fmt.Errorf("--max-connections %d: must not be negative", c.maxConnections)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	var refused atomic.Int64
	return runtime.LimitListener(ln, c.maxConnections, func(from net.Addr) {
		if n := refused.Add(1); n&(n-1) == 0 {
			log.Warn("connection refused: --max-connections reached", "max", c.maxConnections, "from", from, "refused", n)
		}
	}), nil
}

// newLogger returns the logger of --log-format and --log-level.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// newRegistry returns a Prometheus registry with the Go runtime's and the
// process's collectors, for the Bayeux server's metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsHandler serves reg's metrics in Prometheus' formats.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// debugHandler serves the metrics of reg, net/http/pprof, the Bayeux
// server's counters and its admin page.
func debugHandler(srv *runtime.Server, reg *prometheus.Registry, adm *admin.Admin) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(admin.Path, adm)
	mux.Handle("GET /metrics", metricsHandler(reg))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/bayeux", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(srv.Stats())
	})
	// What cometgen bench --idle reads: the process's resident memory and
	// where the Go runtime's part of it goes. With ?gc=1, after a garbage
	// collection that returns the free memory to the operating system.
	mux.HandleFunc("/debug/memory", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			debug.FreeOSMemory()
		}
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		m := loadtest.Memory{
			HeapInuse:  int64(ms.HeapInuse),
			StackInuse: int64(ms.StackInuse),
			Goroutines: goruntime.NumGoroutine(),
			Sessions:   srv.Stats().Sessions,
		}
		m.RSS, _ = loadtest.ProcessRSS(os.Getpid())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m)
	})
	return mux
}
