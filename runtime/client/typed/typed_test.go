package typed_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/contracttest/gen/genclient"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/runtime/client/typed"
)

// handlers serve the generated package of generator/testdata/goclient:
// a handshake with ext.auth.token "member" gets the role member; a bid of
// more than 1,000,000 is refused by the handler; /service/bid accepts bids
// in EUR; /service/ping fails.
type handlers struct{ genclient.Accept }

func (handlers) Authenticate(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	if auth, _ := m.Ext["auth"].(map[string]any); auth["token"] == "member" {
		s.SetUser("ann", "member")
	}
	return nil
}

func (handlers) OnLotIDBids(_ context.Context, _ *runtime.ServerSession, _ genclient.LotIDBids, msg *genclient.Bid) error {
	if msg.Amount > 1_000_000 {
		return bayeux.NewError(400, "data_rejected", "too much")
	}
	return nil
}

func (handlers) ServiceBid(_ context.Context, _ *runtime.ServerSession, req *genclient.Bid) (genclient.ServiceBidReply, error) {
	return genclient.ServiceBidReply{Accepted: req.Currency == genclient.BidCurrencyEUR}, nil
}

func (handlers) ServicePing(context.Context, *runtime.ServerSession, *genclient.ServicePingRequest) error {
	return errors.New("no pong")
}

// swappable serves a runtime.Server the test can replace, as a restarted
// process would be.
type swappable struct {
	cur atomic.Pointer[runtime.Server]
}

func (h *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.cur.Load().ServeHTTP(w, r) }

func newServer(t *testing.T) *runtime.Server {
	srv := runtime.New(runtime.Options{Timeout: time.Second})
	if err := genclient.Register(srv, handlers{}); err != nil {
		t.Fatal(err)
	}
	return srv
}

var transports = []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling}

// start serves the generated package and returns a typed client that has
// handshaken with token, on transport tr.
func start(t *testing.T, tr, token string, opts ...typed.Option) (*swappable, *genclient.Client) {
	t.Helper()
	h := &swappable{}
	h.cur.Store(newServer(t))
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.Close()
		h.cur.Load().Shutdown(context.Background())
	})
	rc := client.New(hs.URL+"/cometd", client.WithTransport(tr), client.WithResume(),
		client.WithBackoff(50*time.Millisecond, 200*time.Millisecond),
		client.WithHandshakeExt(map[string]any{"auth": map[string]string{"token": token}}))
	c := genclient.NewClient(rc, opts...)
	if err := c.Handshake(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return h, c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func forEachTransport(t *testing.T, f func(t *testing.T, tr string)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			f(t, tr)
		})
	}
}

type bidEvent struct {
	lot string
	bid genclient.Bid
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	var zero T
	return zero
}

// TestSubscribePublish: a typed publish reaches a typed subscription,
// decoded, with the channel's parameters, on both transports.
func TestSubscribePublish(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr, "member")
		ctx := testCtx(t)
		got := make(chan bidEvent, 10)
		sub, err := c.LotIDBids("lot-7").Subscribe(ctx, func(ch genclient.LotIDBids, bid *genclient.Bid) {
			got <- bidEvent{ch.ID, *bid}
		})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		if err := c.LotIDBids("lot-7").Publish(ctx, &genclient.Bid{Amount: 1500, Currency: genclient.BidCurrencyEUR, At: &at}); err != nil {
			t.Fatal(err)
		}
		e := receive(t, got)
		if e.lot != "lot-7" || e.bid.Amount != 1500 || e.bid.Currency != "EUR" || !e.bid.At.Equal(at) {
			t.Errorf("received %+v", e)
		}
		if err := sub.Unsubscribe(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRefusals: what the client does not send, and how the server's
// refusals come back.
func TestRefusals(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr, "member")
		ctx := testCtx(t)
		bad := &genclient.Bid{Amount: 0, Currency: "GBP"}

		// Validation before sending: both fields named.
		var ve *typed.ValidationError
		if err := c.LotIDBids("lot-7").Publish(ctx, bad); !errors.As(err, &ve) || ve.Field() != "/amount" || len(ve.Violations) != 2 {
			t.Errorf("invalid bid: %v, want a ValidationError on /amount and /currency", err)
		}

		// The same bid unchecked: the server's refusal, parsed.
		unchecked := genclient.NewClient(c.Client.Client, typed.WithoutValidation())
		var r *typed.Refusal
		err := unchecked.LotIDBids("lot-7").Publish(ctx, bad)
		if !errors.As(err, &r) || r.Code != 400 || r.Reason != "invalid_message" || r.Field() != "/amount" || len(r.Violations) != 2 || r.Violations[1].Path != "/currency" {
			t.Fatalf("invalid bid unchecked: %v (%+v), want a Refusal on /amount and /currency", err, r)
		}
		var be *bayeux.Error
		if !errors.As(err, &be) || be.Code != 400 {
			t.Errorf("a Refusal unwraps to the Bayeux error: %v", err)
		}

		// A handler's refusal.
		if err := c.LotIDBids("lot-7").Publish(ctx, &genclient.Bid{Amount: 2_000_000, Currency: "EUR"}); !errors.As(err, &r) || r.Reason != "data_rejected" || r.Field() != "" {
			t.Errorf("bid refused by the handler: %v", err)
		}

		// A parameter its rule refuses: nothing is sent.
		if err := c.LotIDBids("Lot 7").Publish(ctx, &genclient.Bid{Amount: 1, Currency: "EUR"}); err == nil || errors.As(err, &r) {
			t.Errorf("bad lot id: %v, want the parameter's error", err)
		}
		if _, err := c.LotIDBids("a/b").Subscribe(ctx, func(genclient.LotIDBids, *genclient.Bid) {}); err == nil {
			t.Errorf("lot id with a slash: subscribed")
		}
	})
}

// TestDenied: a rule's refusal is a Refusal with the rule's reason.
func TestDenied(t *testing.T) {
	_, c := start(t, bayeux.TransportWebSocket, "")
	var r *typed.Refusal
	err := c.LotIDBids("lot-7").Publish(testCtx(t), &genclient.Bid{Amount: 1, Currency: "EUR"})
	if !errors.As(err, &r) || r.Code != 403 || r.Reason != "publish_denied" {
		t.Errorf("anonymous bid: %v, want 403 publish_denied", err)
	}
}

// TestCall: typed remote calls, their failures and deadlines.
func TestCall(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		_, c := start(t, tr, "member")
		ctx := testCtx(t)
		reply, err := c.ServiceBid().Call(ctx, &genclient.Bid{Amount: 5, Currency: "EUR"})
		if err != nil || !reply.Accepted {
			t.Errorf("call: %+v, %v", reply, err)
		}
		reply, err = c.ServiceBid().Call(ctx, &genclient.Bid{Amount: 5, Currency: "USD"})
		if err != nil || reply.Accepted {
			t.Errorf("call in USD: %+v, %v", reply, err)
		}
		var ve *typed.ValidationError
		if _, err := c.ServiceBid().Call(ctx, &genclient.Bid{Currency: "EUR"}); !errors.As(err, &ve) || ve.Field() != "/amount" {
			t.Errorf("invalid request: %v", err)
		}
		var ce *typed.CallError
		if _, err := c.ServicePing().Call(ctx, &genclient.ServicePingRequest{}); !errors.As(err, &ce) || string(ce.Data) != `"no pong"` {
			t.Errorf("failing call: %v", err)
		}
		if _, err := c.ServiceLotIDClose("lot-7").Call(ctx, &genclient.ServiceLotIDCloseRequest{}); err != nil {
			t.Errorf("call with parameters: %v", err)
		}
		short, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-short.Done()
		if _, err := c.ServiceBid().Call(short, &genclient.Bid{Amount: 5, Currency: "EUR"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call past its deadline: %v", err)
		}
	})
}

// TestWildcard: a wildcard subscription's handler gets each message's
// channel; PublishOn publishes only on the channels the pattern matches.
func TestWildcard(t *testing.T) {
	h, c := start(t, bayeux.TransportWebSocket, "member")
	ctx := testCtx(t)
	feed := make(chan string, 10)
	if _, err := c.FeedAll().Subscribe(ctx, func(channel string, msg *genclient.FeedAllMessage) {
		feed <- channel + " " + string((*msg)["k"])
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cur.Load().Publish("/feed/a/b", map[string]int{"k": 1}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, feed); got != "/feed/a/b 1" {
		t.Errorf("feed: %q", got)
	}
	news := make(chan string, 10)
	if _, err := c.NewsAny().Subscribe(ctx, func(channel string, msg *genclient.NewsAnyMessage) {
		news <- channel + " " + string(*msg)
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.NewsAny().PublishOn(ctx, "/news/today", ptr(genclient.NewsAnyMessage("rain"))); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, news); got != "/news/today rain" {
		t.Errorf("news: %q", got)
	}
	if err := c.NewsAny().PublishOn(ctx, "/news/a/b", ptr(genclient.NewsAnyMessage("x"))); err == nil {
		t.Error("published on a channel /news/* does not match")
	}
}

func ptr[T any](v T) *T { return &v }

// TestResubscribeAfterRestart: the server forgets the session (a restart);
// the client handshakes again and its typed subscriptions go on.
func TestResubscribeAfterRestart(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr string) {
		h, c := start(t, tr, "member")
		ctx := testCtx(t)
		got := make(chan bidEvent, 10)
		if _, err := c.LotIDBids("lot-7").Subscribe(ctx, func(ch genclient.LotIDBids, bid *genclient.Bid) {
			got <- bidEvent{ch.ID, *bid}
		}); err != nil {
			t.Fatal(err)
		}
		old := c.ClientID()
		h.cur.Swap(newServer(t)).Shutdown(ctx)
		for c.ClientID() == "" || c.ClientID() == old {
			select {
			case <-ctx.Done():
				t.Fatal("no new session")
			case <-time.After(10 * time.Millisecond):
			}
		}
		// The re-subscription may still be on its way: publish until one
		// arrives.
		for {
			if err := c.LotIDBids("lot-7").Publish(ctx, &genclient.Bid{Amount: 9, Currency: "USD"}); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-got:
				if e.lot != "lot-7" || e.bid.Amount != 9 {
					t.Fatalf("received %+v", e)
				}
				return
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				t.Fatal("no delivery after the new handshake")
			}
		}
	})
}

// TestDecodeError: a delivery that does not decode (here from a server
// that enforces no contract) reaches the error handler, not the
// subscription's handler.
func TestDecodeError(t *testing.T) {
	srv := runtime.New(runtime.Options{})
	defer srv.Shutdown(context.Background())
	hs := httptest.NewServer(srv)
	defer hs.Close()
	errs := make(chan error, 1)
	c := genclient.NewClient(client.New(hs.URL+"/cometd"), typed.WithErrorHandler(func(err error) { errs <- err }))
	ctx := testCtx(t)
	if err := c.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	if _, err := c.FeedAll().Subscribe(ctx, func(string, *genclient.FeedAllMessage) { t.Error("handler called") }); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Publish("/feed/x", json.RawMessage(`[1]`)); err != nil {
		t.Fatal(err)
	}
	var de *typed.DecodeError
	if err := receive(t, errs); !errors.As(err, &de) || de.Channel != "/feed/x" {
		t.Errorf("error %v", err)
	}
}

func TestParseViolations(t *testing.T) {
	vs, more := typed.ParseViolations([]string{"(root) required missing properties; 'text'", "/a/0 type got string; want integer", "and 3 more"})
	if len(vs) != 2 || vs[0].Path != "" || vs[1].Path != "/a/0" || vs[1].Message != "type got string; want integer" || more != 3 {
		t.Errorf("ParseViolations: %+v, %d", vs, more)
	}
}
