// Command auction serves the auction house of examples/auction: the Bayeux
// endpoint /cometd with package house installed on the contract generated
// from cometgen.yaml, a web page at / on the generated typed JavaScript
// client (/channels.js), and the CometD JavaScript client at /js/cometd/
// from the directory given by --cometd-js (fill it with `npm install
// cometd`). With --bot it also runs a bidding bot, on the typed Go client,
// against itself.
//
//	go run ./examples/auction --addr 127.0.0.1:8080 --cometd-js node_modules/cometd --bot robot
package main

import (
	"context"
	_ "embed"
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

	"github.com/cometgen/cometgen/examples/auction/auction"
	"github.com/cometgen/cometgen/examples/auction/bidder"
	"github.com/cometgen/cometgen/examples/auction/house"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/client"
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
	addr     string
	cometdJS string
	duration time.Duration
	bot      string
	botMax   int64
	botDelay time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("auction", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.StringVar(&cfg.cometdJS, "cometd-js", "", "`directory` of the CometD JavaScript client (node_modules/cometd after npm install cometd), served at /js/cometd/")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Minute, "how long the first lot is on sale; each next one a minute more")
	fs.StringVar(&cfg.bot, "bot", "", "run a bidding bot with this `login` on every lot")
	fs.Int64Var(&cfg.botMax, "bot-max", 50_000, "the most the bot bids on a lot, in `cents`")
	fs.DurationVar(&cfg.botDelay, "bot-delay", 2*time.Second, "how long the bot waits before it answers a bid")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.duration <= 0 {
		return config{}, errors.New("--duration must be positive")
	}
	return cfg, nil
}

// lots are the lots on sale, closing from now+d on.
func lots(d time.Duration) []house.Lot {
	now := time.Now()
	return []house.Lot{
		{ID: "clock", Title: "A Black Forest cuckoo clock", Start: 5_000, Currency: auction.CurrencyEUR, Closes: now.Add(d)},
		{ID: "atlas", Title: "An atlas of 1886", Start: 12_000, Currency: auction.CurrencyUSD, Closes: now.Add(d + time.Minute)},
		{ID: "teapot", Title: "A silver teapot", Start: 8_000, Currency: auction.CurrencyEUR, Closes: now.Add(d + 2*time.Minute)},
	}
}

// newHandler returns the HTTP handler of the house on srv.
func newHandler(srv *runtime.Server, cometdJS string) http.Handler {
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
	if cometdJS != "" {
		mux.Handle("GET /js/cometd/", http.StripPrefix("/js/cometd/", http.FileServer(http.Dir(cometdJS))))
	} else {
		mux.HandleFunc("GET /js/cometd/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the CometD JavaScript client is not served: run npm install cometd and start the house with --cometd-js node_modules/cometd", http.StatusNotFound)
		})
	}
	return mux
}

// runBot bids as login on every lot until they close or ctx ends.
func runBot(ctx context.Context, url, login string, max int64, delay time.Duration, ids []string, log *slog.Logger) {
	// The bot sends the contract it was generated from: a server whose
	// contract has since changed in a way that breaks it says so.
	onChanged := func(ch client.ContractChange) {
		log.Warn("auction: the server's contract changed in a way that breaks the bot: regenerate it", "spec", ch.Spec, "breaking", ch.Breaking)
	}
	c := auction.NewClient(client.New(url, client.WithResume(),
		client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": login}}),
		client.WithContract(auction.ContractPrint().ContractExt(), onChanged)))
	if err := c.Handshake(ctx); err != nil {
		log.Error("auction: bot", "err", err)
		return
	}
	defer c.Disconnect(context.Background())
	done := make(chan struct{}, len(ids))
	for _, id := range ids {
		go func() {
			defer func() { done <- struct{}{} }()
			res, err := (&bidder.Bidder{C: c, User: login, Lot: id, Max: max, Step: 100, Delay: delay}).Run(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("auction: bot", "lot", id, "err", err)
				return
			}
			log.Info("auction: bot done", "lot", id, "winner", res.Winner, "cents", res.Cents, "bids", res.Bids)
		}()
	}
	for range ids {
		<-done
	}
}

const shutdownTimeout = 10 * time.Second

// run serves until ctx ends or the process is interrupted, and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "auction:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := runtime.New(runtime.Options{Logger: log})
	h, err := house.New(srv, lots(cfg.duration), log)
	if err != nil {
		fmt.Fprintln(stderr, "auction:", err)
		return 1
	}
	defer h.Stop()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintln(stderr, "auction:", err)
		srv.Shutdown(context.Background())
		return 1
	}
	hs := &http.Server{Handler: newHandler(srv, cfg.cometdJS), ReadHeaderTimeout: runtime.DefaultReadHeaderTimeout}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "auction: serving http://%s/\n", ln.Addr())
	if cfg.bot != "" {
		go runBot(ctx, "http://"+ln.Addr().String()+"/cometd", cfg.bot, cfg.botMax, cfg.botDelay, h.Lots(), log)
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintln(stderr, "auction:", err)
		srv.Shutdown(context.Background())
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	status := 0
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "auction:", err)
		status = 1
	}
	if err := hs.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "auction:", err)
		status = 1
	}
	return status
}
