package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/cometgen/cometgen/internal/loadtest"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newBenchCmd)
}

// defaultGCPercent is the bench's GOGC: its live heap is small (sessions,
// buffers) and it allocates per request, so a larger ratio trades a few tens
// of megabytes for fewer collections.
const defaultGCPercent = 400

func newBenchCmd() *cobra.Command {
	var cfg loadtest.Config
	var asJSON, verbose bool
	var cpuProfile string
	var gcPercent int
	var idle loadtest.IdleConfig
	var broadcast loadtest.BroadcastConfig
	var storm loadtest.StormConfig
	var floor loadtest.FloorConfig
	var floorWriter string
	var serverCmd string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a Bayeux server end to end",
		Long: `Bench loads a Bayeux server (cometgen, CometD, Faye, ...) end to end: it opens
--subscribers sessions subscribed to --channel and --publishers sessions that
publish sequenced, timestamped messages, then reports deliveries per second,
latency percentiles, lost, duplicated and out-of-order deliveries, and its own
CPU time. Publisher and subscribers run on this machine, so latencies compare
one clock.

Publishing lasts --duration, or until --messages were sent. With --rate 0 the
publishers send as fast as the server acknowledges, each keeping at most
--window publishes unacknowledged.

The bench process runs its garbage collector with --gc-percent (GOGC, default
400): a thousand sessions allocate briskly but keep little, and collecting
less often leaves more CPU to the server when both share a machine.

With --idle N it holds N sessions instead, each handshaken, subscribed to one
of --channels channels (--channel/0, --channel/1, ...) and with its
/meta/connect held, and reports the server's resident memory (RSS) per
session: measured before the sessions are set up and --settle after, from
/proc/<pid>/status of --server-pid (a server on this machine) or from
/debug/memory of --server-debug (cometgen serve --debug-addr, which also
tells heap, stacks and goroutines; with --server-gc it reads them a third
time after the server collected its garbage). A long-polling session keeps
two connections, as real clients do: its held connect's and one for its
other requests; with --held-only it keeps the first alone (the second is
closed once idle for a second), which measures a held long-poll by itself.
It raises its own limit of open files as far as the hard limit allows
(ulimit -Hn), in every mode.

With --broadcast N it sets up N subscribers of --channel (default
/bench/broadcast) and one publisher that sends --rate broadcasts a second
(default 10) for --duration, and reports per broadcast the time until its
last subscriber received it (p50, p90, p99, max over the broadcasts),
deliveries per second and lost deliveries.

The broadcast's websocket subscribers are the bench's own Bayeux sessions
(handshake, subscription, the /meta/connect cycle, answers to pings), read
by one event loop that naps 200µs between busy rounds, so that the bench
takes as little of a shared machine from the server as it can.

With --floor N there is no server: a second process of the bench's own
writes one message to each of N loopback TCP connections --rate times a
second (a non-blocking write per connection, from one goroutine per CPU)
and this one reads them as --broadcast does. Its latency to the last reader
is the floor the machine sets for --broadcast N: the kernel's work per
message, and nothing else.

With --storm N it runs the server itself: --server-cmd (a command line, split
on spaces, no shell) must serve --url. It sets up N sessions spread over
--channels channels, publishes on every channel each --tick, kills the server
(SIGKILL), starts it again after --down, and reports when 50%, 90%, 99% and
100% of the sessions received again (counted from the new server's start),
what the clients met while they re-handshook and re-subscribed by themselves,
the server's RSS before and --settle after, and what became of the messages:
each channel's are numbered, and once publishing stops (and --drain, 10s at
most, has let the last ones arrive) it counts, of those the server
acknowledged, the deliveries lost, duplicated and out of order. With
--resume the sessions use the resume extension: against a server with a
history (serve --nats … --nats-history …, its NATS kept up while the server
restarts) they are to lose nothing.`,
		Example: `  cometgen bench --url http://127.0.0.1:8080/cometd --subscribers 100 --duration 10s
  cometgen bench --transport long-polling --subscribers 1000 --rate 100 --json
  cometgen bench --idle 5000 --server-debug 127.0.0.1:6060
  cometgen bench --broadcast 15000 --rate 10 --duration 60s
  cometgen bench --floor 15000 --rate 10 --duration 60s
  cometgen bench --storm 10000 --url http://127.0.0.1:18910/cometd \
    --server-cmd "cometgen serve --addr 127.0.0.1:18910 --log-level warn"
  cometgen bench --storm 10000 --resume --url http://127.0.0.1:18910/cometd \
    --server-cmd "cometgen serve --addr 127.0.0.1:18910 --nats nats://127.0.0.1:4222 --nats-history 5m"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verbose {
				cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			// Every mode runs with the bench's GOGC and can be profiled.
			if gcPercent != 0 {
				defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				defer stop()
			}
			if cmd.Flags().Changed("idle") {
				return runIdle(cmd, idle, cfg, asJSON)
			}
			if cmd.Flags().Changed("floor") {
				floor.Rate, floor.Duration = cfg.Rate, cfg.Duration
				if floorWriter != "" {
					return loadtest.RunFloorWriter(cmd.Context(), floor, floorWriter, cmd.OutOrStdout())
				}
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				floor.WriterCmd = []string{exe, "bench", "--floor", strconv.Itoa(floor.Sockets),
					"--rate", strconv.FormatFloat(floor.Rate, 'g', -1, 64), "--duration", floor.Duration.String(), "--floor-writer"}
				rep, err := loadtest.RunFloor(cmd.Context(), floor)
				return writeReport(cmd, rep, err, asJSON)
			}
			if cmd.Flags().Changed("broadcast") {
				broadcast.URL, broadcast.Transport, broadcast.NetHTTP = cfg.URL, cfg.Transport, cfg.NetHTTP
				broadcast.Rate, broadcast.Duration, broadcast.PayloadSize, broadcast.Drain = cfg.Rate, cfg.Duration, cfg.PayloadSize, cfg.Drain
				broadcast.SetupConcurrency, broadcast.Logger = cfg.SetupConcurrency, cfg.Logger
				if cmd.Flags().Changed("channel") {
					broadcast.Channel = cfg.Channel
				}
				rep, err := loadtest.RunBroadcast(cmd.Context(), broadcast)
				return writeReport(cmd, rep, err, asJSON)
			}
			if cmd.Flags().Changed("storm") {
				storm.URL, storm.Transport, storm.Channels, storm.Settle = cfg.URL, cfg.Transport, idle.Channels, idle.Settle
				storm.SetupConcurrency, storm.Logger, storm.ServerCmd = cfg.SetupConcurrency, cfg.Logger, strings.Fields(serverCmd)
				if cmd.Flags().Changed("channel") {
					storm.Prefix = cfg.Channel
				}
				if cmd.Flags().Changed("drain") {
					storm.Drain = cfg.Drain
				}
				if verbose {
					storm.ServerOutput = cmd.ErrOrStderr()
				}
				rep, err := loadtest.RunStorm(cmd.Context(), storm)
				return writeReport(cmd, rep, err, asJSON)
			}
			if cfg.Subscribers == 0 {
				return fmt.Errorf("bench: --subscribers must be at least 1")
			}
			if cfg.Publishers == 0 {
				return fmt.Errorf("bench: --publishers must be at least 1")
			}
			if cfg.Window == 0 {
				return fmt.Errorf("bench: --window must be at least 1")
			}
			if cfg.Messages > 0 && !cmd.Flags().Changed("duration") {
				cfg.Duration = 0 // a count alone runs until it is reached
			}
			if cfg.Duration == 0 && cfg.Messages == 0 {
				return fmt.Errorf("bench: set --duration or --messages")
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			rep, err := loadtest.Run(cmd.Context(), cfg)
			if rep != nil {
				var werr error
				if asJSON {
					werr = rep.WriteJSON(cmd.OutOrStdout())
				} else {
					werr = rep.WriteText(cmd.OutOrStdout())
				}
				if err == nil {
					err = werr
				}
			}
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", loadtest.DefaultURL, "Bayeux endpoint of the server under test")
	f.StringSliceVar(&cfg.SubscriberURLs, "subscriber-url", nil, "endpoints the subscribers use, in turn (the nodes of a cluster; default --url)")
	f.StringVar(&cfg.Transport, "transport", "websocket", "transport of every session: websocket or long-polling")
	f.IntVar(&cfg.Subscribers, "subscribers", loadtest.DefaultSubscribers, "number of subscribing sessions")
	f.IntVar(&cfg.Publishers, "publishers", loadtest.DefaultPublishers, "number of publishing sessions")
	f.Float64Var(&cfg.Rate, "rate", 0, "total publishes per second (0: as fast as the server acknowledges)")
	f.IntVar(&cfg.Window, "window", loadtest.DefaultWindow, "most unacknowledged publishes per publisher")
	f.DurationVar(&cfg.Duration, "duration", loadtest.DefaultDuration, "how long to publish (with --messages: an optional upper bound)")
	f.Int64Var(&cfg.Messages, "messages", 0, "stop after this many publishes in total (0: no limit)")
	f.IntVar(&cfg.PayloadSize, "payload", loadtest.DefaultPayloadSize, "bytes of padding in each message's data")
	f.StringVar(&cfg.Channel, "channel", loadtest.DefaultChannel, "channel to publish and subscribe")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "publish this long before measuring")
	f.DurationVar(&cfg.Drain, "drain", loadtest.DefaultDrain, "how long to wait for in-flight deliveries after publishing (with --storm: default 10s)")
	f.BoolVar(&cfg.NetHTTP, "net-http", false, "long-polling through net/http's client instead of the leaner direct HTTP/1.1 one (https always uses net/http)")
	f.BoolVar(&cfg.HeldOnly, "held-only", false, "long-polling through net/http's client, which closes a connection idle for a second: a session keeps only the connection of its held connect (with --idle: the memory of a held long-poll alone)")
	f.IntVar(&cfg.SetupConcurrency, "setup-concurrency", loadtest.DefaultSetupConcurrency, "sessions set up at once")
	f.IntVar(&idle.Sessions, "idle", 0, "hold this many idle sessions and report the server's memory per session")
	f.IntVar(&idle.Channels, "channels", loadtest.DefaultIdleChannels, "with --idle: channels the sessions are spread over")
	f.DurationVar(&idle.Settle, "settle", loadtest.DefaultSettle, "with --idle: wait this long after setting the sessions up before measuring")
	f.Float64Var(&idle.SetupRate, "setup-rate", 0, "with --idle: start at most this many sessions a second, as clients arriving over time (0: as fast as --setup-concurrency allows)")
	f.IntVar(&idle.ServerPID, "server-pid", 0, "with --idle: the server's process id (its RSS is read from /proc)")
	f.StringVar(&idle.DebugAddr, "server-debug", "", "with --idle: the server's debug address (cometgen serve --debug-addr)")
	f.BoolVar(&idle.Collect, "server-gc", false, "with --idle and --server-debug: then make the server collect its garbage and return free memory to the system, and read its memory again")
	f.IntVar(&broadcast.Subscribers, "broadcast", 0, "broadcast mode: this many subscribers, one publisher at --rate (default 10/s); reports the latency to the last subscriber")
	f.IntVar(&storm.Sessions, "storm", 0, "storm mode: this many sessions, the server (--server-cmd) killed and started again")
	f.IntVar(&floor.Sockets, "floor", 0, "floor mode: no server; this many loopback TCP connections written to --rate times a second (default 10) by a process of the bench's own and read as --broadcast reads: what this machine allows a broadcast to that many subscribers")
	f.StringVar(&floorWriter, "floor-writer", "", "with --floor: be the writer, dialing this address (the bench starts it)")
	_ = f.MarkHidden("floor-writer")
	f.StringVar(&serverCmd, "server-cmd", "", "with --storm: the server's command line (split on spaces, no shell), serving --url")
	f.DurationVar(&storm.Down, "down", 0, "with --storm: how long the server stays dead")
	f.DurationVar(&storm.Tick, "tick", loadtest.DefaultStormTick, "with --storm: publish on every channel this often")
	f.DurationVar(&storm.Wait, "wait", loadtest.DefaultStormWait, "with --storm: wait at most this long for every session to receive again")
	f.BoolVar(&storm.Resume, "resume", false, "with --storm: the sessions use the resume extension, so that they lose nothing across the restart (the server needs a history: serve --nats … --nats-history …, NATS kept up)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	f.IntVar(&gcPercent, "gc-percent", defaultGCPercent, "GOGC of the bench process (0: keep the environment's GOGC; -1: off)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process to this file")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

// runIdle runs bench --idle: the flags shared with the load test come from
// cfg.
func runIdle(cmd *cobra.Command, idle loadtest.IdleConfig, cfg loadtest.Config, asJSON bool) error {
	idle.URL, idle.Transport, idle.NetHTTP, idle.HeldOnly = cfg.URL, cfg.Transport, cfg.NetHTTP, cfg.HeldOnly
	idle.SetupConcurrency, idle.Logger = cfg.SetupConcurrency, cfg.Logger
	if cmd.Flags().Changed("channel") {
		idle.Prefix = cfg.Channel
	}
	rep, err := loadtest.RunIdle(cmd.Context(), idle)
	return writeReport(cmd, rep, err, asJSON)
}

// report is what the modes' reports have in common.
type report interface {
	WriteText(io.Writer) error
	WriteJSON(io.Writer) error
}

// writeReport prints rep, when there is one, and returns the run's error.
func writeReport[R report](cmd *cobra.Command, rep R, err error, asJSON bool) error {
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if asJSON {
		return rep.WriteJSON(cmd.OutOrStdout())
	}
	return rep.WriteText(cmd.OutOrStdout())
}

// startCPUProfile starts profiling this process into path and returns the
// function that stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
