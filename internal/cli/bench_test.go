package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"
)

// TestBenchIdle holds a few idle sessions on cometgen serve and reads its
// memory from its debug address.
func TestBenchIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debug := ln.Addr().String()
	ln.Close()
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
