package house_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/cometgen/cometgen/examples/auction/auction"
	"github.com/cometgen/cometgen/examples/auction/bidder"
	"github.com/cometgen/cometgen/examples/auction/house"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/runtime/client/typed"
)

// serve starts a house with lots and returns its URL.
func serve(t *testing.T, lots ...house.Lot) (*house.House, string) {
	t.Helper()
	srv := runtime.New(runtime.Options{Timeout: time.Second})
	h, err := house.New(srv, lots, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		h.Stop()
		hs.Close()
		srv.Shutdown(context.Background())
	})
	return h, hs.URL + "/cometd"
}

// login returns a typed client of the house logged in as user, sending the
// contract it was generated from.
func login(t *testing.T, url, user string, tr string) *auction.Client {
	t.Helper()
	c := auction.NewClient(client.New(url, client.WithTransport(tr), client.WithResume(),
		client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": user}}),
		client.WithContract(auction.ContractPrint().ContractExt(), nil)))
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// TestBotAgainstPeople: a bidding bot on the typed Go client and two
// people bidding by publishing on /auction/{lot}/bids; everyone sees the
// same winner, the house agrees, and outbid notices reach only the
// previous leader.
func TestBotAgainstPeople(t *testing.T) {
	for _, tr := range []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling} {
		t.Run(tr, func(t *testing.T) {
			closes := time.Now().Add(2 * time.Second)
			h, url := serve(t, house.Lot{ID: "lot-7", Title: "A clock", Start: 1000, Currency: auction.CurrencyEUR, Closes: closes})
			ann, bob := login(t, url, "ann", tr), login(t, url, "bob", tr)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()

			type closedSeen struct {
				who, winner string
				cents       int64
			}
			seen := make(chan closedSeen, 4)
			for _, p := range []struct {
				who string
				c   *auction.Client
			}{{"ann", ann}, {"bob", bob}} {
				if _, err := p.c.AuctionClosed("lot-7").Subscribe(ctx, func(_ auction.AuctionClosed, m *auction.AuctionClosedMessage) {
					w := ""
					if m.Winner != nil {
						w = *m.Winner
					}
					seen <- closedSeen{p.who, w, m.Cents}
				}); err != nil {
					t.Fatal(err)
				}
			}
			annOutbid := make(chan auction.OutbidMessage, 16)
			if _, err := ann.Outbid("ann").Subscribe(ctx, func(_ auction.Outbid, m *auction.OutbidMessage) { annOutbid <- *m }); err != nil {
				t.Fatal(err)
			}
			// Nobody reads another's notices.
			var r *typed.Refusal
			if _, err := bob.Outbid("ann").Subscribe(ctx, func(auction.Outbid, *auction.OutbidMessage) {}); !errors.As(err, &r) || r.Code != 403 {
				t.Errorf("bob subscribing to ann's notices: %v, want 403", err)
			}

			bot := login(t, url, "robot", tr)
			result := make(chan bidder.Result, 1)
			go func() {
				res, err := (&bidder.Bidder{C: bot, User: "robot", Lot: "lot-7", Max: 1_000_000, Step: 100}).Run(ctx)
				if err != nil {
					t.Errorf("bot: %v", err)
				}
				result <- res
			}()

			// The schema refuses before sending; the server refuses a low
			// bid and one in the wrong currency.
			var ve *typed.ValidationError
			if err := ann.AuctionBids("lot-7").Publish(ctx, &auction.Bid{Cents: -5, Currency: auction.CurrencyEUR, At: time.Now()}); !errors.As(err, &ve) || ve.Field() != "/cents" {
				t.Errorf("negative bid: %v, want a ValidationError on /cents", err)
			}
			if err := ann.AuctionBids("lot-7").Publish(ctx, &auction.Bid{Cents: 500, Currency: auction.CurrencyEUR, At: time.Now()}); !errors.As(err, &r) || r.Reason != "bid_rejected" || r.Args[0] != house.ReasonTooLow {
				t.Errorf("low bid: %v, want 400:too_low:bid_rejected", err)
			}
			if err := ann.AuctionBids("lot-7").Publish(ctx, &auction.Bid{Cents: 99_999, Currency: auction.CurrencyUSD, At: time.Now()}); !errors.As(err, &r) || r.Args[0] != house.ReasonCurrency {
				t.Errorf("bid in USD: %v", err)
			}
			// ann bids high: the bot outbids her, and she is told.
			if err := ann.AuctionBids("lot-7").Publish(ctx, &auction.Bid{Cents: 50_000, Currency: auction.CurrencyEUR, At: time.Now()}); err != nil {
				t.Fatal(err)
			}
			n := waitFor(t, annOutbid, "outbid notice for ann")
			if n.Lot != "lot-7" || n.Cents <= 50_000 {
				t.Errorf("ann's notice: %+v", n)
			}
			// bob bids through the remote call; the bot answers again.
			for {
				lots, err := bob.ServiceLots().Call(ctx, &auction.ServiceLotsRequest{})
				if err != nil {
					t.Fatal(err)
				}
				reply, err := bob.ServiceBid().Call(ctx, &auction.ServiceBidRequest{Lot: "lot-7", Cents: lots[0].Cents + 1000, Currency: auction.CurrencyEUR})
				if err != nil {
					t.Fatal(err)
				}
				if reply.Accepted {
					break
				}
				if *reply.Reason != house.ReasonTooLow {
					t.Fatalf("bob's bid: %+v", reply)
				}
			}

			res := waitFor(t, result, "bot result")
			leader, cents, closed := h.Winner("lot-7")
			if !closed || leader != "robot" || res.Winner != "robot" || res.Cents != cents || res.Bids < 2 {
				t.Errorf("house: %s %d closed %v; bot: %+v", leader, cents, closed, res)
			}
			for range 2 {
				s := waitFor(t, seen, "close")
				if s.winner != leader || s.cents != cents {
					t.Errorf("%s saw %s win at %d, house %s at %d", s.who, s.winner, s.cents, leader, cents)
				}
			}
			if err := ann.AuctionBids("lot-7").Publish(ctx, &auction.Bid{Cents: cents + 100, Currency: auction.CurrencyEUR, At: time.Now()}); !errors.As(err, &r) || r.Args[0] != house.ReasonClosed {
				t.Errorf("bid after the close: %v", err)
			}
		})
	}
}

// TestContractPrint: a typed client sending the print it was generated
// from is told of nothing; one generated from a contract whose price
// channel delivered something else is told that channel breaks.
func TestContractPrint(t *testing.T) {
	_, url := serve(t, house.Lot{ID: "lot-1", Title: "A clock", Start: 100, Currency: auction.CurrencyEUR, Closes: time.Now().Add(time.Minute)})
	current := login(t, url, "ann", bayeux.TransportLongPolling)
	if ch, ok := current.ContractChanged(); ok {
		t.Errorf("the current contract: told of a change %+v", ch)
	}

	old := *auction.ContractPrint()
	old.Hash = "older"
	old.Channels = slices.Clone(old.Channels)
	for i, c := range old.Channels {
		if c.Pattern == "/auction/{lot}/price" {
			old.Channels[i].Deliver = "older"
		}
	}
	changed := make(chan client.ContractChange, 1)
	c := auction.NewClient(client.New(url, client.WithTransport(bayeux.TransportLongPolling),
		client.WithHandshakeExt(map[string]any{"auth": map[string]any{"token": "bob"}}),
		client.WithContract(old.ContractExt(), func(ch client.ContractChange) { changed <- ch })))
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	ch := waitFor(t, changed, "contract change")
	if ch.Spec != "auction" || !slices.Equal(ch.Breaking, []string{"/auction/{lot}/price"}) {
		t.Errorf("change %+v, want /auction/{lot}/price breaking", ch)
	}
}
