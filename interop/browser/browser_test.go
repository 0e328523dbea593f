package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/examples/auction/auction"
	"github.com/cometgen/cometgen/examples/auction/bidder"
	"github.com/cometgen/cometgen/internal/cli"
	"github.com/cometgen/cometgen/interop/servetest"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// tools are the programs the browser tests run.
type tools struct {
	node, chromium string
}

// requireTools finds Chromium, Node.js, npm and playwright-core. Without
// them it skips the test, except in CI (CI=true), where it fails: CI must
// install them.
func requireTools(t *testing.T) tools {
	t.Helper()
	const install = "the browser test needs Debian's chromium (apt-get install chromium), Node.js 20+ and the interop packages (npm ci --prefix interop)"
	unavailable := func(why string) {
		t.Helper()
		missing(t, why+": "+install)
	}
	chromium := chromiumPath
	if p := os.Getenv("CHROMIUM"); p != "" {
		chromium = p
	}
	if _, err := os.Stat(chromium); err != nil {
		unavailable(chromium + " is missing")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		unavailable("npm is not on PATH")
	}
	if _, err := os.Stat("../node_modules/playwright-core/package.json"); err != nil {
		unavailable("interop/node_modules/playwright-core is missing")
	}
	return tools{node: node, chromium: chromium}
}

// missing skips the test for a missing tool, except in CI (CI=true),
// where it fails: CI must install it.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// TestChatInBrowser scaffolds the chat archetype as a newcomer would
// (cometgen new --template chat, npm install included), builds and starts
// it, and has two Chromium pages chat through it (chat.mjs).
func TestChatInBrowser(t *testing.T) {
	tools, ctx := setup(t)
	dir := scaffold(t, "chat")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "cometd", "cometd.js")); err != nil {
		t.Fatalf("cometgen new did not install the CometD client: %v", err)
	}
	url := startProject(ctx, t, dir, filepath.Join(dir, "node_modules", "cometd"))
	tools.runScript(ctx, t, "chat.mjs", url, "ok: two pages chatted")
}

// TestExampleChatInBrowser drives examples/chat, whose page runs on the
// typed client generated from its spec (web/channels.js), with the chat
// archetype's script: its page has the same form and lists.
func TestExampleChatInBrowser(t *testing.T) {
	tools, ctx := setup(t)
	cometd, err := filepath.Abs(filepath.Join("..", "node_modules", "cometd"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "chat"))
	if err != nil {
		t.Fatal(err)
	}
	url := startProject(ctx, t, dir, cometd, "--notice-every", "0")
	tools.runScript(ctx, t, "chat.mjs", url, "ok: two pages chatted")
}

// TestExampleAuctionInBrowser starts examples/auction with a lot closing
// in 20 s, runs the bidding bot of package bidder on the typed Go client
// against it, and has two Chromium pages bid on the same lot
// (auction.mjs): the pages and the bot must see the same winner.
func TestExampleAuctionInBrowser(t *testing.T) {
	tools, ctx := setup(t)
	cometd, err := filepath.Abs(filepath.Join("..", "node_modules", "cometd"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "auction"))
	if err != nil {
		t.Fatal(err)
	}
	url := startProject(ctx, t, dir, cometd, "--duration", "20s")
	c := auction.NewClient(client.New(url+"/cometd", client.WithResume(),
		client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": "robot"}}),
		client.WithContract(auction.ContractPrint().ContractExt(), nil)))
	if err := c.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	result := make(chan bidder.Result, 1)
	go func() {
		res, err := (&bidder.Bidder{C: c, User: "robot", Lot: "clock", Max: 20_000, Step: 100}).Run(ctx)
		if err != nil {
			t.Errorf("bot: %v", err)
		}
		result <- res
	}()
	out := tools.runScript(ctx, t, "auction.mjs", url, "ok: two pages and a bot bid on one lot")
	res := <-result
	if res.Bids == 0 {
		t.Error("the bot never bid")
	}
	want := fmt.Sprintf("%s %d", res.Winner, res.Cents)
	for _, page := range []string{"ann", "bob"} {
		if line := "winner: " + page + " sees " + want; !strings.Contains(out, line) {
			t.Errorf("%s's page did not see the bot's winner %s", page, want)
		}
	}
	if res.Winner != "bob" {
		t.Errorf("winner %q, want bob (the last bid, over the bot's maximum)", res.Winner)
	}
}

// TestAuctionInBrowser scaffolds the auction archetype (cometgen new
// --template auction, served the interop suite's CometD client), starts it
// with its own bidding bot (--bot robot, on the typed Go client generated
// into the project) and a lot closing in 20 s, and has two Chromium pages
// bid on that lot with the example's script (auction.mjs). A watcher
// logged in through the project's /login sees every bid and the close: the
// bot bid, bob won, and both pages saw bob win at the price the server
// announced.
func TestAuctionInBrowser(t *testing.T) {
	tools, ctx := setup(t)
	dir := scaffold(t, "auction", "--no-install")
	if _, err := os.Stat(filepath.Join(dir, "internal", "channels", "client.go")); err != nil {
		t.Fatalf("the scaffolded project has no typed Go client: %v", err)
	}
	cometd, err := filepath.Abs(filepath.Join("..", "node_modules", "cometd"))
	if err != nil {
		t.Fatal(err)
	}
	url := startProject(ctx, t, dir, cometd, "--duration", "20s", "--bot", "robot", "--bot-max", "20000", "--bot-delay", "0")

	token := loginToken(ctx, t, url, "watcher")
	w := client.New(url+"/cometd", client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": token}}))
	if err := w.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Disconnect(context.Background())
	bidders := make(chan string, 64)
	if _, err := w.Subscribe(ctx, "/auction/clock/bids", func(m *bayeux.Message) {
		var bid struct{ Bidder string }
		json.Unmarshal(m.Data, &bid)
		select {
		case bidders <- bid.Bidder:
		default: // enough seen
		}
	}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct {
		Winner string
		Cents  int64
	}, 1)
	if _, err := w.Subscribe(ctx, "/auction/clock/closed", func(m *bayeux.Message) {
		var c struct {
			Winner string
			Cents  int64
		}
		json.Unmarshal(m.Data, &c)
		closed <- c
	}); err != nil {
		t.Fatal(err)
	}

	out := tools.runScript(ctx, t, "auction.mjs", url, "ok: two pages and a bot bid on one lot")
	var res struct {
		Winner string
		Cents  int64
	}
	select {
	case res = <-closed:
	case <-ctx.Done():
		t.Fatal("the watcher never saw the clock close")
	}
	botBid := false
	for len(bidders) > 0 {
		if <-bidders == "robot" {
			botBid = true
		}
	}
	if !botBid {
		t.Error("the bot never bid")
	}
	want := fmt.Sprintf("%s %d", res.Winner, res.Cents)
	for _, page := range []string{"ann", "bob"} {
		if line := "winner: " + page + " sees " + want; !strings.Contains(out, line) {
			t.Errorf("%s's page did not see the server's winner %s", page, want)
		}
	}
	if res.Winner != "bob" {
		t.Errorf("winner %q, want bob (the last bid, over the bot's maximum)", res.Winner)
	}
}

// loginToken posts user to the project's /login and returns the token.
func loginToken(ctx context.Context, t *testing.T, url, user string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/login", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		t.Fatalf("POST /login: %d %v %s", resp.StatusCode, err, out.Error)
	}
	return out.Token
}

// TestBlankInBrowser scaffolds the blank archetype without npm install,
// serves it the interop suite's CometD client, and has two pages greet
// (blank.mjs).
func TestBlankInBrowser(t *testing.T) {
	tools, ctx := setup(t)
	dir := scaffold(t, "blank", "--no-install")
	cometd, err := filepath.Abs(filepath.Join("..", "node_modules", "cometd"))
	if err != nil {
		t.Fatal(err)
	}
	url := startProject(ctx, t, dir, cometd)
	tools.runScript(ctx, t, "blank.mjs", url, "ok: two pages greeted")
}

// setup skips the test in -short mode, finds the tools, and returns them
// with the test's context, bounded to 4 minutes.
func setup(t *testing.T) (tools, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("scaffolds, builds and drives a browser")
	}
	tl := requireTools(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	t.Cleanup(cancel)
	return tl, ctx
}

// scaffold runs cometgen new --template template in a temporary directory
// and returns the project's directory.
func scaffold(t *testing.T, template string, flags ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), template)
	var out, errOut bytes.Buffer
	args := append([]string{"new", "--template", template}, flags...)
	if code := cli.Main(append(args, dir), nil, &out, &errOut); code != 0 {
		t.Fatalf("cometgen %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	t.Logf("cometgen %s:\n%s", strings.Join(args, " "), out.String())
	if _, err := os.Stat(filepath.Join(dir, "web", "channels.js")); err != nil {
		t.Fatalf("the scaffolded page's typed client web/channels.js: %v", err)
	}
	return dir
}

// runScript runs the Node script against url with screenshots to the
// test's artifact directory (and env, "KEY=value" entries, added to its
// environment), and checks that it ends with want.
func (tl tools) runScript(ctx context.Context, t *testing.T, script, url, want string, env ...string) string {
	t.Helper()
	artifacts := t.ArtifactDir()
	path, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, tl.node, path, url, artifacts)
	run.Env = append(append(os.Environ(), "CHROMIUM="+tl.chromium, "NO_COLOR=1"), env...)
	run.WaitDelay = 5 * time.Second
	b, err := run.CombinedOutput()
	t.Logf("%s:\n%s", script, b)
	keepScreenshots(t, artifacts)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
	if !strings.Contains(string(b), want) {
		t.Fatalf("%s did not finish", script)
	}
	return string(b)
}

// startProject builds the project in dir and starts it on a free local
// port, with the CometD client of cometdJS and args; it returns its URL
// once it serves (servetest stops it when the test ends).
func startProject(ctx context.Context, t *testing.T, dir, cometdJS string, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	srv := servetest.StartCommand(t, bin, append([]string{"--addr", "127.0.0.1:0", "--cometd-js", cometdJS}, args...)...)
	return strings.TrimSuffix(srv.URL, "/")
}

// keepScreenshots copies the screenshots to artifacts/ beside this file,
// a stable place to look at them after the test.
func keepScreenshots(t *testing.T, from string) {
	t.Helper()
	shots, _ := filepath.Glob(filepath.Join(from, "*.png"))
	if len(shots) == 0 {
		t.Error("no screenshot was written")
		return
	}
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		t.Error(err)
		return
	}
	for _, src := range shots {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Error(err)
			continue
		}
		dst, _ := filepath.Abs(filepath.Join("artifacts", filepath.Base(src)))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Error(err)
			continue
		}
		t.Logf("screenshot: %s (%d bytes)", dst, len(b))
	}
}
