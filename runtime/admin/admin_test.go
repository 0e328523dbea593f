package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/admin"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/prometheus/client_golang/prometheus"
)

// observed starts a server with metrics and a contract, on a test HTTP
// server, and its admin on another; it returns the server, its Bayeux URL
// and the admin's base URL.
func observed(t *testing.T) (*runtime.Server, *admin.Admin, string, string) {
	t.Helper()
	srv := runtime.New(runtime.Options{Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler), MaxQueue: 20})
	err := srv.SetContract(&runtime.Contract{Templates: []runtime.Template{
		{Pattern: "/chat/{room}", Schema: `{"type":"object","properties":{"text":{"type":"string","maxLength":5}},"required":["text"]}`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	a := admin.New(srv, admin.Options{Interval: 100 * time.Millisecond, RateWindow: time.Second})
	mux := http.NewServeMux()
	mux.Handle(admin.Path, a)
	ds := httptest.NewServer(mux)
	t.Cleanup(func() {
		ds.Close()
		a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.CloseClientConnections()
		hs.Close()
	})
	return srv, a, hs.URL, ds.URL + admin.Path
}

func connect(t *testing.T, url string) *client.Client {
	t.Helper()
	c := client.New(url, client.WithMaxNetworkDelay(2*time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

func get(t *testing.T, url string) (string, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, r.Status, b)
	}
	return string(b), r.Header.Get("Content-Type")
}

// TestSnapshot checks what the page is given: sessions by transport, the
// templates' traffic and rates, a schema refusal with its JSON path, the
// slow consumers, and no cluster.
func TestSnapshot(t *testing.T) {
	_, a, url, base := observed(t)
	sub := connect(t, url)
	if _, err := sub.Subscribe(t.Context(), "/chat/lobby", func(*bayeux.Message) {}); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, url)
	for range 5 {
		if err := pub.Publish(t.Context(), "/chat/lobby", map[string]any{"text": "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(t.Context(), "/chat/lobby", map[string]any{"text": "far too long"}); err == nil {
		t.Fatal("a publish breaking the schema was accepted")
	}

	var snap admin.Snapshot
	body, ctype := get(t, base+"snapshot")
	if !strings.HasPrefix(ctype, "application/json") {
		t.Errorf("snapshot Content-Type %q", ctype)
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Sessions != 2 || snap.Transports["websocket"] != 2 || len(snap.SessionRows) != 2 {
		t.Errorf("sessions %d by transport %v, rows %v; want 2 on websocket", snap.Sessions, snap.Transports, snap.SessionRows)
	}
	if !snap.Healthy || len(snap.Nodes) != 0 || snap.MetricsOff {
		t.Errorf("healthy %v, nodes %v, metrics off %v", snap.Healthy, snap.Nodes, snap.MetricsOff)
	}
	if len(snap.Templates) == 0 || snap.Templates[0].Channel != "/chat/{room}" || snap.Templates[0].In != 6 || snap.Templates[0].Out != 5 {
		t.Fatalf("templates %+v, want /chat/{room} first with 6 in, 5 out", snap.Templates)
	}
	if len(snap.Refusals) != 1 {
		t.Fatalf("refusals %+v", snap.Refusals)
	}
	if r := snap.Refusals[0]; r.Channel != "/chat/{room}" || r.Name != "/chat/lobby" || r.Reason != "schema" || r.Field != "/text" || r.Operation != "publish" {
		t.Errorf("refusal %+v", r)
	}
	if snap.Slow.MaxQueue != 20 || snap.Slow.Disconnects != 0 {
		t.Errorf("slow consumers %+v", snap.Slow)
	}
	// The rates: after a tick, the publishes are within the window.
	time.Sleep(600 * time.Millisecond)
	if s := a.Snapshot(); s.Templates[0].InRate <= 0 || s.Templates[0].OutRate <= 0 {
		t.Errorf("rates %+v, want positive", s.Templates[0])
	}
}

// TestPageOverBayeux reads the snapshots as the page does, from the
// admin's own Bayeux server, which refuses everything else; the page and
// its script are served from the handler.
func TestPageOverBayeux(t *testing.T) {
	srv, _, _, base := observed(t)
	page, ctype := get(t, base)
	if !strings.HasPrefix(ctype, "text/html") || !strings.Contains(page, `from "./js/cometd/cometd.js"`) {
		t.Errorf("page: %s\n%.200s", ctype, page)
	}
	if strings.Contains(page, "https://") || strings.Contains(page, "http://") {
		t.Error("the page refers to another site")
	}
	for _, js := range []string{"cometd/cometd.js", "cometd/Client.js", "cometd/WebSocketTransport.js", "cometd/LICENSE"} {
		get(t, base+"js/"+js)
	}

	c := connect(t, base+"bayeux")
	got := make(chan admin.Snapshot, 10)
	if _, err := c.Subscribe(t.Context(), admin.StatsChannel, func(m *bayeux.Message) {
		var s admin.Snapshot
		if err := json.Unmarshal(m.Data, &s); err != nil {
			t.Error(err)
		}
		select {
		case got <- s:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s.Sessions != 0 {
			t.Errorf("the admin's own session is counted: %d sessions", s.Sessions)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no snapshot within 3s")
	}
	if err := c.Publish(t.Context(), admin.StatsChannel, map[string]any{"forged": true}); err == nil {
		t.Error("a page published on the stats channel")
	}
	if _, err := c.Subscribe(t.Context(), "/other", func(*bayeux.Message) {}); err == nil {
		t.Error("a page subscribed elsewhere")
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Errorf("observed server has %d sessions", n)
	}
}

// TestSlowConsumer lists a session whose queue fills up, then its
// disconnection as a slow consumer: a long-polling session that never
// connects.
func TestSlowConsumer(t *testing.T) {
	srv, a, url, _ := observed(t)
	post := func(m map[string]any) []map[string]any {
		b, _ := json.Marshal([]any{m})
		r, err := http.Post(url, "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var reply []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&reply); err != nil {
			t.Fatal(err)
		}
		return reply
	}
	h := post(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	id, _ := h[0]["clientId"].(string)
	if s := post(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": "/chat/lobby"}); s[0]["successful"] != true {
		t.Fatalf("subscribe: %v", s)
	}
	for range 5 {
		srv.Publish("/chat/lobby", map[string]any{"text": "hi"})
	}
	if s := a.Snapshot(); len(s.Slow.AtRisk) != 1 || s.Slow.AtRisk[0].ID != id || s.Slow.AtRisk[0].Queued != 5 {
		t.Errorf("at risk: %+v", s.Slow.AtRisk)
	}
	for range 20 {
		srv.Publish("/chat/lobby", map[string]any{"text": "hi"})
	}
	s := a.Snapshot()
	if len(s.Slow.Recent) != 1 || s.Slow.Recent[0].Session != id || s.Slow.Disconnects != 1 || len(s.Slow.AtRisk) != 0 {
		t.Fatalf("slow consumers %+v", s.Slow)
	}
}
