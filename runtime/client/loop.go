package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// ErrReconnectNone is the cause reported when the server advised reconnect
// "none" and the Client stopped.
var ErrReconnectNone = errors.New("client: server advised reconnect none")

// connectLoop keeps the session alive: it sends /meta/connect, one at a
// time, each after the advised interval plus the backoff, and reacts to the
// server's advice. It ends when r is cancelled or the server says "none".
func (c *Client) connectLoop(r *run) {
	defer close(r.loopDone)
	ctx := r.ctx
	first := true // the first connect of a session asks for an immediate reply
	var backoff time.Duration
	var unconnectedSince time.Time
	resub := false // a re-subscription failed in transit and must be retried
	var enc connectEncoder
	for {
		adv := c.currentAdvice()
		if !sleep(ctx, adv.interval+spread(backoff)) {
			return
		}
		reply, err := c.connect(ctx, &enc, first, adv)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The request failed: retry with a growing backoff, and give up
			// on the session once the server must have expired it.
			backoff = min(backoff+c.o.backoffInc, c.o.maxBackoff)
			if unconnectedSince.IsZero() {
				unconnectedSince = time.Now()
			}
			c.log.Info("bayeux client: connect failed", "err", err, "backoff", backoff)
			if adv.maxInterval > 0 && time.Since(unconnectedSince)+backoff > adv.timeout+adv.interval+adv.maxInterval {
				var ok bool
				if ok, resub = c.rehandshake(r, err); !ok {
					return
				}
				first, backoff, unconnectedSince = true, 0, time.Time{}
			}
			continue
		}
		c.mu.Lock()
		c.mergeAdviceLocked(reply.Advice)
		adv = c.advice
		c.mu.Unlock()
		action := adv.reconnect
		if reply.Advice != nil && reply.Advice.Reconnect != "" {
			action = reply.Advice.Reconnect
		}
		if reply.IsSuccessful() {
			first, backoff, unconnectedSince = false, 0, time.Time{}
			if action == bayeux.ReconnectNone {
				c.stop(r, ErrReconnectNone)
				return
			}
			if resub {
				resub = c.resubscribeBounded(r.ctx, c.ClientID())
			}
			continue
		}
		rerr := replyError(reply)
		var be *bayeux.Error
		switch {
		case action == bayeux.ReconnectNone:
			c.stop(r, fmt.Errorf("%w: %w", ErrReconnectNone, rerr))
			return
		case action == bayeux.ReconnectHandshake || errors.As(rerr, &be) && be.Code == 402:
			var ok bool
			if ok, resub = c.rehandshake(r, rerr); !ok {
				return
			}
			first, backoff, unconnectedSince = true, 0, time.Time{}
		default:
			backoff = min(backoff+c.o.backoffInc, c.o.maxBackoff)
			c.log.Info("bayeux client: connect refused", "err", rerr, "backoff", backoff)
		}
	}
}

func (c *Client) currentAdvice() advice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advice
}

// connect sends one /meta/connect and waits for its reply, which the server
// may hold for the advised timeout.
func (c *Client) connect(ctx context.Context, enc *connectEncoder, first bool, adv advice) (*bayeux.Message, error) {
	id := c.ClientID()
	if id == "" {
		return nil, ErrNotConnected
	}
	hold := adv.timeout
	if first {
		hold = 0
	}
	c.mu.Lock()
	ack := int64(-1)
	if c.ackOn {
		ack = c.ackBatch
	}
	c.mu.Unlock()
	calls := []*call{c.newCallID(nil)}
	body := enc.encode(id, c.o.transport, calls[0].id, first, ack)
	c.transmitBody(ctx, body, "/connect", calls, hold+c.o.maxNetworkDelay)
	replies, err := c.wait(ctx, calls)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// The reply's batch holds the messages that came with it, which the
	// receive path has already taken: acknowledge it with the next connect.
	if n, ok := replies[0].Ext["ack"].(float64); ok && ack >= 0 {
		c.mu.Lock()
		if c.ackOn && c.clientID == id {
			c.ackBatch = int64(n)
		}
		c.mu.Unlock()
	}
	// After resuming subscribes, a connect reply says whether the server
	// replayed everything missed since the position they gave.
	if complete, ok := replies[0].Ext["resume"].(bool); ok && !complete {
		pos, _ := c.Position()
		c.log.Warn("bayeux client: resumed with a gap: the server no longer had every message missed", "position", pos)
		c.countGap()
	}
	return replies[0], nil
}

// connectEncoder encodes the /meta/connect requests of a connect loop, where
// only the message id changes from one to the next: the rest is encoded once
// per session.
type connectEncoder struct {
	clientID string
	prefix   []byte // `[{"channel":"/meta/connect","clientId":…,"connectionType":…,"id":"`
}

// encode returns the request, a JSON array holding one /meta/connect; the
// first of a session asks for an immediate reply (advice timeout 0). With
// ack >= 0 it acknowledges that batch (ext.ack).
func (e *connectEncoder) encode(clientID, connectionType string, id bayeux.ID, first bool, ack int64) []byte {
	if e.prefix == nil || e.clientID != clientID {
		cid, _ := json.Marshal(clientID) // strings always encode
		ct, _ := json.Marshal(connectionType)
		e.clientID = clientID
		e.prefix = slices.Concat([]byte(`[{"channel":"/meta/connect","clientId":`), cid,
			[]byte(`,"connectionType":`), ct, []byte(`,"id":"`))
	}
	const firstAdvice = `,"advice":{"timeout":0}`
	b := make([]byte, 0, len(e.prefix)+len(id)+len(firstAdvice)+3)
	b = append(b, e.prefix...)
	b = append(b, id...) // decimal digits: nothing to escape
	b = append(b, '"')
	if first {
		b = append(b, firstAdvice...)
	}
	if ack >= 0 {
		b = append(b, `,"ext":{"ack":`...)
		b = strconv.AppendInt(b, ack, 10)
		b = append(b, '}')
	}
	return append(b, "}]"...)
}

// rehandshake replaces a session the server dropped: it handshakes until the
// server accepts (with backoff), then subscribes the local subscriptions
// again. It reports false when the loop must end, and whether the
// re-subscription must be retried.
func (c *Client) rehandshake(r *run, cause error) (ok, resub bool) {
	c.mu.Lock()
	if c.run != r {
		c.mu.Unlock()
		return false, false
	}
	notify := c.setState(StateRehandshaking, cause)
	c.mu.Unlock()
	notify()
	c.log.Info("bayeux client: re-handshaking", "cause", cause)

	var backoff time.Duration
	var id string
	for {
		var err error
		id, err = c.handshake(r.ctx, r)
		if r.ctx.Err() != nil {
			return false, false
		}
		if err == nil {
			break
		}
		if c.currentAdvice().reconnect == bayeux.ReconnectNone {
			c.stop(r, fmt.Errorf("%w: %w", ErrReconnectNone, err))
			return false, false
		}
		backoff = min(backoff+c.o.backoffInc, c.o.maxBackoff)
		c.log.Info("bayeux client: handshake failed", "err", err, "backoff", backoff)
		if !sleep(r.ctx, c.currentAdvice().interval+spread(backoff)) {
			return false, false
		}
	}
	resub = c.resubscribeBounded(r.ctx, id)
	if c.connected(r) != nil {
		return false, false
	}
	return true, resub
}

// resubscribeBounded re-subscribes within the network delay. It reports
// whether it must be tried again because the request itself failed; channels
// the server refused are dropped and logged.
func (c *Client) resubscribeBounded(ctx context.Context, id string) (retry bool) {
	ctx, cancel := context.WithTimeout(ctx, c.o.maxNetworkDelay)
	defer cancel()
	err := c.resubscribe(ctx, id)
	if err == nil {
		return false
	}
	var be *bayeux.Error
	retry = !errors.As(err, &be)
	c.log.Warn("bayeux client: re-subscribe failed", "err", err, "retry", retry)
	return retry
}

// sleep waits for d or until ctx ends; it reports whether ctx is still live.
// spread returns a backoff drawn over [d/2, 3d/2): clients that lost their
// server at the same moment come back over a second, not in the same
// millisecond, and the restarted server answers them as they come instead
// of all at once.
func spread(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
