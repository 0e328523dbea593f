// Command chat serves the chat example: the Bayeux endpoint /cometd with the
// chat service of package chat installed, a minimal web page at / on the
// typed client generated from cometgen.yaml (/channels.js), the server's
// counters at /stats, and the CometD JavaScript client at
// /js/cometd/ from a directory given by --cometd-js (fill it with
// `npm install cometd`; see README.md).
//
//	go run ./examples/chat --addr 127.0.0.1:8080 --cometd-js node_modules/cometd
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cometgen/cometgen/examples/chat/chat"
	"github.com/cometgen/cometgen/runtime"
)

//go:embed web/index.html
var indexHTML []byte

// channelsJS is the typed client cometgen generates from cometgen.yaml.
//
//go:embed web/channels.js
var channelsJS []byte

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	addr        string
	cometdJS    string
	noticeEvery time.Duration
	noticeText  string
}

// parseFlags parses the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.StringVar(&cfg.cometdJS, "cometd-js", "", "`directory` of the CometD JavaScript client (node_modules/cometd after npm install cometd), served at /js/cometd/")
	fs.DurationVar(&cfg.noticeEvery, "notice-every", 5*time.Minute, "period of the system notice on /system/notice; 0 disables it")
	fs.StringVar(&cfg.noticeText, "notice", chat.DefaultNoticeText, "text of the periodic system notice")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.cometdJS != "" {
		fi, err := os.Stat(cfg.cometdJS)
		if err != nil {
			return config{}, fmt.Errorf("--cometd-js: %w", err)
		}
		if !fi.IsDir() {
			return config{}, fmt.Errorf("--cometd-js: %s is not a directory", cfg.cometdJS)
		}
	}
	return cfg, nil
}

// app is the chat server: the Bayeux server, the chat service on it, and
// the HTTP handler serving both with the web page.
type app struct {
	srv     *runtime.Server
	chat    *chat.Chat
	handler http.Handler
}

func newApp(cfg config, log *slog.Logger) (*app, error) {
	srv := runtime.New(runtime.Options{Logger: log})
	c, err := chat.New(srv, chat.Options{
		NoticeEvery: cfg.noticeEvery,
		NoticeText:  cfg.noticeText,
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/cometd", srv)
	mux.Handle("/cometd/", srv)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	mux.HandleFunc("GET /channels.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(channelsJS)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(srv.Stats())
	})
	if cfg.cometdJS != "" {
		mux.Handle("GET /js/cometd/", http.StripPrefix("/js/cometd/", http.FileServer(http.Dir(cfg.cometdJS))))
	} else {
		mux.HandleFunc("GET /js/cometd/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the CometD JavaScript client is not served: run npm install cometd and start the chat with --cometd-js node_modules/cometd", http.StatusNotFound)
		})
	}
	return &app{srv: srv, chat: c, handler: mux}, nil
}

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

// run serves until ctx ends or the process is interrupted, and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := newApp(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		a.srv.Shutdown(context.Background())
		return 1
	}
	hs := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "chat: serving http://%s/\n", ln.Addr())

	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintln(stderr, "chat:", err)
		a.srv.Shutdown(context.Background())
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	status := 0
	// The Bayeux server first: the chat announces the shutdown (OnShutdown),
	// the held connects are answered; then the HTTP server, which waits for
	// those answers.
	if err := a.srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		status = 1
	}
	if err := hs.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		status = 1
	}
	return status
}
