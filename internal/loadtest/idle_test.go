package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/bayeuxtest"
)

// TestRunIdle holds a few idle sessions on the fake server, over both
// transports, with this process standing in for the server's memory.
func TestRunIdle(t *testing.T) {
	for _, transport := range []string{"websocket", "long-polling"} {
		t.Run(transport, func(t *testing.T) {
			srv := bayeuxtest.NewServer(500 * time.Millisecond)
			defer srv.Close()
			debug := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/debug/memory" {
					http.NotFound(w, r)
					return
				}
				json.NewEncoder(w).Encode(Memory{RSS: 1, HeapInuse: 2 << 20, StackInuse: 1 << 20, Goroutines: 7, Sessions: srv.Sessions()})
			}))
			defer debug.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := RunIdle(ctx, IdleConfig{
				URL:       srv.URL(),
				Transport: transport,
				Sessions:  20,
				Channels:  5,
				Settle:    600 * time.Millisecond, // longer than a held connect
				ServerPID: os.Getpid(),
				DebugAddr: debug.URL,
			})
			if err != nil {
				t.Fatalf("RunIdle: %v", err)
			}
			if rep.Connected != 20 || rep.Rehandshakes != 0 {
				t.Errorf("%d connected, %d re-handshakes", rep.Connected, rep.Rehandshakes)
			}
			for i := range 5 {
				if n := srv.Subscribes(fmt.Sprintf("/bench/idle/%d", i)); n != 4 {
					t.Errorf("/bench/idle/%d subscribed %d times, want 4", i, n)
				}
			}
			// RSS comes from the pid, the rest from the debug address.
			if rep.Before.RSS < 1<<20 || rep.After.RSS < 1<<20 {
				t.Errorf("RSS %d before, %d after: not this process's", rep.Before.RSS, rep.After.RSS)
			}
			if rep.Before.Sessions != 0 || rep.After.Sessions != 20 || rep.After.HeapInuse != 2<<20 {
				t.Errorf("debug memory %+v before, %+v after", rep.Before, rep.After)
			}
			if n := srv.Sessions(); n != 0 {
				t.Errorf("%d sessions left on the server", n)
			}
			var text, js bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"RSS per session", "20 connected", "heap per session"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text report lacks %q:\n%s", want, text.String())
				}
			}
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(js.Bytes(), &m); err != nil || m["connected"] != float64(20) || m["rss_per_session_bytes"] == nil {
				t.Errorf("JSON report %s: %v", js.String(), err)
			}
		})
	}
}

// TestRunIdleHeldOnly: with HeldOnly, a long-polling session keeps one
// connection, its held connect's; without, up to two (a session whose
// requests never overlapped has one). The fake debug address
// tells the server's open connections as its goroutines, and Collect reads
// the memory a third time, with ?gc=1.
func TestRunIdleHeldOnly(t *testing.T) {
	for _, tt := range []struct {
		heldOnly           bool
		minConns, maxConns int
	}{{true, 10, 10}, {false, 11, 20}} {
		t.Run(fmt.Sprint("held only ", tt.heldOnly), func(t *testing.T) {
			srv := bayeuxtest.NewServer(5 * time.Second)
			defer srv.Close()
			var open atomic.Int64
			front := httptest.NewUnstartedServer(srv)
			front.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateNew:
					open.Add(1)
				case http.StateClosed, http.StateHijacked:
					open.Add(-1)
				}
			}
			front.Start()
			defer front.Close()
			var collects atomic.Int64
			debug := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("gc") == "1" {
					collects.Add(1)
				}
				json.NewEncoder(w).Encode(Memory{RSS: 1 << 20, Goroutines: int(open.Load()), Sessions: srv.Sessions()})
			}))
			defer debug.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := RunIdle(ctx, IdleConfig{
				URL:       front.URL + "/cometd",
				Transport: "long-polling",
				Sessions:  10,
				Settle:    HeldOnlyIdle + time.Second,
				DebugAddr: debug.URL,
				HeldOnly:  tt.heldOnly,
				Collect:   true,
			})
			if err != nil {
				t.Fatalf("RunIdle: %v", err)
			}
			if n := rep.After.Goroutines; rep.Connected != 10 || n < tt.minConns || n > tt.maxConns {
				t.Errorf("%d connected, %d connections open, want 10 and %d to %d", rep.Connected, n, tt.minConns, tt.maxConns)
			}
			if rep.Collected == nil || rep.Collected.Sessions != 10 || collects.Load() != 1 {
				t.Errorf("collected %+v after %d collections, want one", rep.Collected, collects.Load())
			}
			var text bytes.Buffer
			rep.WriteText(&text)
			if !strings.Contains(text.String(), "after a collection") {
				t.Errorf("text report lacks the collection:\n%s", text.String())
			}
		})
	}
}

// TestRunIdleSetupRate: with SetupRate, the sessions are started over
// time, no faster than the rate.
func TestRunIdleSetupRate(t *testing.T) {
	srv := bayeuxtest.NewServer(5 * time.Second)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := RunIdle(ctx, IdleConfig{URL: srv.URL(), Sessions: 11, SetupRate: 20, Settle: time.Millisecond, ServerPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connected != 11 || rep.Setup < 500*time.Millisecond {
		t.Errorf("%d connected, set up in %v; want 11 in at least 500ms (10 intervals of 50ms)", rep.Connected, rep.Setup)
	}
}

func TestRunIdleConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []IdleConfig{
		{Sessions: 1},                         // no pid, no debug address
		{Sessions: 0, ServerPID: os.Getpid()}, // no sessions
		{Sessions: 1, ServerPID: os.Getpid(), Prefix: "/meta/x"},
		{Sessions: 1, ServerPID: os.Getpid(), Collect: true}, // a collection needs the debug address
		{Sessions: 1, ServerPID: os.Getpid(), SetupRate: -1},
	} {
		if _, err := RunIdle(ctx, cfg); err == nil {
			t.Errorf("RunIdle(%+v) accepted", cfg)
		}
	}
	if _, err := RunIdle(ctx, IdleConfig{URL: "http://127.0.0.1:1/cometd", Sessions: 1, DebugAddr: "127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "server memory") {
		t.Errorf("RunIdle with an unreachable debug address: %v", err)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skip(err)
	}
	if n, err := RaiseFileLimit(rl.Cur); err != nil || n < rl.Cur {
		t.Errorf("RaiseFileLimit(%d) = %d, %v", rl.Cur, n, err)
	}
	if rl.Max < 1<<40 {
		if n, err := RaiseFileLimit(rl.Max + 1); err == nil || n != rl.Max {
			t.Errorf("RaiseFileLimit beyond the hard limit %d = %d, %v", rl.Max, n, err)
		}
	}
}

func TestProcessRSS(t *testing.T) {
	if rss, err := ProcessRSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Errorf("ProcessRSS(self) = %d, %v", rss, err)
	}
	if _, err := ProcessRSS(1 << 30); err == nil {
		t.Error("ProcessRSS of no process succeeded")
	}
}
