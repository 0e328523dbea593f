package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/examples/chat/chat"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    config
		wantErr string
	}{
		{"defaults", nil, config{addr: "127.0.0.1:8080", noticeEvery: 5 * time.Minute, noticeText: chat.DefaultNoticeText}, ""},
		{"all", []string{"--addr", "127.0.0.1:0", "--cometd-js", dir, "--notice-every", "0", "--notice", "hi"},
			config{addr: "127.0.0.1:0", cometdJS: dir, noticeText: "hi"}, ""},
		{"missing js dir", []string{"--cometd-js", filepath.Join(dir, "nope")}, config{}, "--cometd-js: "},
		{"js dir is a file", []string{"--cometd-js", file}, config{}, "is not a directory"},
		{"bad duration", []string{"--notice-every", "often"}, config{}, "invalid value"},
		{"extra argument", []string{"serve"}, config{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("config %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	js := t.TempDir()
	if err := os.WriteFile(filepath.Join(js, "cometd.js"), []byte("export class CometD {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cometdJS string
		path     string
		status   int
		body     string // a substring of the body
		ctype    string // a prefix of the Content-Type
	}{
		{"page", "", "/", 200, "/js/cometd/cometd.js", "text/html"},
		{"no other pages", "", "/other", 404, "", ""},
		{"stats", "", "/stats", 200, `"Sessions":0`, "application/json"}, // no client yet
		{"client not configured", "", "/js/cometd/cometd.js", 404, "npm install cometd", ""},
		{"client", js, "/js/cometd/cometd.js", 200, "export class CometD", "text/javascript"},
		{"client file missing", js, "/js/cometd/nope.js", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := newApp(config{cometdJS: tt.cometdJS}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.srv.Shutdown(context.Background()) })
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.ctype) {
				t.Errorf("GET %s: %d %q %q", tt.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
		})
	}
}

// TestRun starts the command on a loopback port, chats through it and
// stops it as an interrupt would.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, w := io.Pipe()
	status := make(chan int, 1)
	go func() {
		status <- run(ctx, []string{"--addr", "127.0.0.1:0", "--notice-every", "0"}, w, io.Discard)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatal("no output")
	}
	base, ok := strings.CutPrefix(lines.Text(), "chat: serving ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("output %q", lines.Text())
	}
	go io.Copy(io.Discard, out)

	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	c := client.New(strings.TrimSuffix(base, "/")+"/cometd",
		client.WithTransport(bayeux.TransportLongPolling),
		client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": "alice"}}))
	if err := c.Handshake(wctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan *bayeux.Message, 1)
	if _, err := c.Subscribe(wctx, "/chat/lobby", func(m *bayeux.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(wctx, "/chat/lobby", map[string]string{"user": "bob", "text": "hello"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		var msg struct{ User, Text string }
		if err := json.Unmarshal(m.Data, &msg); err != nil || msg.User != "alice" || msg.Text != "hello" {
			t.Errorf("got %s, want alice's hello", m.Data)
		}
	case <-wctx.Done():
		t.Fatal("no message")
	}
	c.Disconnect(wctx)

	cancel()
	select {
	case s := <-status:
		if s != 0 {
			t.Errorf("exit status %d", s)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("run did not return")
	}
}
