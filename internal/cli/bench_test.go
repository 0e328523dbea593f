package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// serverMainEnv makes this test binary run the cometgen command line given
// in its arguments instead of the tests: the server process of the storm
// test.
const serverMainEnv = "COMETGEN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(serverMainEnv) == "1" {
		cmd := newRootCmd()
		cmd.SetArgs(os.Args[1:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freeAddr returns a loopback address free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runBench runs cometgen bench with args and decodes its JSON report into
// rep.
func runBench(t *testing.T, rep any, args ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append(append([]string{"bench"}, args...), "--json"))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
}

// TestBenchBroadcast broadcasts to a few subscribers of cometgen serve.
func TestBenchBroadcast(t *testing.T) {
	url := startServe(t)
	var rep struct {
		Broadcasts, Complete int
		Expected, Delivered  int64
		Lost                 int64
		LastP99              int64   `json:"last_p99_ns"`
		PerSecond            float64 `json:"deliveries_per_second"`
	}
	runBench(t, &rep, "--url", url, "--broadcast", "40", "--rate", "20", "--duration", "500ms")
	if rep.Broadcasts != 10 || rep.Complete != 10 || rep.Expected != 400 || rep.Delivered != 400 || rep.Lost != 0 || rep.LastP99 <= 0 || rep.PerSecond <= 0 {
		t.Errorf("report: %+v", rep)
	}
}

// TestBenchStorm runs cometgen serve (this test binary, see TestMain) as
// the storm's server: the sessions come back by themselves after it is
// killed and started again.
func TestBenchStorm(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv(serverMainEnv, "1")
	var rep struct {
		Recovered      int
		Recovery100    int64 `json:"recovery_p100_ns"`
		Rehandshakes   int64
		StillConnected int   `json:"still_connected"`
		RSSBefore      int64 `json:"rss_before_bytes"`
		RSSAfter       int64 `json:"rss_after_bytes"`
		Acknowledged   int64
		Duplicated     int64
		OutOfOrder     int64 `json:"out_of_order"`
	}
	runBench(t, &rep, "--url", "http://"+addr+"/cometd", "--storm", "40", "--channels", "4", "--settle", "300ms",
		"--tick", "50ms", "--wait", "20s", "--server-cmd", os.Args[0]+" serve --addr "+addr+" --log-level error")
	if rep.Recovered != 40 || rep.Recovery100 <= 0 || rep.Rehandshakes < 40 || rep.StillConnected != 40 || rep.RSSBefore <= 0 || rep.RSSAfter <= 0 ||
		rep.Acknowledged == 0 || rep.Duplicated != 0 || rep.OutOfOrder != 0 {
		t.Errorf("report: %+v", rep)
	}
}

// TestBenchStormResume: with --resume, against a server that keeps a
// history on NATS (embedded here, kept up while the server restarts), the
// sessions lose nothing across the restart: every message the server
// acknowledged reaches every session of its channel, once, in order.
// Against a server without a history, --resume fails at once.
func TestBenchStormResume(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	addr := freeAddr(t)
	t.Setenv(serverMainEnv, "1")
	var rep struct {
		Recovered                         int
		Acknowledged, Expected, Delivered int64
		Lost, Duplicated                  int64
		OutOfOrder                        int64 `json:"out_of_order"`
		ResumeGranted                     int   `json:"resume_granted"`
		StillConnected                    int   `json:"still_connected"`
	}
	runBench(t, &rep, "--url", "http://"+addr+"/cometd", "--storm", "40", "--channels", "4", "--settle", "500ms", "--tick", "50ms",
		"--wait", "20s", "--resume", "--server-cmd", os.Args[0]+" serve --addr "+addr+" --log-level error --nats "+ns.ClientURL()+" --nats-history 1m")
	if rep.Recovered != 40 || rep.StillConnected != 40 || rep.ResumeGranted != 40 || rep.Acknowledged == 0 ||
		rep.Expected != rep.Acknowledged*10 || rep.Delivered != rep.Expected || rep.Lost != 0 || rep.Duplicated != 0 || rep.OutOfOrder != 0 {
		t.Errorf("report: %+v", rep)
	}

	plain := freeAddr(t)
	cmd := newRootCmd()
	cmd.SetArgs([]string{"bench", "--url", "http://" + plain + "/cometd", "--storm", "4", "--resume", "--server-cmd", os.Args[0] + " serve --addr " + plain + " --log-level error"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "did not grant the resume extension") {
		t.Errorf("--resume against a server without a history: %v", err)
	}
}

// TestBenchIdle holds a few idle sessions on cometgen serve and reads its
// memory from its debug address.
func TestBenchIdle(t *testing.T) {
	debug := freeAddr(t)
	url := startServe(t, "--debug-addr", debug)
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"bench", "--url", url, "--idle", "30", "--settle", "50ms", "--server-debug", debug, "--json"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench --idle: %v\n%s", err, errOut.String())
	}
	var rep struct {
		Connected int
		Before    struct{ RSS, Sessions, Goroutines int64 }
		After     struct {
			RSS        int64 `json:"rss_bytes"`
			HeapInuse  int64 `json:"heap_inuse_bytes"`
			Sessions   int64
			Goroutines int64
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if rep.Connected != 30 || rep.After.Sessions != 30 || rep.After.RSS <= 0 || rep.After.HeapInuse <= 0 || rep.After.Goroutines < 30 {
		t.Errorf("report: %s", out.String())
	}
}

// TestBenchIdleLongPolling holds long-polling sessions on cometgen serve:
// with --held-only a session keeps one connection, its held connect, which
// the server parks (--park-after): one goroutine a session; without
// parking, the handler's and net/http's reader's; with the client's second
// connection kept, the server's goroutine serving it besides. --server-gc
// reads the memory a third time, after a collection.
func TestBenchIdleLongPolling(t *testing.T) {
	for _, tt := range []struct {
		name       string
		park       string
		heldOnly   bool
		goroutines int // per session
	}{
		{"parked, held only", "100ms", true, 1},
		{"not parked, held only", "0", true, 2},
		{"parked, two connections", "100ms", false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			debug := freeAddr(t)
			url := startServeProcess(t, "--debug-addr", debug, "--park-after", tt.park)
			args := []string{"--url", url, "--transport", "long-polling", "--idle", "20", "--settle", "1500ms", "--server-debug", debug, "--server-gc"}
			if tt.heldOnly {
				args = append(args, "--held-only")
			}
			var rep struct {
				Connected int
				Before    struct{ Goroutines int }
				After     struct{ Goroutines int }
				Collected *struct {
					RSS      int64 `json:"rss_bytes"`
					Sessions int
				}
				PerSession float64 `json:"collected_rss_per_session_bytes"`
			}
			runBench(t, &rep, args...)
			if rep.Connected != 20 || rep.Collected == nil || rep.Collected.RSS <= 0 || rep.Collected.Sessions != 20 || rep.PerSession == 0 {
				t.Fatalf("report: %+v", rep)
			}
			// The debug server's goroutines come and go: a margin of a few.
			if got, want := rep.After.Goroutines-rep.Before.Goroutines, tt.goroutines*20; got < want-3 || got > want+3 {
				t.Errorf("%d goroutines more in the server with 20 sessions, want about %d", got, want)
			}
		})
	}
}

// startServeProcess runs cometgen serve (this test binary, see TestMain) in
// a process of its own, so that what it counts is its own, and returns its
// URL.
func startServeProcess(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "error"}, args...)...)
	cmd.Env = append(os.Environ(), serverMainEnv+"=1")
	var errOut syncBuffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // TestMain's serve has no signal handling
		cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if m := servingRE.FindStringSubmatch(lines.Text()); m != nil {
			go io.Copy(io.Discard, out)
			return m[1]
		}
	}
	t.Fatalf("serve did not start: %s", errOut.String())
	return ""
}
