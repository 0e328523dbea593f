// Package soak runs cometgen nodes for the fault and soak suite
// (soak_test.go): RunNode is one node of a two-node cluster on NATS, run in
// a process of its own so that the suite can kill it and read its memory.
package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/natsbroker"
)

// NodeConfig is what a node process is told by the suite.
type NodeConfig struct {
	Name    string // the node's id in the cluster
	NATSURL string
	// Log receives the node's warnings (and the broker's); nil: discarded.
	Log io.Writer
	// Ready is told the node's listening address once it serves.
	Ready func(addr string)
}

// Mem is what GET /soak/mem answers: the heap after two collections and
// the server's counters.
type Mem struct {
	HeapInuse  uint64
	HeapAlloc  uint64
	Goroutines int
	Stats      runtime.Stats
	Healthy    bool
}

// The timings of a node: short enough for faults to show and heal within
// seconds.
const (
	ConnectHold  = 3 * time.Second // runtime.Options.Timeout
	PingInterval = time.Second
	PingTimeout  = time.Second
	MaxInterval  = 2 * time.Second
	History      = 10 * time.Minute
)

// RunNode serves one cometgen node on a loopback port until ctx ends or
// the process gets SIGTERM, then shuts it down gracefully. A SIGKILL is the
// suite's node kill.
func RunNode(ctx context.Context, c NodeConfig) error {
	w := c.Log
	if w == nil {
		w = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", c.Name)
	b, err := natsbroker.Connect(ctx, natsbroker.Options{
		URL:              c.NATSURL,
		NodeID:           c.Name,
		History:          History,
		Heartbeat:        100 * time.Millisecond,
		PresenceTTL:      time.Second,
		ReconnectWait:    20 * time.Millisecond,
		MaxReconnectWait: 200 * time.Millisecond,
		PingInterval:     500 * time.Millisecond,
		Logger:           logger,
	})
	if err != nil {
		return err
	}
	srv := runtime.New(runtime.Options{
		Broker:       b,
		Logger:       logger,
		Timeout:      ConnectHold,
		MaxInterval:  MaxInterval,
		PingInterval: PingInterval,
		PingTimeout:  PingTimeout,
	})
	mux := http.NewServeMux()
	mux.Handle("/cometd", srv)
	mux.Handle("/cometd/", srv)
	mux.HandleFunc("GET /soak/mem", func(w http.ResponseWriter, _ *http.Request) {
		goruntime.GC()
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		json.NewEncoder(w).Encode(Mem{
			HeapInuse:  ms.HeapInuse,
			HeapAlloc:  ms.HeapAlloc,
			Goroutines: goruntime.NumGoroutine(),
			Stats:      srv.Stats(),
			Healthy:    srv.Healthy() == nil,
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: runtime.DefaultReadHeaderTimeout,
		IdleTimeout:       runtime.DefaultIdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go hs.Serve(ln)
	if c.Ready != nil {
		c.Ready(ln.Addr().String())
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	hs.Shutdown(sctx)
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// NodeMain runs a node from the environment of a process the suite
// started (COMETGEN_SOAK_NODE, COMETGEN_SOAK_NATS) and exits; it prints
// "listening <addr>" on stdout once the node serves.
func NodeMain() {
	err := RunNode(context.Background(), NodeConfig{
		Name:    os.Getenv("COMETGEN_SOAK_NODE"),
		NATSURL: os.Getenv("COMETGEN_SOAK_NATS"),
		Log:     os.Stderr,
		Ready:   func(addr string) { fmt.Printf("listening %s\n", addr) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak node:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
