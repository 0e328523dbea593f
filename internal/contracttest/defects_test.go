package contracttest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/contracttest/gen/auction"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
)

var discard = slog.New(slog.DiscardHandler)

// The tests of this file pin, on both paths, what outside checks found the
// server doing against the auction spec (testdata/auction.yaml), and what
// docs/spec.md says instead.

func loadSpec(t *testing.T, name string) *schema.Spec {
	t.Helper()
	spec, err := schema.Load(specs[name])
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// events returns the data of the deliveries on channel, as JSON text
// (encoded again without HTML escapes: "&", not "\u0026").
func events(rs []reply, channel string) []string {
	var out []string
	for _, r := range rs {
		if r.Channel == channel {
			out = append(out, canonical(r.Data))
		}
	}
	return out
}

// canonical returns data encoded as encoding/json does, without escaping
// HTML.
func canonical(data json.RawMessage) string {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return "invalid JSON: " + string(data)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func expectOutcome(t *testing.T, what string, r reply, want string) {
	t.Helper()
	if got := r.outcome(); got != want {
		t.Errorf("%s: %s, want %s", what, got, want)
	}
}

func expectEvents(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: delivered %q, want %q", what, got, want)
	}
}

// TestFiltersStayOnTheirChannel: /room/{id}/talk declares no-markup and
// max-length 10, its sibling /room/{id}/log no filter.
func TestFiltersStayOnTheirChannel(t *testing.T) {
	spec := loadSpec(t, "auction")
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			srv := newServer(t, p, spec, runtime.Options{})
			sub := handshake(t, srv, "")
			expectOutcome(t, "subscribe log", sub.subscribe("/room/1/log"), "ok")
			expectOutcome(t, "subscribe talk", sub.subscribe("/room/1/talk"), "ok")
			pub := handshake(t, srv, "")

			expectOutcome(t, "markup on log", pub.publish("/room/1/log", json.RawMessage(`{"text":"<b>"}`), nil), "ok")
			expectOutcome(t, "12 characters on log", pub.publish("/room/1/log", json.RawMessage(`{"text":"hello world!"}`), nil), "ok")
			expectEvents(t, "log", events(sub.drain(), "/room/1/log"), `{"text":"<b>"}`, `{"text":"hello world!"}`)

			expectOutcome(t, "markup on talk", pub.publish("/room/1/talk", json.RawMessage(`{"text":"<b>"}`), nil), "ok")
			expectOutcome(t, "12 characters on talk", pub.publish("/room/1/talk", json.RawMessage(`{"text":"hello world!"}`), nil),
				"refused 400:text is longer than 10 characters:data_rejected")
			expectEvents(t, "talk", events(sub.drain(), "/room/1/talk"), `{"text":"&lt;b&gt;"}`)
		})
	}
}

// TestLazyStaysOnItsChannel: lazy is declared on /auction/{id}/lot only; a
// bid on /auction/{id}/bids wakes its subscriber at once.
func TestLazyStaysOnItsChannel(t *testing.T) {
	spec := loadSpec(t, "auction")
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			srv := newServer(t, p, spec, runtime.Options{Timeout: 20 * time.Second, MaxLazyTimeout: 20 * time.Second})
			sub := handshake(t, srv, "")
			expectOutcome(t, "subscribe bids", sub.subscribe("/auction/a1/bids"), "ok")
			expectOutcome(t, "subscribe lot", sub.subscribe("/auction/a1/lot"), "ok")
			bidder := handshake(t, srv, "ann", "bidder")

			held := sub.heldConnect(15 * time.Second)
			if _, err := srv.Publish("/auction/a1/lot", json.RawMessage(`{"price":100}`)); err != nil {
				t.Fatalf("publish the lot: %v", err)
			}
			select {
			case rs := <-held:
				t.Fatalf("a lazy lot update woke the subscriber: %+v", rs)
			case <-time.After(300 * time.Millisecond):
			}
			expectOutcome(t, "bid", bidder.publish("/auction/a1/bids", json.RawMessage(`{"amount":150,"currency":"EUR"}`), nil), "ok")
			select {
			case rs := <-held:
				expectEvents(t, "lot", events(rs, "/auction/a1/lot"), `{"price":100}`)
				expectEvents(t, "bids", events(rs, "/auction/a1/bids"), `{"amount":150,"currency":"EUR"}`)
			case <-time.After(10 * time.Second):
				t.Fatal("a bid did not wake its subscriber: /auction/{id}/bids is lazy too")
			}
		})
	}
}

// TestLocalStaysOnItsChannel: local is declared on /auction/{id}/cursor
// only; bids cross to the other node of a cluster.
func TestLocalStaysOnItsChannel(t *testing.T) {
	spec := loadSpec(t, "auction")
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			cluster := runtime.NewMemoryCluster()
			a := newServer(t, p, spec, runtime.Options{Broker: cluster.Broker()})
			b := newServer(t, p, spec, runtime.Options{Broker: cluster.Broker()})
			sub := handshake(t, b, "")
			expectOutcome(t, "subscribe bids", sub.subscribe("/auction/a1/bids"), "ok")
			expectOutcome(t, "subscribe cursor", sub.subscribe("/auction/a1/cursor"), "ok")
			bidder := handshake(t, a, "ann", "bidder")
			expectOutcome(t, "cursor", bidder.publish("/auction/a1/cursor", json.RawMessage(`{"x":1}`), nil), "ok")
			expectOutcome(t, "bid", bidder.publish("/auction/a1/bids", json.RawMessage(`{"amount":2,"currency":"USD"}`), nil), "ok")
			var got []reply
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(events(got, "/auction/a1/bids")) == 0; {
				got = append(got, sub.drain()...)
				time.Sleep(10 * time.Millisecond)
			}
			expectEvents(t, "bids on the other node", events(got, "/auction/a1/bids"), `{"amount":2,"currency":"USD"}`)
			expectEvents(t, "cursor on the other node", events(got, "/auction/a1/cursor"))
		})
	}
}

// TestServiceRules: /service/wipe allows admin, /service/tick the server
// only; both paths refuse every other caller before any handler runs.
func TestServiceRules(t *testing.T) {
	spec := loadSpec(t, "auction")
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			srv := newServer(t, p, spec, runtime.Options{})
			anon, ann, root := handshake(t, srv, ""), handshake(t, srv, "ann", "bidder"), handshake(t, srv, "root", "admin")
			denied := "refused 403:denied_by_rule:publish_denied"
			expectOutcome(t, "anonymous wipe", anon.publish("/service/wipe", json.RawMessage(`{}`), nil), denied)
			expectOutcome(t, "bidder wipe", ann.publish("/service/wipe", json.RawMessage(`{}`), nil), denied)
			expectOutcome(t, "admin wipe", root.publish("/service/wipe", json.RawMessage(`{}`), nil), "ok")
			expectOutcome(t, "admin tick", root.publish("/service/tick", json.RawMessage(`{}`), nil), denied)
			expectOutcome(t, "anonymous tick", anon.publish("/service/tick", json.RawMessage(`{}`), nil), denied)
			expectOutcome(t, "ask, invalid lot", anon.publish("/service/lot/NO/ask", json.RawMessage(`{"q":"?"}`), nil),
				`refused 400:id "NO" does not match its pattern:invalid_channel`)
			expectOutcome(t, "ask, invalid request", anon.publish("/service/lot/l1/ask", json.RawMessage(`{}`), nil),
				"refused 400:(root) required missing properties 'q':invalid_message")
		})
	}
}

// TestWildcardSubscriptionsNeverWiden: a wildcard subscriber receives only
// the messages of channels whose subscribe rule it passes, with
// undeclared channels allowed or not.
func TestWildcardSubscriptionsNeverWiden(t *testing.T) {
	spec := loadSpec(t, "auction")
	type setup struct {
		name   string
		server func(t *testing.T) *runtime.Server
		// wild are the wildcard subscriptions the server accepts.
		wild []string
	}
	setups := []setup{{
		name: "gateway, undeclared allowed",
		server: func(t *testing.T) *runtime.Server {
			srv := runtime.New(runtime.Options{Logger: discard})
			t.Cleanup(func() { srv.Shutdown(context.Background()) })
			installGateway(t, srv, spec, true)
			srv.SetSecurityPolicy(identity{})
			return srv
		},
		wild: []string{"/**", "/user/**", "/user/bob/*", "/staff/*"},
	}}
	for _, p := range paths {
		setups = append(setups, setup{name: p.name, server: func(t *testing.T) *runtime.Server { return newServer(t, p, spec, runtime.Options{}) }})
	}
	for _, st := range setups {
		t.Run(st.name, func(t *testing.T) {
			srv := st.server(t)
			anon, bob, root := handshake(t, srv, ""), handshake(t, srv, "bob"), handshake(t, srv, "root", "admin")
			for _, c := range []*client{anon, bob, root} {
				for _, w := range []string{"/**", "/user/**", "/user/bob/*", "/staff/*"} {
					r := c.subscribe(w)
					accepted := strings.Contains(strings.Join(st.wild, " "), w)
					if got := r.outcome() == "ok"; got != accepted {
						t.Errorf("subscribe %s: %s", w, r.outcome())
					}
				}
			}
			if _, err := srv.Publish("/user/bob/inbox", json.RawMessage(`{"text":"for bob"}`)); err != nil {
				t.Fatal(err)
			}
			expectOutcome(t, "staff news", root.publish("/staff/news", json.RawMessage(`{"text":"staff"}`), nil), "ok")
			anonGot, bobGot, rootGot := anon.drain(), bob.drain(), root.drain()
			expectEvents(t, "anonymous: bob's inbox", events(anonGot, "/user/bob/inbox"))
			expectEvents(t, "anonymous: staff news", events(anonGot, "/staff/news"))
			expectEvents(t, "root: bob's inbox", events(rootGot, "/user/bob/inbox"))
			expectEvents(t, "bob: staff news", events(bobGot, "/staff/news"))
			if len(st.wild) > 0 {
				expectEvents(t, "bob: his inbox", events(bobGot, "/user/bob/inbox"), `{"text":"for bob"}`)
				expectEvents(t, "root: staff news", events(rootGot, "/staff/news"), `{"text":"staff"}`)
			}
		})
	}
}

// TestPublisherExtStaysBehind: what a publisher puts in ext does not reach
// the subscribers of a declared channel.
func TestPublisherExtStaysBehind(t *testing.T) {
	spec := loadSpec(t, "auction")
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			srv := newServer(t, p, spec, runtime.Options{})
			sub := handshake(t, srv, "")
			expectOutcome(t, "subscribe", sub.subscribe("/room/1/talk"), "ok")
			pub := handshake(t, srv, "")
			ext := map[string]any{"html": `<img src=x onerror="alert(1)">`, "padding": strings.Repeat("x", 100<<10)}
			expectOutcome(t, "publish", pub.publish("/room/1/talk", json.RawMessage(`{"text":"hi"}`), ext), "ok")
			for _, r := range sub.drain() {
				if r.Channel == "/room/1/talk" && len(r.Ext) > 0 {
					t.Errorf("the publisher's ext reached a subscriber: %.80v", r.Ext)
				}
			}
		})
	}
}

// talkRecorder is the auction's handlers, recording what the handler of
// /room/{id}/talk sees.
type talkRecorder struct {
	auction.Accept
	seen chan string
}

func (h talkRecorder) OnRoomIDTalk(_ context.Context, _ *runtime.ServerSession, _ auction.RoomIDTalk, msg *auction.Line) error {
	h.seen <- msg.Text
	return nil
}

// TestHandlerSeesWhatIsDelivered: the filters run before the typed handler.
func TestHandlerSeesWhatIsDelivered(t *testing.T) {
	srv := runtime.New(runtime.Options{Logger: discard})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	h := talkRecorder{seen: make(chan string, 1)}
	if err := auction.Register(srv, h); err != nil {
		t.Fatal(err)
	}
	srv.SetSecurityPolicy(identity{})
	sub := handshake(t, srv, "")
	expectOutcome(t, "subscribe", sub.subscribe("/room/1/talk"), "ok")
	expectOutcome(t, "publish", sub.publish("/room/1/talk", json.RawMessage(`{"text":"  <i>a "}`), nil), "ok")
	select {
	case got := <-h.seen:
		if want := "&lt;i&gt;a"; got != want {
			t.Errorf("the handler saw %q, want %q (trimmed, then no-markup)", got, want)
		}
	default:
		t.Fatal("the handler did not run")
	}
	expectEvents(t, "delivered", events(sub.drain(), "/room/1/talk"), `{"text":"&lt;i&gt;a"}`)
}
