package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// State is the life-cycle state of a Client.
type State int

// The states of a Client.
const (
	// StateDisconnected: no session. The initial state, and the state after
	// Disconnect or after the server advised reconnect "none".
	StateDisconnected State = iota
	// StateHandshaking: Handshake is waiting for the server.
	StateHandshaking
	// StateConnected: the Client has a session and its connect loop runs.
	StateConnected
	// StateRehandshaking: the server dropped the session; the Client is
	// handshaking again and will then re-subscribe its subscriptions.
	StateRehandshaking
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateHandshaking:
		return "handshaking"
	case StateConnected:
		return "connected"
	case StateRehandshaking:
		return "rehandshaking"
	}
	return "disconnected"
}

// Client is a Bayeux client. Create it with New, start a session with
// Handshake and end it with Disconnect. All methods are safe for concurrent
// use; see the package documentation for which goroutine runs callbacks.
type Client struct {
	url    string
	o      options
	log    *slog.Logger
	tr     transport
	nextID atomic.Uint64

	mu       sync.Mutex
	state    State
	stateCh  chan struct{} // closed and replaced on every state change
	clientID string
	advice   advice // set with setAdviceLocked
	// readWait is advice.timeout + advice.interval, which the websocket
	// reader loads for every frame without taking mu.
	readWait atomic.Int64
	run      *run
	// ackOn: the session negotiated the ack extension; ackBatch is the last
	// batch received, acknowledged by the next /meta/connect.
	ackOn    bool
	ackBatch int64
	// resumeOn: the session negotiated the resume extension; previousID
	// is the id of the session before it, whose own messages a resume
	// leaves out on channels that do not broadcast to their publisher.
	resumeOn   bool
	previousID string
	// contractChange is the latest handshake reply's word on a change of
	// the server's contract that breaks the client (WithContract).
	contractChange *ContractChange

	// rmu guards position, the last ext.resume position received (or the
	// position the first subscribe joined at: positioned says there is
	// one, 0 being a position), posStream, the history the position is
	// of, stream, the history of the current session's positions (the
	// handshake reply's ext.resumeStream; "" when the server did not say),
	// and gaps, the resumes the server said were incomplete.
	rmu        sync.Mutex
	position   uint64
	positioned bool
	posStream  string
	stream     string
	gaps       int64

	cur atomic.Pointer[run] // the current run, read on the receive path

	pmu     sync.Mutex
	pending map[bayeux.ID]*call
	remote  map[bayeux.ID]chan *bayeux.Message // RemoteCall results awaited, by request id
	// remotes is len(remote), which the receive path loads to skip pmu
	// for an event when no RemoteCall waits.
	remotes atomic.Int32

	smu  sync.Mutex                      // serialises changes of subs
	subs atomic.Pointer[[]*Subscription] // copy-on-write snapshot
}

// advice is the server's latest advice, with defaults filled in.
type advice struct {
	reconnect   string
	interval    time.Duration
	timeout     time.Duration
	maxInterval time.Duration
}

func defaultAdvice() advice {
	return advice{reconnect: bayeux.ReconnectRetry, timeout: DefaultConnectTimeout}
}

// setAdviceLocked replaces the advice; c.mu is held (or c is not yet
// shared).
func (c *Client) setAdviceLocked(a advice) {
	c.advice = a
	c.readWait.Store(int64(a.timeout + a.interval))
}

// mergeAdviceLocked updates the advice with the fields present in adv;
// c.mu is held.
func (c *Client) mergeAdviceLocked(adv *bayeux.Advice) {
	a := c.advice
	a.merge(adv)
	c.setAdviceLocked(a)
}

// merge updates a with the fields present in adv.
func (a *advice) merge(adv *bayeux.Advice) {
	if adv == nil {
		return
	}
	if adv.Reconnect != "" {
		a.reconnect = adv.Reconnect
	}
	if adv.Interval != nil {
		a.interval = time.Duration(*adv.Interval) * time.Millisecond
	}
	if adv.Timeout != nil {
		a.timeout = time.Duration(*adv.Timeout) * time.Millisecond
	}
	if adv.MaxInterval != nil {
		a.maxInterval = time.Duration(*adv.MaxInterval) * time.Millisecond
	}
}

// run is one session's worth of background work, from Handshake to
// Disconnect: the connect loop and the event dispatcher.
type run struct {
	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}
	disp     *dispatcher
}

// New returns a Client for the Bayeux server at url (http:// or https://;
// the websocket transport dials the same URL with the ws:// or wss://
// scheme). It does no I/O; call Handshake to start a session.
//
// New panics if WithTransport names a transport other than "websocket" or
// "long-polling".
func New(url string, opts ...Option) *Client {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{
		url:     url,
		o:       o,
		log:     o.logger,
		stateCh: make(chan struct{}),
		pending: make(map[bayeux.ID]*call),
	}
	c.setAdviceLocked(defaultAdvice())
	switch o.transport {
	case bayeux.TransportWebSocket:
		c.tr = newWSTransport(c)
	case bayeux.TransportLongPolling:
		c.tr = newLPTransport(c)
	default:
		panic(fmt.Sprintf("client: unknown transport %q", o.transport))
	}
	empty := []*Subscription{}
	c.subs.Store(&empty)
	return c
}

// ClientID returns the session's client id, or "" without a session.
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// State returns the Client's current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Transport returns the name of the Client's transport.
func (c *Client) Transport() string { return c.o.transport }

// setState changes the state; c.mu must be held. It returns a function that
// reports the change to the state handler, to be called after unlocking.
func (c *Client) setState(s State, cause error) func() {
	if c.state == s {
		return func() {}
	}
	c.state = s
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	if s != StateConnected {
		c.clientID = ""
	}
	c.log.Debug("bayeux client state", "state", s, "cause", cause)
	if f := c.o.onState; f != nil {
		return func() { f(s, cause) }
	}
	return func() {}
}

// session waits until the Client has a session and returns its client id.
// Without a session (StateDisconnected) it returns ErrNotConnected at once.
func (c *Client) session(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		st, id, ch := c.state, c.clientID, c.stateCh
		c.mu.Unlock()
		switch st {
		case StateConnected:
			return id, nil
		case StateDisconnected:
			return "", ErrNotConnected
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Handshake starts a session: it sends /meta/handshake and, once the server
// accepts it, starts the background connect loop that keeps the session
// alive, delivers events and re-handshakes when the server asks. Local
// subscriptions left from a session the server ended are subscribed again.
//
// A refusal by the server is returned as a *bayeux.Error (wrapped); the
// Client is then disconnected and Handshake may be called again.
func (c *Client) Handshake(ctx context.Context) error {
	c.mu.Lock()
	if c.state != StateDisconnected {
		c.mu.Unlock()
		return ErrAlreadyConnected
	}
	notify := c.setState(StateHandshaking, nil)
	rctx, cancel := context.WithCancel(context.Background())
	r := &run{ctx: rctx, cancel: cancel, loopDone: make(chan struct{}), disp: newDispatcher(c, rctx)}
	c.tr.watch(rctx)
	c.run = r
	c.cur.Store(r)
	c.setAdviceLocked(defaultAdvice())
	c.mu.Unlock()
	notify()
	r.disp.start()

	hctx, hcancel := context.WithCancel(ctx)
	stopH := context.AfterFunc(rctx, hcancel) // Disconnect aborts the handshake
	id, err := c.handshake(hctx, r)
	stopH()
	hcancel()
	if err != nil {
		c.mu.Lock()
		if c.run == r {
			c.run = nil
			notify = c.setState(StateDisconnected, err)
		} else {
			notify = func() {}
		}
		c.mu.Unlock()
		cancel()
		close(r.loopDone)
		c.tr.close()
		c.failAll(0, true, ErrNotConnected)
		notify()
		return fmt.Errorf("handshake: %w", err)
	}
	if err := c.resubscribe(ctx, id); err != nil {
		c.log.Warn("bayeux client: re-subscribe failed", "err", err)
	}
	if err := c.connected(r); err != nil { // Disconnect won the race
		close(r.loopDone)
		return fmt.Errorf("handshake: %w", err)
	}
	go c.connectLoop(r)
	return nil
}

// handshake sends one /meta/handshake and, on success, records the new
// client id and advice. The state changes to StateConnected only in
// connected, once the subscriptions are restored.
func (c *Client) handshake(ctx context.Context, r *run) (string, error) {
	msg := &bayeux.Message{
		Channel:                  bayeux.MetaHandshake,
		Version:                  bayeux.Version,
		MinimumVersion:           bayeux.Version,
		SupportedConnectionTypes: []string{c.o.transport},
		Advice:                   &bayeux.Advice{Timeout: bayeux.Int(DefaultConnectTimeout.Milliseconds()), Interval: bayeux.Int(0)},
		Ext:                      c.o.handshakeExt,
	}
	if c.o.ack || c.o.resume || c.o.contract != nil {
		msg.Ext = maps.Clone(c.o.handshakeExt)
		if msg.Ext == nil {
			msg.Ext = map[string]any{}
		}
		if c.o.contract != nil {
			msg.Ext["contract"] = c.o.contract
		}
		if c.o.ack {
			msg.Ext["ack"] = true
		}
		if c.o.resume {
			msg.Ext["resume"] = true
		}
	}
	replies, err := c.exchange(ctx, []*bayeux.Message{msg}, c.o.maxNetworkDelay)
	if err != nil {
		return "", err
	}
	reply := replies[0]
	if err := replyError(reply); err != nil {
		c.mu.Lock()
		c.mergeAdviceLocked(reply.Advice)
		c.mu.Unlock()
		return "", err
	}
	if reply.ClientID == "" {
		return "", fmt.Errorf("%w: reply without clientId", ErrNoReply)
	}
	if types := reply.SupportedConnectionTypes; len(types) > 0 && !slices.Contains(types, c.o.transport) {
		return "", fmt.Errorf("server does not offer %s (it offers %v)", c.o.transport, types)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != r || r.ctx.Err() != nil {
		return "", ErrNotConnected
	}
	c.setAdviceLocked(defaultAdvice())
	c.mergeAdviceLocked(reply.Advice)
	if c.clientID != "" {
		c.previousID = c.clientID // the session a resume continues
	}
	c.clientID = reply.ClientID
	c.ackOn, c.ackBatch = c.asksAck() && reply.Ext["ack"] == true, 0
	c.resumeOn = c.o.resume && reply.Ext["resume"] == true
	stream, _ := reply.Ext["resumeStream"].(string)
	c.rmu.Lock()
	c.stream = stream
	c.rmu.Unlock()
	if change, ok := contractChange(reply); ok && c.o.contract != nil {
		c.contractChange = &change
		if f := c.o.onContract; f != nil {
			go f(change)
		}
	}
	return reply.ClientID, nil
}

// contractChange reads the server's verdict on the client's contract in a
// handshake's reply: ext.contract.breaking.
func contractChange(reply *bayeux.Message) (ContractChange, bool) {
	m, _ := reply.Ext["contract"].(map[string]any)
	list, _ := m["breaking"].([]any)
	if len(list) == 0 {
		return ContractChange{}, false
	}
	var ch ContractChange
	for _, v := range list {
		if s, ok := v.(string); ok {
			ch.Breaking = append(ch.Breaking, s)
		}
	}
	ch.Spec, _ = m["spec"].(string)
	ch.Hash, _ = m["hash"].(string)
	return ch, true
}

// ContractChanged returns what the server said, at the latest handshake
// that said it, of a change of its contract that breaks this client (see
// WithContract); ok is false when no handshake did.
func (c *Client) ContractChanged() (change ContractChange, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.contractChange == nil {
		return ContractChange{}, false
	}
	return *c.contractChange, true
}

// asksAck reports whether the handshake asks for the ack extension: with
// WithAck, or in the ext given to WithHandshakeExt (true, or {"enabled":
// true} as older CometD clients send it). Either way the client must then
// acknowledge, or the server sends every batch again.
func (c *Client) asksAck() bool {
	if c.o.ack {
		return true
	}
	switch v := c.o.handshakeExt["ack"].(type) {
	case bool:
		return v
	case map[string]any:
		return v["enabled"] == true
	}
	return false
}

// ResumeGranted reports whether the current session uses the resume
// extension (WithResume, and the server agreed).
func (c *Client) ResumeGranted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resumeOn
}

// Position returns the position of the last broadcast received in the
// cluster's order (the resume extension), or of the first subscription
// when nothing was received yet; ok is false when there is none.
func (c *Client) Position() (pos uint64, ok bool) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.position, c.positioned
}

// ResumeGaps returns how many times the server said that it could not
// replay everything the client missed while it moved (the resume
// extension): messages were lost then.
func (c *Client) ResumeGaps() int64 {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.gaps
}

// positionOf returns the ext.resume position a message carries; ok is
// false when it carries none.
func positionOf(m *bayeux.Message) (pos uint64, ok bool) {
	f, ok := m.Ext["resume"].(float64)
	if !ok || f < 0 || f > 1<<53 {
		return 0, false
	}
	return uint64(f), true
}

// foreignLocked reports whether the position is of another history than
// the session's: the history was reset (its positions started again)
// since the client received it. c.rmu is held.
func (c *Client) foreignLocked() bool {
	return c.positioned && c.posStream != "" && c.stream != "" && c.posStream != c.stream
}

// fresh drops, with WithResume, the events at or before the last position
// received: a replay that overlaps what the client got from its old
// session. It records the newest position, and before any the position
// the first successful subscribe joined at. A position of another history
// than the session's (a reset one) says nothing about this one: the first
// event received, or a successful subscribe's reply (the start of this
// history, 0: nothing of it was received yet), replaces it.
func (c *Client) fresh(msgs []bayeux.Message) []bayeux.Message {
	if !c.o.resume {
		return msgs
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	var out []bayeux.Message // nil until an event is dropped
	for i := range msgs {
		m := &msgs[i]
		pos, stamped := positionOf(m)
		repeat := false
		switch {
		case isReplyShaped(m):
			if m.Channel != bayeux.MetaSubscribe || m.Successful == nil || !*m.Successful {
				break
			}
			switch {
			case c.foreignLocked():
				c.position, c.posStream = 0, c.stream
			case stamped && !c.positioned:
				c.position, c.positioned, c.posStream = pos, true, c.stream
			}
		case !stamped:
		case c.foreignLocked():
			c.position, c.posStream = pos, c.stream
		case c.positioned && pos <= c.position:
			repeat = true
		default:
			c.position, c.positioned, c.posStream = max(c.position, pos), true, c.stream
		}
		switch {
		case repeat && out == nil:
			out = append(make([]bayeux.Message, 0, len(msgs)), msgs[:i]...)
		case !repeat && out != nil:
			out = append(out, *m)
		}
	}
	if out == nil {
		return msgs
	}
	return out
}

// AckGranted reports whether the current session uses the ack extension
// (WithAck, and the server agreed).
func (c *Client) AckGranted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ackOn
}

// connected moves the run's session to StateConnected.
func (c *Client) connected(r *run) error {
	c.mu.Lock()
	if c.run != r || r.ctx.Err() != nil {
		c.mu.Unlock()
		return ErrNotConnected
	}
	notify := c.setState(StateConnected, nil)
	c.mu.Unlock()
	notify()
	return nil
}

// Disconnect ends the session: it stops the connect loop, sends
// /meta/disconnect, closes the transport and forgets the subscriptions.
// Pending requests fail with ErrNotConnected. Disconnect on a Client without
// a session does nothing and returns nil.
func (c *Client) Disconnect(ctx context.Context) error {
	c.mu.Lock()
	r, id := c.run, c.clientID
	if r == nil {
		c.mu.Unlock()
		return nil
	}
	c.run = nil
	c.mu.Unlock()
	r.cancel()
	<-r.loopDone

	var err error
	if id != "" {
		msg := &bayeux.Message{Channel: bayeux.MetaDisconnect, ClientID: id}
		var replies []*bayeux.Message
		replies, err = c.exchange(ctx, []*bayeux.Message{msg}, c.o.maxNetworkDelay)
		if err == nil {
			err = replyError(replies[0])
		}
	}
	c.mu.Lock()
	notify := c.setState(StateDisconnected, nil)
	c.mu.Unlock()
	c.tr.close()
	c.failAll(0, true, ErrNotConnected)
	c.smu.Lock()
	empty := []*Subscription{}
	c.subs.Store(&empty)
	c.smu.Unlock()
	c.rmu.Lock()
	c.position, c.positioned, c.posStream = 0, false, "" // nothing to resume: the subscriptions are forgotten
	c.rmu.Unlock()
	notify()
	if err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	return nil
}

// stop ends the session from inside the connect loop, after reconnect
// "none" or a context cancellation.
func (c *Client) stop(r *run, cause error) {
	c.mu.Lock()
	if c.run != r {
		c.mu.Unlock()
		return
	}
	c.run = nil
	notify := c.setState(StateDisconnected, cause)
	c.mu.Unlock()
	r.cancel()
	c.tr.close()
	c.failAll(0, true, ErrNotConnected)
	notify()
}

// exchange sends msgs in one request or frame and waits for their replies.
// timeout bounds the wait (and, for long-polling, the HTTP request).
func (c *Client) exchange(ctx context.Context, msgs []*bayeux.Message, timeout time.Duration) ([]*bayeux.Message, error) {
	calls := make([]*call, len(msgs))
	for i, m := range msgs {
		calls[i] = c.newCall(m, nil)
	}
	c.transmit(ctx, msgs, calls, timeout)
	return c.wait(ctx, calls)
}

// transmit encodes msgs and sends them; every outcome, including an encoding
// or transport failure, resolves the calls.
func (c *Client) transmit(ctx context.Context, msgs []*bayeux.Message, calls []*call, timeout time.Duration) {
	body, err := json.Marshal(msgs)
	if err != nil {
		err = fmt.Errorf("encode: %w", err)
		for _, cl := range calls {
			cl.resolve(nil, err)
		}
		return
	}
	c.transmitBody(ctx, body, urlSuffix(msgs), calls, timeout)
}

// transmitBody sends body, the encoded messages of calls; every outcome
// resolves the calls.
func (c *Client) transmitBody(ctx context.Context, body []byte, suffix string, calls []*call, timeout time.Duration) {
	if err := c.tr.send(ctx, body, suffix, timeout, calls); err != nil {
		for _, cl := range calls {
			c.fail(cl, err)
		}
		return
	}
	if c.tr.inline() {
		// Long-polling: the response has been processed; a call still
		// pending got no reply in it.
		for _, cl := range calls {
			c.fail(cl, ErrNoReply)
		}
	}
}

// urlSuffix is what the long-polling transport appends to the URL, as the
// CometD JavaScript client does: the meta type of a single handshake,
// connect or disconnect.
func urlSuffix(msgs []*bayeux.Message) string {
	if len(msgs) != 1 {
		return ""
	}
	switch msgs[0].Channel {
	case bayeux.MetaHandshake:
		return "/handshake"
	case bayeux.MetaConnect:
		return "/connect"
	case bayeux.MetaDisconnect:
		return "/disconnect"
	}
	return ""
}

// receive routes a decoded frame or response: replies complete their calls,
// events go to the dispatcher. It runs on the transport's goroutine.
func (c *Client) receive(msgs []bayeux.Message) {
	msgs = c.fresh(msgs)
	type resolved struct {
		cl *call
		m  *bayeux.Message
	}
	var replies []resolved
	for i := range msgs {
		m := &msgs[i]
		if m.ID == "" {
			continue
		}
		if !isReplyShaped(m) {
			// A remote call's result: the request's id, with data. (An
			// event's id needs no look-up while no RemoteCall waits: it
			// registers before it sends its request.)
			if c.remotes.Load() == 0 {
				continue
			}
			if ch := c.takeRemote(m.ID); ch != nil {
				ch <- m
				replies = append(replies, resolved{nil, m})
			}
			continue
		}
		if cl := c.take(m.ID); cl != nil {
			replies = append(replies, resolved{cl, m})
		} else if bayeux.KindOf(m.Channel) == bayeux.Meta {
			c.log.Debug("bayeux client: unexpected reply", "channel", m.Channel, "id", m.ID)
		}
	}
	if r := c.cur.Load(); r != nil {
		if len(replies) == 0 {
			r.disp.push(delivery{msgs: msgs})
		} else {
			var events []*bayeux.Message
			for i := range msgs {
				m := &msgs[i]
				if !slices.ContainsFunc(replies, func(x resolved) bool { return x.m == m }) {
					events = append(events, m)
				}
			}
			if len(events) > 0 {
				r.disp.push(delivery{ptrs: events})
			}
		}
	}
	for _, x := range replies {
		if x.cl != nil {
			x.cl.resolve(x.m, nil)
		}
	}
}

// takeRemote removes and returns the waiter of a RemoteCall, or nil.
func (c *Client) takeRemote(id bayeux.ID) chan *bayeux.Message {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	ch := c.remote[id]
	if ch != nil {
		delete(c.remote, id)
		c.remotes.Store(int32(len(c.remote)))
	}
	return ch
}
