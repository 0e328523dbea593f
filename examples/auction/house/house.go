// Package house is the auction house of examples/auction: the server side of
// the contract generated from cometgen.yaml (package auction). It keeps the
// lots, judges every bid (published on /auction/{lot}/bids or made through
// the remote call /service/bid) under one lock, so that two bids on a lot
// are ordered and the lot has one leader, and after each accepted bid it
// publishes the lot's price (a lazy message), tells the previous leader he
// was outbid (on his private /user/{id}/outbid), and at the closing time
// announces the winner on /auction/{lot}/closed.
package house

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/cometgen/cometgen/examples/auction/auction"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/ext"
)

// Lot is a lot put on sale.
type Lot struct {
	ID       string // as in /auction/{lot}/…: a-z, 0-9 and '-'
	Title    string
	Start    int64 // the opening price in cents: the first bid must beat it
	Currency auction.Currency
	Closes   time.Time
}

// lot is a lot's state.
type lot struct {
	Lot
	cents  int64
	leader string
	bids   int
	closed bool
}

// House is the auction house: the generated Handlers of the contract.
type House struct {
	auction.UnimplementedHandlers
	srv *runtime.Server
	log *slog.Logger

	mu     sync.Mutex
	lots   map[string]*lot
	order  []string // lot ids in the order given
	timers []*time.Timer
}

// validName is the syntax of logins (the parameter of /user/{id}/outbid).
var validName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// New installs the auction house on srv with the lots: the contract, the
// timesync extension (the page's countdown reads the server's clock
// through it), and a timer per lot that closes it.
func New(srv *runtime.Server, lots []Lot, log *slog.Logger) (*House, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &House{srv: srv, log: log, lots: make(map[string]*lot)}
	for _, l := range lots {
		if _, err := auction.ParseAuctionBids(auction.AuctionBids{Lot: l.ID}.Name()); err != nil {
			return nil, fmt.Errorf("lot %q: %w", l.ID, err)
		}
		if _, dup := h.lots[l.ID]; dup {
			return nil, fmt.Errorf("lot %q: given twice", l.ID)
		}
		if !l.Currency.Valid() {
			return nil, fmt.Errorf("lot %q: currency %q", l.ID, l.Currency)
		}
		h.lots[l.ID] = &lot{Lot: l, cents: l.Start}
		h.order = append(h.order, l.ID)
	}
	if err := auction.Register(srv, h); err != nil {
		return nil, err
	}
	srv.AddExtension(&ext.TimeSync{})
	for _, id := range h.order {
		id := id
		h.timers = append(h.timers, time.AfterFunc(time.Until(h.lots[id].Closes), func() { h.close(id) }))
	}
	return h, nil
}

// Stop stops the closing timers.
func (h *House) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.timers {
		t.Stop()
	}
}

// Authenticate accepts a handshake whose ext is {"auth":{"token":LOGIN}}
// and makes LOGIN the session's user. Like the chat example, it trusts the
// token as a login; a real house verifies a signed token.
func (h *House) Authenticate(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	auth, _ := m.Ext["auth"].(map[string]any)
	user, _ := auth["token"].(string)
	if !validName.MatchString(user) {
		return errors.New("invalid_login")
	}
	s.SetUser(user)
	return nil
}

// Reasons a bid is refused: the argument of "400:<reason>:bid_rejected",
// and the reason of a /service/bid reply.
const (
	ReasonNoLot     = "no_such_lot"
	ReasonClosed    = "lot_closed"
	ReasonCurrency  = "wrong_currency"
	ReasonTooLow    = "too_low"
	ReasonOwnLead   = "already_leading"
	bidRejectedCode = "bid_rejected"
)

// outcome is what a bid did.
type outcome struct {
	accepted bool
	reason   string
	price    auction.Price
	outbid   string // the previous leader, to be told
}

// bid judges a bid of user on the lot id, and applies it when it beats the
// price.
func (h *House) bid(user, id string, cents int64, cur auction.Currency) outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lots[id]
	if l == nil {
		return outcome{reason: ReasonNoLot}
	}
	o := outcome{}
	switch {
	case l.closed || !time.Now().Before(l.Closes):
		o.reason = ReasonClosed
	case cur != l.Currency:
		o.reason = ReasonCurrency
	case cents <= l.cents:
		o.reason = ReasonTooLow
	case user == l.leader:
		o.reason = ReasonOwnLead
	default:
		o.accepted, o.outbid = true, l.leader
		l.cents, l.leader = cents, user
		l.bids++
	}
	o.price = l.price()
	return o
}

func (l *lot) price() auction.Price {
	p := auction.Price{Lot: l.ID, Title: l.Title, Cents: l.cents, Currency: l.Currency,
		Bids: int64(l.bids), ClosesAt: l.Closes.UTC(), Closed: l.closed}
	if l.leader != "" {
		leader := l.leader
		p.Leader = &leader
	}
	return p
}

// announce publishes what an accepted bid changed: the price, lazily, to
// everyone watching the lot, and the outbid notice to the previous leader.
func (h *House) announce(o outcome, by string) {
	p := o.price
	if _, err := auction.PublishAuctionPrice(h.srv, auction.AuctionPrice{Lot: p.Lot}, &p); err != nil {
		h.log.Warn("auction: price not published", "lot", p.Lot, "err", err)
	}
	if o.outbid == "" {
		return
	}
	notice := &auction.OutbidMessage{Lot: p.Lot, Cents: p.Cents, Currency: p.Currency, By: by}
	if _, err := auction.PublishOutbid(h.srv, auction.Outbid{ID: o.outbid}, notice); err != nil {
		h.log.Warn("auction: outbid notice not published", "user", o.outbid, "err", err)
	}
}

// OnAuctionBids judges a bid published on /auction/{lot}/bids: an accepted
// one is delivered to the lot's watchers with its bidder; a refused one
// never is, and its publisher gets "400:<reason>:bid_rejected".
func (h *House) OnAuctionBids(_ context.Context, s *runtime.ServerSession, ch auction.AuctionBids, msg *auction.Bid) error {
	user := s.UserID()
	o := h.bid(user, ch.Lot, msg.Cents, msg.Currency)
	if !o.accepted {
		return bayeux.NewError(400, bidRejectedCode, o.reason)
	}
	msg.Bidder = &user
	h.announce(o, user)
	return nil
}

// ServiceBid is the remote call /service/bid: it judges the bid like a
// published one and answers whether it was accepted, with the lot's price.
// An accepted bid is also delivered on the lot's /auction/{lot}/bids.
func (h *House) ServiceBid(_ context.Context, s *runtime.ServerSession, req *auction.ServiceBidRequest) (auction.ServiceBidReply, error) {
	user := s.UserID()
	o := h.bid(user, req.Lot, req.Cents, req.Currency)
	reply := auction.ServiceBidReply{Accepted: o.accepted, Cents: o.price.Cents, Currency: o.price.Currency}
	reply.Leader = o.price.Leader
	if !o.accepted {
		if o.reason == ReasonNoLot {
			reply.Currency = req.Currency
		}
		reply.Reason = &o.reason
		return reply, nil
	}
	bid := &auction.Bid{Cents: req.Cents, Currency: req.Currency, At: time.Now().UTC().Truncate(time.Millisecond), Bidder: &user}
	if _, err := auction.PublishAuctionBids(h.srv, auction.AuctionBids{Lot: req.Lot}, bid); err != nil {
		h.log.Warn("auction: bid not delivered", "lot", req.Lot, "err", err)
	}
	h.announce(o, user)
	return reply, nil
}

// ServiceLots is the remote call /service/lots: every lot with its price.
func (h *House) ServiceLots(context.Context, *runtime.ServerSession, *auction.ServiceLotsRequest) (auction.ServiceLotsReply, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(auction.ServiceLotsReply, 0, len(h.order))
	for _, id := range h.order {
		p := h.lots[id].price()
		out = append(out, auction.ServiceLotsReplyItem{Lot: p.Lot, Title: p.Title, Cents: p.Cents, Currency: p.Currency,
			Leader: p.Leader, Bids: p.Bids, ClosesAt: p.ClosesAt, Closed: p.Closed})
	}
	return out, nil
}

// close closes the lot id and announces its winner.
func (h *House) close(id string) {
	h.mu.Lock()
	l := h.lots[id]
	if l.closed {
		h.mu.Unlock()
		return
	}
	l.closed = true
	p, winner := l.price(), l.leader
	h.mu.Unlock()
	msg := &auction.AuctionClosedMessage{Lot: id, Winner: p.Leader, Cents: p.Cents, Currency: p.Currency}
	if _, err := auction.PublishAuctionPrice(h.srv, auction.AuctionPrice{Lot: id}, &p); err != nil {
		h.log.Warn("auction: price not published", "lot", id, "err", err)
	}
	if _, err := auction.PublishAuctionClosed(h.srv, auction.AuctionClosed{Lot: id}, msg); err != nil {
		h.log.Warn("auction: close not published", "lot", id, "err", err)
	}
	h.log.Info("auction: lot closed", "lot", id, "winner", winner, "cents", p.Cents)
}

// Winner returns the leader of the lot id and its price, and whether the
// lot is closed.
func (h *House) Winner(id string) (leader string, cents int64, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lots[id]
	if l == nil {
		return "", 0, false
	}
	return l.leader, l.cents, l.closed
}

// Lots returns the ids of the lots, in the order given.
func (h *House) Lots() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.order)
}
