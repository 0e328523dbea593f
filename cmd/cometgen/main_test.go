package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/cli"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "update testscript files with actual output")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cometgen": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(port))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"bayeux-roundtrip": bayeuxRoundTrip,
		},
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// bayeuxRoundTrip URL waits (up to 10 s) for a Bayeux server at URL, then
// handshakes over long-polling, subscribes, publishes and receives the
// message back.
func bayeuxRoundTrip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: bayeux-roundtrip URL")
	}
	url := args[0]
	c := &http.Client{Timeout: 5 * time.Second}
	post := func(body string) ([]map[string]any, error) {
		resp, err := c.Post(url, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		var out []map[string]any
		return out, json.Unmarshal(b, &out)
	}
	hs := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`
	var replies []map[string]any
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if replies, err = post(hs); err == nil || time.Now().After(deadline) {
			break
		}
	}
	ts.Check(err)
	id, _ := replies[0]["clientId"].(string)
	if id == "" {
		ts.Fatalf("handshake: %v", replies)
	}
	_, err = post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling","advice":{"timeout":0}}]`)
	ts.Check(err)
	_, err = post(`[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"/script"},` +
		`{"channel":"/script","clientId":"` + id + `","data":"round trip"}]`)
	ts.Check(err)
	replies, err = post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling"}]`)
	ts.Check(err)
	if replies[0]["data"] != "round trip" {
		ts.Fatalf("connect after publish: %v", replies)
	}
	fmt.Fprintf(ts.Stdout(), "received %q on %s\n", replies[0]["data"], replies[0]["channel"])
}
