// Package bidder is the bidding bot of examples/auction, a Go program on
// the typed client generated from the spec (auction.Client): it watches a
// lot's price, its own outbid notices and the lot's close, and whenever
// someone else leads it bids the price plus a step through the remote call
// /service/bid, up to its maximum.
package bidder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cometgen/cometgen/examples/auction/auction"
)

// Bidder bids on one lot for the user its client logged in as.
type Bidder struct {
	C    *auction.Client
	User string // the login of C's session
	Lot  string
	Max  int64 // the most it bids, in cents
	Step int64 // how much it bids over the price, in cents (default 100)
	// Delay is how long it waits before answering a new price (default
	// none), so that people have a chance.
	Delay time.Duration
}

// Result is how the lot closed.
type Result struct {
	Winner string // "" when nobody bid
	Cents  int64
	Bids   int // the bids the bidder made that were accepted
}

// Run bids until the lot closes or ctx ends. C must have handshaken.
func (b *Bidder) Run(ctx context.Context) (Result, error) {
	step := b.Step
	if step <= 0 {
		step = 100
	}
	prices := make(chan auction.Price, 64)
	closed := make(chan auction.AuctionClosedMessage, 1)
	subs := []interface{ Unsubscribe(context.Context) error }{}
	defer func() {
		for _, s := range subs {
			s.Unsubscribe(context.Background())
		}
	}()
	sub, err := b.C.AuctionPrice(b.Lot).Subscribe(ctx, func(_ auction.AuctionPrice, p *auction.Price) { prices <- *p })
	if err != nil {
		return Result{}, err
	}
	subs = append(subs, sub)
	sub, err = b.C.AuctionClosed(b.Lot).Subscribe(ctx, func(_ auction.AuctionClosed, m *auction.AuctionClosedMessage) { closed <- *m })
	if err != nil {
		return Result{}, err
	}
	subs = append(subs, sub)
	// An outbid notice comes before the lazy price: answer it at once.
	sub, err = b.C.Outbid(b.User).Subscribe(ctx, func(_ auction.Outbid, m *auction.OutbidMessage) {
		prices <- auction.Price{Lot: m.Lot, Cents: m.Cents, Currency: m.Currency, Leader: &m.By}
	})
	if err != nil {
		return Result{}, err
	}
	subs = append(subs, sub)

	lots, err := b.C.ServiceLots().Call(ctx, &auction.ServiceLotsRequest{})
	if err != nil {
		return Result{}, err
	}
	var res Result
	found := false
	for _, l := range lots {
		if l.Lot == b.Lot {
			found = true
			prices <- auction.Price{Lot: l.Lot, Cents: l.Cents, Currency: l.Currency, Leader: l.Leader, Closed: l.Closed}
		}
	}
	if !found {
		return Result{}, fmt.Errorf("no lot %q on sale", b.Lot)
	}
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case m := <-closed:
			res.Cents = m.Cents
			if m.Winner != nil {
				res.Winner = *m.Winner
			}
			return res, nil
		case p := <-prices:
			if p.Closed || p.Leader != nil && *p.Leader == b.User || p.Cents+step > b.Max {
				continue
			}
			if b.Delay > 0 {
				select {
				case <-time.After(b.Delay):
				case <-ctx.Done():
					return res, ctx.Err()
				}
			}
			reply, err := b.C.ServiceBid().Call(ctx, &auction.ServiceBidRequest{Lot: b.Lot, Cents: p.Cents + step, Currency: p.Currency})
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				return res, err
			case err != nil:
				return res, fmt.Errorf("bid on %s: %w", b.Lot, err)
			case reply.Accepted:
				res.Bids++
			}
			// A refused bid: someone bid meanwhile, and the price that
			// bid published comes next.
		}
	}
}
