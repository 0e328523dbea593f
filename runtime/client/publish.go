package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// encodeData returns data as JSON: a json.RawMessage is used as it is,
// anything else goes through json.Marshal.
func encodeData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case json.RawMessage:
		if len(d) == 0 {
			return nil, errors.New("empty data")
		}
		return d, nil
	case nil:
		return json.RawMessage("null"), nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode data: %w", err)
	}
	return b, nil
}

func publishMessage(channel string, data any) (*bayeux.Message, error) {
	if !bayeux.ValidChannel(channel) || bayeux.IsWild(channel) || bayeux.KindOf(channel) == bayeux.Meta {
		return nil, fmt.Errorf("publish %q: invalid channel for publishing", channel)
	}
	raw, err := encodeData(data)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", channel, err)
	}
	return &bayeux.Message{Channel: channel, Data: raw}, nil
}

// Publish sends data to channel and waits for the server's reply. data is
// encoded with encoding/json, except a json.RawMessage, which is sent as it
// is. When the server answers successful:false, the error is the
// *bayeux.Error it sent (unwrapped).
//
// Publish waits for a session while the Client is (re-)handshaking, and
// returns ErrNotConnected (wrapped) without one.
func (c *Client) Publish(ctx context.Context, channel string, data any) error {
	msg, err := publishMessage(channel, data)
	if err != nil {
		return err
	}
	id, err := c.session(ctx)
	if err != nil {
		return fmt.Errorf("publish %s: %w", channel, err)
	}
	msg.ClientID = id
	replies, err := c.exchange(ctx, []*bayeux.Message{msg}, c.o.maxNetworkDelay)
	if err != nil {
		return fmt.Errorf("publish %s: %w", channel, err)
	}
	return replyError(replies[0])
}

// PublishAsync sends data to channel and returns without waiting for the
// reply; done is called exactly once with the outcome: nil, a *bayeux.Error
// for successful:false, or the transport failure or ErrNoReply.
//
// ctx only bounds the wait for a session. data is encoded before
// PublishAsync returns, so a json.RawMessage may be reused afterwards. When
// PublishAsync returns an error, done is not called.
//
// done runs on the transport's goroutine (or the caller's, when the send
// fails at once): it must return quickly and must not block on the Client.
func (c *Client) PublishAsync(ctx context.Context, channel string, data any, done func(error)) error {
	msg, err := publishMessage(channel, data)
	if err != nil {
		return err
	}
	if done == nil {
		done = func(error) {}
	}
	id, err := c.session(ctx)
	if err != nil {
		return fmt.Errorf("publish %s: %w", channel, err)
	}
	msg.ClientID = id
	cl := c.newCall(msg, func(reply *bayeux.Message, err error) {
		if err != nil {
			done(fmt.Errorf("publish %s: %w", channel, err))
			return
		}
		done(replyError(reply))
	})
	// The body is encoded here, before the caller may reuse data.
	body, err := json.Marshal([]*bayeux.Message{msg})
	if err != nil {
		return fmt.Errorf("publish %s: encode: %w", channel, err)
	}
	c.tr.sendAsync(body, c.o.maxNetworkDelay, []*call{cl}, func(err error) {
		switch {
		case err != nil:
			c.fail(cl, err)
		case c.tr.inline():
			c.fail(cl, ErrNoReply) // the response held no reply
		}
	})
	return nil
}

// Batch collects messages that are sent together, in one HTTP request or one
// websocket frame, as Bayeux batching intends. Create one with NewBatch, add
// messages, then call Send. A Batch is not safe for concurrent use.
type Batch struct {
	c     *Client
	items []batchItem
}

type batchItem struct {
	msg   *bayeux.Message
	sub   *Subscription // subscribe: added locally, removed again on failure
	unsub *Subscription // unsubscribe
}

// NewBatch returns an empty Batch for the Client.
func (c *Client) NewBatch() *Batch { return &Batch{c: c} }

// Len returns the number of messages in the batch.
func (b *Batch) Len() int { return len(b.items) }

// Publish adds a publish of data to channel to the batch.
func (b *Batch) Publish(channel string, data any) error {
	msg, err := publishMessage(channel, data)
	if err != nil {
		return err
	}
	b.items = append(b.items, batchItem{msg: msg})
	return nil
}

// Subscribe adds a subscription to the batch. The returned subscription is
// active once Send succeeds for it.
func (b *Batch) Subscribe(channel string, h Handler) (*Subscription, error) {
	sub, err := b.c.newSubscription(channel, h)
	if err != nil {
		return nil, err
	}
	b.items = append(b.items, batchItem{sub: sub})
	return sub, nil
}

// Unsubscribe adds the removal of sub to the batch.
func (b *Batch) Unsubscribe(sub *Subscription) {
	b.items = append(b.items, batchItem{unsub: sub})
}

// Send sends the batch and waits for every reply. It returns the joined
// errors of the messages that failed; subscriptions that failed are not
// kept. The Batch is empty afterwards and can be reused.
func (b *Batch) Send(ctx context.Context) error {
	items := b.items
	b.items = nil
	c := b.c
	id, err := c.session(ctx)
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	var msgs []*bayeux.Message
	var owners []int // index into items of each message
	for i := range items {
		it := &items[i]
		switch {
		case it.sub != nil:
			c.addSub(it.sub)
			it.msg = subscribeMessage(bayeux.MetaSubscribe, id, it.sub.channel)
		case it.unsub != nil:
			if !c.removeSub(it.unsub) || c.hasChannel(it.unsub.channel) {
				continue
			}
			it.msg = subscribeMessage(bayeux.MetaUnsubscribe, id, it.unsub.channel)
		default:
			it.msg.ClientID = id
		}
		msgs = append(msgs, it.msg)
		owners = append(owners, i)
	}
	if len(msgs) == 0 {
		return nil
	}
	replies, err := c.exchange(ctx, msgs, c.o.maxNetworkDelay)
	if err != nil {
		for _, it := range items {
			if it.sub != nil {
				c.removeSub(it.sub)
			}
		}
		return fmt.Errorf("batch: %w", err)
	}
	var errs []error
	for j, reply := range replies {
		it := items[owners[j]]
		if err := replyError(reply); err != nil {
			if it.sub != nil {
				c.removeSub(it.sub)
			}
			errs = append(errs, fmt.Errorf("%s: %w", describe(it), err))
		}
	}
	return errors.Join(errs...)
}

func describe(it batchItem) string {
	switch {
	case it.sub != nil:
		return "subscribe " + it.sub.channel
	case it.unsub != nil:
		return "unsubscribe " + it.unsub.channel
	}
	return "publish " + it.msg.Channel
}

// RemoteCall publishes data on a service channel and waits for the
// server's answer, delivered to this client alone on the same channel with
// the request's id (the CometD client's remoteCall; runtime.HandleCall on a
// cometgen server). It returns the answer; when the server answered with
// successful:false, the answer comes with an error wrapping ErrCallFailed,
// and its Data holds the failure. The context bounds the wait.
func (c *Client) RemoteCall(ctx context.Context, channel string, data any) (*bayeux.Message, error) {
	if bayeux.KindOf(channel) != bayeux.Service {
		return nil, fmt.Errorf("remote call %s: not a /service/ channel", channel)
	}
	msg, err := publishMessage(channel, data)
	if err != nil {
		return nil, err
	}
	id, err := c.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("remote call %s: %w", channel, err)
	}
	msg.ClientID = id
	cl := c.newCall(msg, nil)
	result := make(chan *bayeux.Message, 1)
	c.pmu.Lock()
	if c.remote == nil {
		c.remote = make(map[bayeux.ID]chan *bayeux.Message)
	}
	c.remote[cl.id] = result
	c.remotes.Store(int32(len(c.remote)))
	c.pmu.Unlock()
	defer c.takeRemote(cl.id)
	c.transmit(ctx, []*bayeux.Message{msg}, []*call{cl}, c.o.maxNetworkDelay)
	replies, err := c.wait(ctx, []*call{cl})
	if err != nil {
		return nil, fmt.Errorf("remote call %s: %w", channel, err)
	}
	if err := replyError(replies[0]); err != nil {
		return nil, err
	}
	select {
	case m := <-result:
		if !m.IsSuccessful() {
			return m, fmt.Errorf("remote call %s: %w: %s", channel, ErrCallFailed, m.Data)
		}
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("remote call %s: %w", channel, ctx.Err())
	}
}

// ErrCallFailed is wrapped by the error of a RemoteCall the server answered
// with successful:false.
var ErrCallFailed = errors.New("client: remote call failed")
