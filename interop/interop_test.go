package interop_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometgen/cometgen/interop/servetest"
)

// transports are run one node process each, so that each shows up as its
// own Go subtest.
var transports = []string{"websocket", "long-polling", "callback-polling"}

// nodeTimeout bounds one run of the node suite (one transport).
const nodeTimeout = 150 * time.Second

// TestCometDJSClient runs the node:test suite in test/ (the official CometD
// JavaScript client) against a freshly built `cometgen serve`.
func TestCometDJSClient(t *testing.T) {
	node := requireNode(t)
	bin := servetest.Build(t)
	srv := servetest.Start(t, bin)
	t.Logf("server at %s", srv.URL)

	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			runNode(t, node, srv.URL, transport, "test/", nodeTimeout)
		})
	}
}

// requireNode returns the path of node once the suite's Node packages are
// installed. Without them it skips the test, except in CI (CI=true), where
// it fails: CI must install them.
func requireNode(t *testing.T) string {
	t.Helper()
	const install = "the interop suite needs Node.js 20+ and its packages: run `npm ci --prefix interop` from the repository root"
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %s", why, install)
		}
		t.Skipf("%s: %s", why, install)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	for _, pkg := range []string{"cometd", "cometd-nodejs-client", "faye"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			unavailable("interop/node_modules/" + pkg + " is missing")
		}
	}
	return node
}

// runNode runs `node --test dir` (a directory of *.test.mjs files) against
// the server at url with one transport, within timeout; env ("KEY=value")
// is added to node's environment.
func runNode(t *testing.T, node, url, transport, dir string, timeout time.Duration, env ...string) {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", dir)
	cmd.Env = append(os.Environ(),
		"COMETGEN_URL="+url,
		"COMETGEN_TRANSPORTS="+transport,
		"NO_COLOR=1",
		"FORCE_COLOR=0",
	)
	cmd.Env = append(cmd.Env, env...)
	out := &logWriter{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	out.flush()
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("node --test %s (%s) did not finish within %v", dir, transport, timeout)
	}
	if err != nil {
		t.Fatalf("node --test %s (%s) against %s failed: %v (the failing tests are listed above)", dir, transport, url, err)
	}
}

// logWriter sends each line written to it to t.Log.
type logWriter struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.t.Log(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Log(string(w.buf))
		w.buf = nil
	}
}
