package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/bayeuxtest"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// transports are the transports every behaviour is tested over; lpDirect is
// long-polling over WithDirectHTTP.
var transports = []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling, lpDirect}

const lpDirect = "long-polling-direct"

// transportOptions returns the options that select transport tr.
func transportOptions(tr string) []client.Option {
	if tr == lpDirect {
		return []client.Option{client.WithTransport(bayeux.TransportLongPolling), client.WithDirectHTTP(nil)}
	}
	return []client.Option{client.WithTransport(tr)}
}

// waitFor bounds every wait of these tests.
const waitFor = 5 * time.Second

// start returns a fake server with a short connect hold and a client on it
// that has handshaken; both are closed when the test ends.
func start(t *testing.T, transport string, opts ...client.Option) (*bayeuxtest.Server, *client.Client) {
	t.Helper()
	srv := bayeuxtest.NewServer(500 * time.Millisecond)
	t.Cleanup(srv.Close)
	opts = append(transportOptions(transport), append([]client.Option{client.WithBackoff(50*time.Millisecond, 200*time.Millisecond)}, opts...)...)
	c := client.New(srv.URL(), opts...)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return srv, c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// collector returns a handler that sends the channel and data of every event
// to the returned channel.
func collector() (client.Handler, chan string) {
	ch := make(chan string, 100)
	return func(m *bayeux.Message) { ch <- m.Channel + " " + string(m.Data) }, ch
}

func receive(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("received %q, want %q", got, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("no event, want %q", want)
	}
}

func forEachTransport(t *testing.T, f func(t *testing.T, transport string)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			f(t, tr)
		})
	}
}

func TestHandshakeSubscribePublish(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr)
		ctx := testCtx(t)
		if c.ClientID() == "" || c.State() != client.StateConnected {
			t.Fatalf("after Handshake: id %q, state %v", c.ClientID(), c.State())
		}
		if err := c.Handshake(ctx); !errors.Is(err, client.ErrAlreadyConnected) {
			t.Errorf("second Handshake: %v, want ErrAlreadyConnected", err)
		}
		h, events := collector()
		if _, err := c.Subscribe(ctx, "/chat/room", h); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		if err := c.Publish(ctx, "/chat/room", map[string]string{"text": "hi"}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		receive(t, events, `/chat/room {"text":"hi"}`)
		if err := c.Publish(ctx, "/chat/room", json.RawMessage(`[1, 2]`)); err != nil {
			t.Fatalf("Publish raw: %v", err)
		}
		receive(t, events, `/chat/room [1,2]`)
	})
}

func TestWildcardDispatch(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr)
		ctx := testCtx(t)
		var mu sync.Mutex
		got := map[string][]string{}
		done := make(chan struct{}, 10)
		for _, pattern := range []string{"/w/*", "/w/**", "/w/x", "/other", "/fence"} {
			pattern := pattern
			_, err := c.Subscribe(ctx, pattern, func(m *bayeux.Message) {
				mu.Lock()
				got[pattern] = append(got[pattern], m.Channel)
				mu.Unlock()
				if m.Channel == "/fence" {
					done <- struct{}{}
				}
			})
			if err != nil {
				t.Fatalf("Subscribe %s: %v", pattern, err)
			}
		}
		for _, ch := range []string{"/w/x", "/w/x/y", "/w", "/fence"} {
			if err := c.Publish(ctx, ch, 1); err != nil {
				t.Fatalf("Publish %s: %v", ch, err)
			}
		}
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("fence event not received")
		}
		mu.Lock()
		defer mu.Unlock()
		want := map[string]string{
			"/w/*":   "[/w/x]",
			"/w/**":  "[/w/x /w/x/y]",
			"/w/x":   "[/w/x]",
			"/other": "[]",
			"/fence": "[/fence]",
		}
		for pattern, w := range want {
			if g := fmt.Sprint(got[pattern]); g != w {
				t.Errorf("%s received %s, want %s", pattern, g, w)
			}
		}
	})
}

func TestErrorsSurfaceAsBayeuxError(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr)
		ctx := testCtx(t)
		tests := []struct {
			name string
			do   func() error
			code int
			msg  string
		}{
			{"publish", func() error { return c.Publish(ctx, "/denied/x", "no") }, 403, "publish_denied"},
			{"subscribe", func() error {
				_, err := c.Subscribe(ctx, "/denied/x", func(*bayeux.Message) {})
				return err
			}, 403, "subscribe_denied"},
			{"async publish", func() error {
				res := make(chan error, 1)
				if err := c.PublishAsync(ctx, "/denied/y", 1, func(err error) { res <- err }); err != nil {
					return err
				}
				return <-res
			}, 403, "publish_denied"},
		}
		for _, tt := range tests {
			err := tt.do()
			var be *bayeux.Error
			if !errors.As(err, &be) || be.Code != tt.code || be.Message != tt.msg {
				t.Errorf("%s: error %v, want a *bayeux.Error %d %s", tt.name, err, tt.code, tt.msg)
			}
		}
		if _, ok := c.Publish(ctx, "/denied/z", 1).(*bayeux.Error); !ok {
			t.Error("Publish does not return the *bayeux.Error unwrapped")
		}
		if n := len(c.Subscriptions()); n != 0 {
			t.Errorf("a refused subscription is kept: %d subscriptions", n)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	c := client.New("http://127.0.0.1:1/cometd")
	ctx := testCtx(t)
	if _, err := c.Subscribe(ctx, "no-slash", func(*bayeux.Message) {}); err == nil {
		t.Error("Subscribe to an invalid channel succeeded")
	}
	if _, err := c.Subscribe(ctx, "/meta/connect", func(*bayeux.Message) {}); err == nil {
		t.Error("Subscribe to a meta channel succeeded")
	}
	if _, err := c.Subscribe(ctx, "/a", nil); err == nil {
		t.Error("Subscribe with a nil handler succeeded")
	}
	if err := c.Publish(ctx, "/a/*", 1); err == nil {
		t.Error("Publish to a wildcard succeeded")
	}
	if err := c.Publish(ctx, "/a", func() {}); err == nil {
		t.Error("Publish of unencodable data succeeded")
	}
	if err := c.Publish(ctx, "/a", 1); !errors.Is(err, client.ErrNotConnected) {
		t.Errorf("Publish without a session: %v, want ErrNotConnected", err)
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Errorf("Disconnect without a session: %v", err)
	}
}

func TestRehandshakeResubscribes(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		states := make(chan client.State, 20)
		srv, c := start(t, tr, client.WithStateHandler(func(s client.State, _ error) { states <- s }))
		ctx := testCtx(t)
		if s := <-states; s != client.StateHandshaking {
			t.Fatalf("first state %v", s)
		}
		if s := <-states; s != client.StateConnected {
			t.Fatalf("second state %v", s)
		}
		h, events := collector()
		if _, err := c.Subscribe(ctx, "/r/*", h); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		old := c.ClientID()
		srv.DropSessions()
		for _, want := range []client.State{client.StateRehandshaking, client.StateConnected} {
			select {
			case s := <-states:
				if s != want {
					t.Fatalf("state %v, want %v", s, want)
				}
			case <-time.After(waitFor):
				t.Fatalf("no state change, want %v", want)
			}
		}
		if id := c.ClientID(); id == "" || id == old {
			t.Fatalf("client id after re-handshake %q (was %q)", id, old)
		}
		if n := srv.Subscribes("/r/*"); n != 2 {
			t.Fatalf("server saw %d subscribes of /r/*, want 2", n)
		}
		if err := c.Publish(ctx, "/r/1", "again"); err != nil {
			t.Fatalf("Publish after re-handshake: %v", err)
		}
		receive(t, events, `/r/1 "again"`)
	})
}

func TestUnsubscribe(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr)
		ctx := testCtx(t)
		h1, ev1 := collector()
		h2, ev2 := collector()
		hf, fence := collector()
		s1, err := c.Subscribe(ctx, "/u", h1)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := c.Subscribe(ctx, "/u", h2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Subscribe(ctx, "/fence", hf); err != nil {
			t.Fatal(err)
		}
		if err := c.Unsubscribe(ctx, s1); err != nil {
			t.Fatalf("Unsubscribe first: %v", err)
		}
		if err := c.Publish(ctx, "/u", 1); err != nil {
			t.Fatal(err)
		}
		receive(t, ev2, "/u 1")
		if err := c.Unsubscribe(ctx, s2); err != nil {
			t.Fatalf("Unsubscribe second: %v", err)
		}
		if err := c.Publish(ctx, "/u", 2); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, "/fence", 3); err != nil {
			t.Fatal(err)
		}
		receive(t, fence, "/fence 3")
		if len(ev1) != 0 || len(ev2) != 0 {
			t.Errorf("events after unsubscribe: %d and %d", len(ev1), len(ev2))
		}
	})
}

func TestBatch(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr)
		ctx := testCtx(t)
		h, events := collector()
		b := c.NewBatch()
		if _, err := b.Subscribe("/b", h); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Subscribe("/denied/b", h); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish("/b", "one"); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish("/b", "two"); err != nil {
			t.Fatal(err)
		}
		err := b.Send(ctx)
		var be *bayeux.Error
		if !errors.As(err, &be) || be.Message != "subscribe_denied" {
			t.Fatalf("Send: %v, want the refusal of /denied/b", err)
		}
		receive(t, events, `/b "one"`)
		receive(t, events, `/b "two"`)
		if subs := c.Subscriptions(); len(subs) != 1 || subs[0].Channel() != "/b" {
			t.Errorf("subscriptions after batch: %v", subs)
		}
	})
}

func TestPublishAsyncWindow(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr)
		ctx := testCtx(t)
		const n = 200
		var got atomic.Int64
		all := make(chan struct{})
		if _, err := c.Subscribe(ctx, "/async", func(*bayeux.Message) {
			if got.Add(1) == n {
				close(all)
			}
		}); err != nil {
			t.Fatal(err)
		}
		window := make(chan struct{}, 16)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range n {
			window <- struct{}{}
			wg.Add(1)
			err := c.PublishAsync(ctx, "/async", i, func(err error) {
				if err != nil {
					failed.Add(1)
				}
				<-window
				wg.Done()
			})
			if err != nil {
				t.Fatalf("PublishAsync: %v", err)
			}
		}
		wg.Wait()
		if failed.Load() != 0 {
			t.Fatalf("%d publishes failed", failed.Load())
		}
		select {
		case <-all:
		case <-time.After(waitFor):
			t.Fatalf("received %d of %d events", got.Load(), n)
		}
	})
}

func TestDisconnect(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		srv, c := start(t, tr)
		ctx := testCtx(t)
		if _, err := c.Subscribe(ctx, "/d", func(*bayeux.Message) {}); err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect(ctx); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
		if c.State() != client.StateDisconnected || c.ClientID() != "" {
			t.Errorf("after Disconnect: state %v, id %q", c.State(), c.ClientID())
		}
		if n := srv.Sessions(); n != 0 {
			t.Errorf("server still has %d sessions", n)
		}
		if err := c.Publish(ctx, "/d", 1); !errors.Is(err, client.ErrNotConnected) {
			t.Errorf("Publish after Disconnect: %v", err)
		}
		// The Client can start a new session.
		if err := c.Handshake(ctx); err != nil {
			t.Fatalf("Handshake after Disconnect: %v", err)
		}
		if len(c.Subscriptions()) != 0 {
			t.Error("subscriptions survived Disconnect")
		}
	})
}

func TestHandshakeFailsWithoutServer(t *testing.T) {
	for _, tr := range transports {
		srv := bayeuxtest.NewServer(time.Second)
		url := srv.URL()
		srv.Close()
		c := client.New(url, append(transportOptions(tr), client.WithMaxNetworkDelay(time.Second))...)
		t0 := time.Now()
		err := c.Handshake(testCtx(t))
		t.Logf("%s: %v in %v", tr, err, time.Since(t0))
		if err == nil {
			t.Errorf("%s: Handshake to a closed server succeeded", tr)
		}
		if c.State() != client.StateDisconnected {
			t.Errorf("%s: state %v after a failed handshake", tr, c.State())
		}
	}
}

func TestValidTransport(t *testing.T) {
	for name, want := range map[string]bool{"websocket": true, "long-polling": true, "callback-polling": false, "": false} {
		if got := client.ValidTransport(name); got != want {
			t.Errorf("ValidTransport(%q) = %v", name, got)
		}
	}
}

func TestReconnectNoneStops(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		type change struct {
			s   client.State
			err error
		}
		changes := make(chan change, 20)
		srv, c := start(t, tr, client.WithStateHandler(func(s client.State, err error) { changes <- change{s, err} }))
		srv.RefuseConnects(bayeux.ReconnectNone)
		srv.DropSessions() // end the held connect now
		deadline := time.After(waitFor)
		for {
			select {
			case ch := <-changes:
				if ch.s != client.StateDisconnected {
					continue
				}
				if !errors.Is(ch.err, client.ErrReconnectNone) {
					t.Errorf("stopped with %v, want ErrReconnectNone", ch.err)
				}
				if err := c.Publish(testCtx(t), "/x", 1); !errors.Is(err, client.ErrNotConnected) {
					t.Errorf("Publish after reconnect none: %v", err)
				}
				return
			case <-deadline:
				t.Fatalf("client did not stop; state %v", c.State())
			}
		}
	})
}

func TestRetryAdviceKeepsSession(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		srv, c := start(t, tr)
		ctx := testCtx(t)
		h, events := collector()
		if _, err := c.Subscribe(ctx, "/keep", h); err != nil {
			t.Fatal(err)
		}
		id := c.ClientID()
		// Connects refused with retry advice, then a network failure: the
		// client backs off and retries, keeping its session.
		srv.RefuseConnects(bayeux.ReconnectRetry)
		srv.DropConnections()
		srv.Publish("/keep", []byte(`"queued"`))
		srv.RefuseConnects("")
		receive(t, events, `/keep "queued"`)
		if c.ClientID() != id || srv.Handshakes() != 1 {
			t.Errorf("session changed: id %q (was %q), %d handshakes", c.ClientID(), id, srv.Handshakes())
		}
		if err := c.Publish(ctx, "/keep", "after"); err != nil {
			t.Fatalf("Publish after reconnect: %v", err)
		}
		receive(t, events, `/keep "after"`)
	})
}

// TestInlineDispatch checks WithInlineDispatch: every event arrives, in the
// order published, and no two handlers run at once, although over
// long-polling responses arrive on two goroutines.
func TestInlineDispatch(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr, client.WithInlineDispatch())
		ctx := testCtx(t)
		const n = 200
		var running, overlaps atomic.Int32
		var mu sync.Mutex
		var got []int
		done := make(chan struct{})
		_, err := c.Subscribe(ctx, "/inline", func(m *bayeux.Message) {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer running.Add(-1)
			var v int
			if err := json.Unmarshal(m.Data, &v); err != nil {
				t.Errorf("data %s: %v", m.Data, err)
			}
			mu.Lock()
			got = append(got, v)
			if len(got) == n {
				close(done)
			}
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := c.PublishAsync(ctx, "/inline", i, nil); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(waitFor):
			mu.Lock()
			t.Fatalf("received %d of %d events", len(got), n)
		}
		mu.Lock()
		for i, v := range got {
			if v != i {
				t.Fatalf("event %d is %d: out of order", i, v)
			}
		}
		mu.Unlock()
		if overlaps.Load() != 0 {
			t.Errorf("handlers overlapped %d times", overlaps.Load())
		}
	})
}
