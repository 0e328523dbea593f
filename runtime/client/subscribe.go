package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// A Handler receives the events of a subscription. The message and its Data
// stay valid after the handler returns and are never modified by the Client;
// they may share memory with other messages of the same frame, so a handler
// that keeps Data should not modify it either.
type Handler func(msg *bayeux.Message)

// Subscription is one local subscription: a channel pattern and its handler.
// Several subscriptions may share a channel; the server subscription stays
// while any of them is left.
type Subscription struct {
	channel string
	handler Handler
}

// Channel returns the channel name or pattern of the subscription.
func (s *Subscription) Channel() string { return s.channel }

// Subscribe subscribes to channel, an exact channel name or a pattern ending
// in "*" (one segment) or "**" (any number of segments), and calls h for every
// event whose channel it matches. It returns once the server has confirmed
// the subscription; a refusal is a *bayeux.Error.
//
// The subscription outlives the session: when the server drops the session
// and the Client handshakes again, it subscribes again by itself.
func (c *Client) Subscribe(ctx context.Context, channel string, h Handler) (*Subscription, error) {
	sub, err := c.newSubscription(channel, h)
	if err != nil {
		return nil, err
	}
	c.addSub(sub)
	if err := c.subscribeRemote(ctx, channel); err != nil {
		c.removeSub(sub)
		return nil, fmt.Errorf("subscribe %s: %w", channel, err)
	}
	return sub, nil
}

func (c *Client) newSubscription(channel string, h Handler) (*Subscription, error) {
	channel = bayeux.Normalize(channel)
	if !bayeux.ValidChannel(channel) {
		return nil, fmt.Errorf("subscribe %q: invalid channel name", channel)
	}
	if bayeux.KindOf(channel) == bayeux.Meta {
		return nil, fmt.Errorf("subscribe %s: meta channels cannot be subscribed", channel)
	}
	if h == nil {
		return nil, fmt.Errorf("subscribe %s: nil handler", channel)
	}
	return &Subscription{channel: channel, handler: h}, nil
}

// subscribeRemote sends /meta/subscribe. When the server has forgotten the
// session (402) it waits for the re-handshake and tries once more.
func (c *Client) subscribeRemote(ctx context.Context, channel string) error {
	for attempt := 0; ; attempt++ {
		id, err := c.session(ctx)
		if err != nil {
			return err
		}
		msg := subscribeMessage(bayeux.MetaSubscribe, id, channel)
		replies, err := c.exchange(ctx, []*bayeux.Message{msg}, c.o.maxNetworkDelay)
		if err != nil {
			return err
		}
		err = replyError(replies[0])
		var be *bayeux.Error
		if attempt == 0 && errors.As(err, &be) && be.Code == 402 && c.awaitNewSession(ctx, id) {
			continue
		}
		return err
	}
}

// awaitNewSession waits, bounded by the network delay, until the Client has
// a session other than old. It reports whether it got one.
func (c *Client) awaitNewSession(ctx context.Context, old string) bool {
	ctx, cancel := context.WithTimeout(ctx, c.o.maxNetworkDelay)
	defer cancel()
	for {
		c.mu.Lock()
		st, id, ch := c.state, c.clientID, c.stateCh
		c.mu.Unlock()
		if st == StateDisconnected {
			return false
		}
		if st == StateConnected && id != old {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func subscribeMessage(meta, clientID, channel string) *bayeux.Message {
	sub, _ := json.Marshal(channel) // a string always encodes
	return &bayeux.Message{Channel: meta, ClientID: clientID, Subscription: sub}
}

// Unsubscribe removes the subscription. When it was the last one on its
// channel and the Client has a session, it sends /meta/unsubscribe and
// returns the server's refusal, if any, as a *bayeux.Error.
func (c *Client) Unsubscribe(ctx context.Context, sub *Subscription) error {
	if !c.removeSub(sub) || c.hasChannel(sub.channel) {
		return nil
	}
	if c.State() != StateConnected {
		return nil // the next session will not subscribe it
	}
	id, err := c.session(ctx)
	if err != nil {
		return fmt.Errorf("unsubscribe %s: %w", sub.channel, err)
	}
	msg := subscribeMessage(bayeux.MetaUnsubscribe, id, sub.channel)
	replies, err := c.exchange(ctx, []*bayeux.Message{msg}, c.o.maxNetworkDelay)
	if err == nil {
		err = replyError(replies[0])
	}
	if err != nil {
		return fmt.Errorf("unsubscribe %s: %w", sub.channel, err)
	}
	return nil
}

// Subscriptions returns the current local subscriptions.
func (c *Client) Subscriptions() []*Subscription {
	return slices.Clone(*c.subs.Load())
}

func (c *Client) addSub(sub *Subscription) {
	c.smu.Lock()
	defer c.smu.Unlock()
	next := append(slices.Clone(*c.subs.Load()), sub)
	c.subs.Store(&next)
}

// removeSub removes sub and reports whether it was there.
func (c *Client) removeSub(sub *Subscription) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	cur := *c.subs.Load()
	i := slices.Index(cur, sub)
	if i < 0 {
		return false
	}
	next := slices.Delete(slices.Clone(cur), i, i+1)
	c.subs.Store(&next)
	return true
}

func (c *Client) hasChannel(channel string) bool {
	return slices.ContainsFunc(*c.subs.Load(), func(s *Subscription) bool { return s.channel == channel })
}

// resubscribe subscribes every channel of the local subscriptions again, in
// one batch, after a new handshake. A channel the server now refuses loses
// its local subscriptions, and the refusals are returned.
func (c *Client) resubscribe(ctx context.Context, id string) error {
	subs := *c.subs.Load()
	if len(subs) == 0 {
		return nil
	}
	var channels []string
	for _, s := range subs {
		if !slices.Contains(channels, s.channel) {
			channels = append(channels, s.channel)
		}
	}
	// With the resume extension, each asks for what was missed since the
	// last position received; sent in one batch, they are replayed in one
	// pass, in order.
	c.mu.Lock()
	resume, previous := c.resumeOn, c.previousID
	c.mu.Unlock()
	c.rmu.Lock()
	after, positioned, stream := c.position, c.positioned, c.posStream
	c.rmu.Unlock()
	msgs := make([]*bayeux.Message, len(channels))
	for i, ch := range channels {
		msgs[i] = subscribeMessage(bayeux.MetaSubscribe, id, ch)
		if resume && positioned {
			// The history of the position, when the server named it: a
			// server on another (a reset one) replays its own from the
			// start and tells of a gap.
			at := map[string]any{"position": after, "session": previous}
			if stream != "" {
				at["stream"] = stream
			}
			msgs[i].Ext = map[string]any{"resume": at}
		}
	}
	replies, err := c.exchange(ctx, msgs, c.o.maxNetworkDelay)
	if err != nil {
		return fmt.Errorf("re-subscribe: %w", err)
	}
	var errs []error
	for i, reply := range replies {
		if err := replyError(reply); err != nil {
			errs = append(errs, fmt.Errorf("re-subscribe %s: %w", channels[i], err))
			for _, s := range subs {
				if s.channel == channels[i] {
					c.removeSub(s)
				}
			}
		}
	}
	c.log.Debug("bayeux client: re-subscribed", "channels", len(channels), "failed", len(errs))
	return errors.Join(errs...)
}

func (c *Client) countGap() {
	c.rmu.Lock()
	c.gaps++
	c.rmu.Unlock()
}

// delivery is a batch of received events: either a whole decoded frame
// (msgs) or the events picked out of one that also held replies (ptrs).
type delivery struct {
	msgs []bayeux.Message
	ptrs []*bayeux.Message
}

// dispatcher runs subscription handlers on a goroutine of its own, so a
// handler may call the Client (even Publish and wait for the reply) without
// stalling the transport's reader. Its queue is unbounded: handlers that are
// slower than the event rate grow it.
//
// With WithInlineDispatch there is no goroutine: push runs the handlers
// itself, one push at a time (imu), until ctx ends.
type dispatcher struct {
	c     *Client
	mu    sync.Mutex
	queue []delivery
	spare []delivery
	wake  chan struct{}

	inline bool
	ctx    context.Context // inline: the run's context
	imu    sync.Mutex      // inline: serialises the handlers
}

func newDispatcher(c *Client, ctx context.Context) *dispatcher {
	return &dispatcher{c: c, wake: make(chan struct{}, 1), inline: c.o.inlineDispatch, ctx: ctx}
}

// start starts the dispatching goroutine, unless the dispatch is inline.
func (d *dispatcher) start() {
	if !d.inline {
		go d.loop(d.ctx)
	}
}

func (d *dispatcher) push(x delivery) {
	if d.inline {
		d.imu.Lock()
		if d.ctx.Err() == nil {
			d.deliver(&x)
		}
		d.imu.Unlock()
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, x)
	first := len(d.queue) == 1
	d.mu.Unlock()
	if first {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// loop dispatches queued events until ctx ends; events still queued then
// are dropped.
func (d *dispatcher) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			batch := d.queue
			d.queue, d.spare = d.spare[:0], nil
			d.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i := range batch {
				if ctx.Err() != nil {
					return
				}
				d.deliver(&batch[i])
				batch[i] = delivery{}
			}
			d.mu.Lock()
			d.spare = batch[:0]
			d.mu.Unlock()
		}
	}
}

func (d *dispatcher) deliver(x *delivery) {
	subs := *d.c.subs.Load()
	if x.ptrs != nil {
		for _, m := range x.ptrs {
			dispatch(subs, m)
		}
		return
	}
	for i := range x.msgs {
		dispatch(subs, &x.msgs[i])
	}
}

// dispatch calls the handler of every subscription whose pattern matches the
// event's channel. Meta messages and messages without data are not events.
func dispatch(subs []*Subscription, m *bayeux.Message) {
	if len(m.Data) == 0 || bayeux.KindOf(m.Channel) == bayeux.Meta {
		return
	}
	for _, s := range subs {
		if bayeux.Match(s.channel, m.Channel) {
			s.handler(m)
		}
	}
}
