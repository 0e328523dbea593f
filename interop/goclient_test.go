package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometgen/cometgen/interop/servetest"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// TestGoClient runs the interop checklist with cometgen's Go client against
// a freshly built `cometgen serve`, over websocket and long-polling.
func TestGoClient(t *testing.T) {
	bin := servetest.Build(t)
	srv := servetest.Start(t, bin)
	for _, tr := range []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling} {
		t.Run(tr, func(t *testing.T) {
			for _, check := range goClientChecks {
				t.Run(check.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					check.run(ctx, t, &env{url: srv.URL, transport: tr, prefix: fmt.Sprintf("/go/%s/%s", tr, strings.ReplaceAll(check.name, " ", "-"))})
				})
			}
		})
	}
}

type env struct {
	url, transport, prefix string
}

// connect returns a handshaken client, disconnected when the test ends.
func (e *env) connect(ctx context.Context, t *testing.T) *client.Client {
	t.Helper()
	c := client.New(e.url, client.WithTransport(e.transport))
	if err := c.Handshake(ctx); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if got := c.Transport(); got != e.transport {
		t.Fatalf("negotiated transport %q, want %q", got, e.transport)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Disconnect(ctx)
	})
	return c
}

// inbox collects the events of a subscription.
type inbox struct {
	mu     sync.Mutex
	events []*bayeux.Message
	more   chan struct{}
}

func newInbox() *inbox { return &inbox{more: make(chan struct{}, 1)} }

func (b *inbox) handle(m *bayeux.Message) {
	b.mu.Lock()
	b.events = append(b.events, m)
	b.mu.Unlock()
	select {
	case b.more <- struct{}{}:
	default:
	}
}

// waitFor waits until n events arrived and returns them.
func (b *inbox) waitFor(ctx context.Context, t *testing.T, n int) []*bayeux.Message {
	t.Helper()
	for {
		b.mu.Lock()
		got := append([]*bayeux.Message(nil), b.events...)
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-b.more:
		case <-ctx.Done():
			t.Fatalf("received %d events, want %d", len(got), n)
		}
	}
}

// fence publishes a marker on a channel only this inbox's client receives
// and waits for it: every event published before it has then arrived.
func fence(ctx context.Context, t *testing.T, sub, pub *client.Client, channel string) {
	t.Helper()
	done := make(chan struct{})
	var once sync.Once
	if _, err := sub.Subscribe(ctx, channel, func(*bayeux.Message) { once.Do(func() { close(done) }) }); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, channel, "fence"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("fence message never arrived")
	}
}

func dataString(m *bayeux.Message) string {
	var s string
	json.Unmarshal(m.Data, &s)
	return s
}

var goClientChecks = []struct {
	name string
	run  func(ctx context.Context, t *testing.T, e *env)
}{
	{"subscribe exact and wildcards", func(ctx context.Context, t *testing.T, e *env) {
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		exact, one, deep := newInbox(), newInbox(), newInbox()
		for ch, b := range map[string]*inbox{e.prefix + "/a": exact, e.prefix + "/*": one, e.prefix + "/**": deep} {
			if _, err := sub.Subscribe(ctx, ch, b.handle); err != nil {
				t.Fatalf("subscribe %s: %v", ch, err)
			}
		}
		for _, ch := range []string{"/a", "/b", "/a/deep"} {
			if err := pub.Publish(ctx, e.prefix+ch, ch); err != nil {
				t.Fatalf("publish %s: %v", ch, err)
			}
		}
		fence(ctx, t, sub, pub, "/fence"+e.prefix)
		check := func(name string, b *inbox, want ...string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			var got []string
			for _, m := range b.events {
				got = append(got, dataString(m))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s received %v, want %v", name, got, want)
			}
		}
		check("exact", exact, "/a")
		check("/*", one, "/a", "/b")
		check("/**", deep, "/a", "/b", "/a/deep")
	}},
	{"at most once per session", func(ctx context.Context, t *testing.T, e *env) {
		// The client dispatches one server event to every matching local
		// subscription; the server must send it once.
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		b := newInbox()
		sub.Subscribe(ctx, e.prefix+"/x", b.handle)
		sub.Subscribe(ctx, e.prefix+"/**", func(*bayeux.Message) {})
		pub.Publish(ctx, e.prefix+"/x", "once")
		fence(ctx, t, sub, pub, "/fence"+e.prefix)
		if got := b.waitFor(ctx, t, 1); len(got) != 1 {
			t.Errorf("received %d copies", len(got))
		}
	}},
	{"unsubscribe stops delivery", func(ctx context.Context, t *testing.T, e *env) {
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		b := newInbox()
		s, err := sub.Subscribe(ctx, e.prefix, b.handle)
		if err != nil {
			t.Fatal(err)
		}
		pub.Publish(ctx, e.prefix, "before")
		b.waitFor(ctx, t, 1)
		if err := sub.Unsubscribe(ctx, s); err != nil {
			t.Fatal(err)
		}
		pub.Publish(ctx, e.prefix, "after")
		fence(ctx, t, sub, pub, "/fence"+e.prefix)
		if got := b.waitFor(ctx, t, 1); len(got) != 1 {
			t.Errorf("received %d events, want only the one before unsubscribing", len(got))
		}
	}},
	{"service channels not broadcast", func(ctx context.Context, t *testing.T, e *env) {
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		b := newInbox()
		for _, ch := range []string{"/service/echo", "/service/**", "/**"} {
			if _, err := sub.Subscribe(ctx, ch, b.handle); err != nil {
				t.Fatalf("subscribe %s: %v", ch, err)
			}
		}
		if err := pub.Publish(ctx, "/service/echo", "private"); err != nil {
			t.Fatalf("publish to a service channel: %v", err)
		}
		fence(ctx, t, sub, pub, "/fence"+e.prefix)
		for _, m := range b.waitFor(ctx, t, 1) {
			if strings.HasPrefix(m.Channel, "/service/") {
				t.Errorf("service message delivered: %s %s", m.Channel, m.Data)
			}
		}
	}},
	{"batch", func(ctx context.Context, t *testing.T, e *env) {
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		b := newInbox()
		sub.Subscribe(ctx, e.prefix, b.handle)
		batch := pub.NewBatch()
		for i := range 10 {
			batch.Publish(e.prefix, fmt.Sprint(i))
		}
		if err := batch.Send(ctx); err != nil {
			t.Fatal(err)
		}
		for i, m := range b.waitFor(ctx, t, 10) {
			if dataString(m) != fmt.Sprint(i) {
				t.Fatalf("event %d = %s", i, m.Data)
			}
		}
	}},
	{"order of 500 rapid publishes", func(ctx context.Context, t *testing.T, e *env) {
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		b := newInbox()
		sub.Subscribe(ctx, e.prefix, b.handle)
		errs := make(chan error, 500)
		for i := range 500 {
			if err := pub.PublishAsync(ctx, e.prefix, i, func(err error) { errs <- err }); err != nil {
				t.Fatal(err)
			}
		}
		for range 500 {
			if err := <-errs; err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
		for i, m := range b.waitFor(ctx, t, 500) {
			if string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("event %d carries %s: out of order", i, m.Data)
			}
		}
	}},
	{"64 KiB and unicode payloads", func(ctx context.Context, t *testing.T, e *env) {
		sub, pub := e.connect(ctx, t), e.connect(ctx, t)
		b := newInbox()
		sub.Subscribe(ctx, e.prefix, b.handle)
		big := strings.Repeat("0123456789abcdef", 4096)
		uni := "emoji 😀👩‍👩‍👧, CJK 漢字かな, RTL שלום مرحبا, controls \u0000\u001f\t\n, separators \u2028\u2029, quote \" backslash \\"
		for _, s := range []string{big, uni} {
			if err := pub.Publish(ctx, e.prefix, s); err != nil {
				t.Fatal(err)
			}
		}
		got := b.waitFor(ctx, t, 2)
		if dataString(got[0]) != big {
			t.Errorf("64 KiB payload changed (%d bytes back)", len(dataString(got[0])))
		}
		if dataString(got[1]) != uni {
			t.Errorf("unicode payload = %q, want %q", dataString(got[1]), uni)
		}
	}},
	{"disconnect refuses the old clientId", func(ctx context.Context, t *testing.T, e *env) {
		c := e.connect(ctx, t)
		id := c.ClientID()
		if err := c.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		body := `[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling"}]`
		resp, err := http.Post(e.url+"/connect", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var replies []bayeux.Message
		json.NewDecoder(resp.Body).Decode(&replies)
		if len(replies) != 1 || replies[0].IsSuccessful() || !strings.HasPrefix(replies[0].Error, "402::") {
			t.Errorf("connect with a disconnected clientId = %+v", replies)
		}
	}},
	{"meta channels refused", func(ctx context.Context, t *testing.T, e *env) {
		// The Go client refuses these itself, before anything is sent …
		c := e.connect(ctx, t)
		if _, err := c.Subscribe(ctx, "/meta/connect", func(*bayeux.Message) {}); err == nil {
			t.Error("the client subscribed to /meta/connect")
		}
		if err := c.Publish(ctx, "/meta/foo", "x"); err == nil {
			t.Error("the client published on /meta/foo")
		}
		// … and the server refuses them when a client sends them anyway.
		id := c.ClientID()
		body := `[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"/meta/connect","id":"1"},` +
			`{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"/meta/foo","id":"2"},` +
			`{"channel":"/meta/foo","clientId":"` + id + `","data":"x","id":"3"}]`
		resp, err := http.Post(e.url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var replies []bayeux.Message
		json.NewDecoder(resp.Body).Decode(&replies)
		if len(replies) != 3 {
			t.Fatalf("replies = %+v", replies)
		}
		for _, r := range replies {
			if r.IsSuccessful() || bayeux.ParseError(r.Error).Code != 403 {
				t.Errorf("reply %+v, want a 403 refusal", r)
			}
		}
	}},
}
