package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/validate"
)

// Publish broadcasts data on a broadcast channel from the server itself, as
// if a client had published it: listeners, filters, extensions and lazy
// settings apply; security checks do not. data is any value encoding/json
// accepts, or a json.RawMessage. It returns the number of sessions the
// message was queued for: 0 with a HistoryBroker, through which every node
// delivers it later, in the history's order.
func (s *Server) Publish(channel string, data any) (int, error) {
	return s.publishFrom(context.Background(), nil, channel, data)
}

// publishFrom publishes data on channel on behalf of from (nil for the
// server) without security checks.
func (s *Server) publishFrom(ctx context.Context, from *ServerSession, channel string, data any) (int, error) {
	channel = bayeux.Normalize(channel)
	if !bayeux.ValidChannel(channel) || bayeux.IsWild(channel) || bayeux.KindOf(channel) == bayeux.Meta {
		return 0, errors.New("runtime: publish: not a concrete broadcast or service channel: " + channel)
	}
	raw, err := toRaw(data)
	if err != nil {
		return 0, errors.New("runtime: publish on " + channel + ": " + err.Error())
	}
	hc := &hookContext{parent: ctx, timeout: s.opts.HookTimeout}
	defer hc.done()
	hs := s.hooks.load()
	m := &bayeux.Message{Channel: channel, Data: raw}
	if from != nil {
		if err := s.incoming(hc, hs, from, m); err != nil {
			return 0, err
		}
	}
	n, berr := s.dispatchCount(hc, hs, from, m, false)
	if berr != nil {
		return 0, berr
	}
	return n, nil
}

// dispatch runs a published message through the pipeline: security (when
// secure), message listeners (wildcard channels first), data filters, the
// server's outgoing extensions, then fan-out to the subscribers of the
// channel and of every wildcard channel matching it.
func (s *Server) dispatch(hc *hookContext, hs *hookSet, from *ServerSession, m *bayeux.Message, secure bool) *bayeux.Error {
	_, err := s.dispatchCount(hc, hs, from, m, secure)
	return err
}

func (s *Server) dispatchCount(hc *hookContext, hs *hookSet, from *ServerSession, m *bayeux.Message, secure bool) (int, *bayeux.Error) {
	if m.Ext != nil {
		// A position is the history's to give (Node.DeliverAt): one a
		// publisher wrote would make resuming clients skip what follows.
		delete(m.Ext, extResume)
	}
	var buf [8]*Channel
	route := s.channels.route(buf[:0], m.Channel)
	// The contract first (which template owns the name, and may from
	// publish there), then the application's policy and authorizers.
	var t *template
	var tm *templateMetrics // t's series, with metrics
	cc := s.contract.Load()
	if cc != nil {
		judged := from
		if !secure {
			judged = nil // the server's own code: no rule applies
		}
		var err *bayeux.Error
		t, err = s.judgePublish(cc, route, judged, m)
		if s.metrics != nil {
			tm = s.metrics.of(t)
			tm.in.Inc()
		}
		if err != nil {
			s.stats.denied.Add(1)
			s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonOf(err), err: err, sess: from})
			return 0, err
		}
	} else if s.metrics != nil {
		tm = s.metrics.undeclared
		tm.in.Inc()
	}
	if secure && (hs.policy != nil || s.hasAuthorizers.Load()) {
		if len(route) == 0 || route[0].name != m.Channel {
			if err := s.authorize(hc, hs, OpCreate, from, m.Channel, m, route); err != nil {
				return 0, err
			}
		}
		if err := s.authorize(hc, hs, OpPublish, from, m.Channel, m, route); err != nil {
			return 0, err
		}
	}
	checked := false // the data was checked against t's schema
	if t != nil {
		var err *bayeux.Error
		if checked, err = s.applyTemplate(hc, t, route, from, m); err != nil {
			s.stats.denied.Add(1)
			return 0, err
		}
	}

	var lazy time.Duration
	toPublisher, nodeLocal := true, false
	var filters []DataFilter
	for i := len(route) - 1; i >= 0; i-- {
		c := route[i]
		conf := c.conf.Load()
		if !conf.hooked() {
			continue
		}
		for _, l := range conf.listeners {
			if err := l.fn(hc.get(), from, m); err != nil {
				s.stats.denied.Add(1)
				be := vetoError(err)
				s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonHandler, err: be, sess: from})
				return 0, be
			}
		}
		filters = append(filters, conf.filters...)
		lazy = s.shorterLazy(lazy, conf)
		if conf.toPublisher != 0 && c.name == m.Channel {
			toPublisher = conf.toPublisher > 0
		}
		nodeLocal = nodeLocal || conf.nodeLocal
	}
	if len(filters) > 0 {
		if err := s.filter(hc, from, m, filters); err != nil {
			s.stats.denied.Add(1)
			s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonFilter, err: err, sess: from})
			return 0, err
		}
	}
	if t != nil {
		if err := s.handleTemplate(hc, t, from, m, checked); err != nil {
			s.stats.denied.Add(1)
			return 0, err
		}
		lazy = minLazy(lazy, t.lazyTimeout(s.opts.MaxLazyTimeout))
		nodeLocal = nodeLocal || t.local
	}
	if bayeux.KindOf(m.Channel) == bayeux.Service {
		return 0, nil // service messages are for the server's listeners only
	}
	if len(hs.extensions) > 0 && !s.outgoing(hc.get(), nil, m, true) {
		return 0, nil // an extension deleted the broadcast
	}
	var frozen []byte
	if b := s.opts.Broker; b != nil && !nodeLocal {
		// The other nodes first: if they cannot have it, no one does, and
		// the publisher is told.
		if s.Healthy() != nil {
			s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonUnhealthy, err: errNodeUnhealthy, sess: from})
			return 0, errNodeUnhealthy
		}
		frozen = encodeEvent(m.Channel, m.Data, m.Ext)
		if hb := s.hist.broker; hb != nil {
			// Every node, this one included, delivers it in the history's
			// order (Node.DeliverAt).
			exclude := ""
			if !toPublisher && from != nil {
				exclude = from.id
			}
			if _, err := hb.Append(m.Channel, frozen, exclude); err != nil {
				s.log.Warn("bayeux broker append failed", "channel", m.Channel, "err", err)
				s.brokerPublishFailed()
				return 0, errBrokerPublish
			}
			s.stats.brokerOut.Add(1)
			s.stats.published.Add(1)
			return 0, nil
		}
		if err := b.Publish(m.Channel, frozen); err != nil {
			s.log.Warn("bayeux broker publish failed", "channel", m.Channel, "err", err)
			s.brokerPublishFailed()
			return 0, errBrokerPublish
		}
		s.stats.brokerOut.Add(1)
	}
	n := s.fanOut(hc, route, t, m, frozen, from, toPublisher, lazy)
	s.stats.published.Add(1)
	s.stats.deliveries.Add(int64(n))
	if tm != nil {
		tm.out.Add(float64(n))
	}
	return n, nil
}

// brokerPublishFailed counts a broadcast the broker did not take.
func (s *Server) brokerPublishFailed() {
	if s.metrics != nil {
		s.metrics.brokerErrors.Inc()
	}
}

// applyTemplate runs the first links of t's chain on a message published
// on one of its channels: the schema check, then t's filters. The schema
// is left to the typed handler when it sees the message first (no filter
// nor listener in between), which checks it in its own decoding, in one
// walk; checked reports which.
func (s *Server) applyTemplate(hc *hookContext, t *template, route []*Channel, from *ServerSession, m *bayeux.Message) (checked bool, err *bayeux.Error) {
	if t.schema != nil && !t.handlerChecks(route, from) {
		if vs := t.schema.ValidateJSON(m.Data); len(vs) > 0 {
			err := validate.Error(vs)
			s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonSchema, err: err, sess: from, violations: vs})
			return false, err
		}
		checked = true
	}
	if len(t.filters) > 0 {
		if err := s.filter(hc, from, m, t.filters); err != nil {
			s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonFilter, err: err, sess: from})
			return checked, err
		}
	}
	return checked, nil
}

// handlerChecks reports whether t's typed handler will check the schema of
// a message from from in its own decoding: it sees the message first
// (no filter, no listener of the route before it), and from is a client.
func (t *template) handlerChecks(route []*Channel, from *ServerSession) bool {
	if t.dispatch == nil || from == nil || len(t.filters) > 0 {
		return false
	}
	for _, c := range route {
		if conf := c.conf.Load(); len(conf.listeners) > 0 || len(conf.filters) > 0 {
			return false
		}
	}
	return true
}

// handleTemplate runs the last link of t's chain on a client's message:
// it drops the client's ext, which the contract does not carry to
// subscribers (the typed handler has no use for it), then runs the typed
// handler, or the remote call of a service template.
func (s *Server) handleTemplate(hc *hookContext, t *template, from *ServerSession, m *bayeux.Message, checked bool) *bayeux.Error {
	if from == nil {
		return nil
	}
	m.Ext = nil
	switch {
	case t.dispatch != nil:
		if err := t.dispatch(hc.get(), from, m, checked); err != nil {
			be := vetoError(err)
			r := refusal{op: opPublish, t: t, name: m.Channel, reason: reasonHandler, err: be, sess: from}
			if se, ok := err.(*schemaError); ok {
				r.reason, r.violations = reasonSchema, se.vs
			}
			s.refuse(r)
			return be
		}
	case t.call != nil:
		if err := s.startCall(from, m, t.call); err != nil {
			s.refuse(refusal{op: opPublish, t: t, name: m.Channel, reason: reasonInvalid, err: err, sess: from})
			return err
		}
	}
	return nil
}

// minLazy returns the shorter of two lazy timeouts, 0 meaning not lazy.
func minLazy(a, b time.Duration) time.Duration {
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}

var errBrokerPublish = bayeux.NewError(503, "broker_publish_failed")

// routeConf returns the lazy timeout and the node-local setting that the
// channels of route and the template t (nil: none) give a message.
func (s *Server) routeConf(route []*Channel, t *template) (lazy time.Duration, nodeLocal bool) {
	for _, c := range route {
		conf := c.conf.Load()
		nodeLocal = nodeLocal || conf.nodeLocal
		lazy = s.shorterLazy(lazy, conf)
	}
	if t != nil {
		lazy = minLazy(lazy, t.lazyTimeout(s.opts.MaxLazyTimeout))
		nodeLocal = nodeLocal || t.local
	}
	return lazy, nodeLocal
}

// shorterLazy returns the shorter of the lazy timeout so far (0: none) and
// the one conf gives (bounded by Options.MaxLazyTimeout), if conf is lazy.
func (s *Server) shorterLazy(lazy time.Duration, conf *channelConfig) time.Duration {
	if !conf.lazy {
		return lazy
	}
	d := conf.lazyTimeout
	if d <= 0 || d > s.opts.MaxLazyTimeout {
		d = s.opts.MaxLazyTimeout
	}
	if lazy == 0 || d < lazy {
		return d
	}
	return lazy
}

// countOut adds n messages of size bytes each to the outgoing counters.
func (s *Server) countOut(n, size int) {
	if n > 0 {
		s.stats.messagesOut.Add(int64(n))
		s.stats.bytesOut.Add(int64(n * size))
	}
}

// vetoError is what the publisher of a vetoed message receives: the
// listener's *bayeux.Error, or "404::message_deleted" for any other error
// (whose text, written by the application, may not be meant for clients).
func vetoError(err error) *bayeux.Error {
	var be *bayeux.Error
	if errors.As(err, &be) {
		return be
	}
	return bayeux.ErrMessageDeleted
}

// filter runs the data filter chain on m's data.
func (s *Server) filter(hc *hookContext, from *ServerSession, m *bayeux.Message, filters []DataFilter) *bayeux.Error {
	var data any
	if err := json.Unmarshal(m.Data, &data); err != nil {
		return bayeux.NewError(400, "data_invalid")
	}
	for _, f := range filters {
		var err error
		if data, err = f.FilterData(hc.get(), from, m.Channel, data); err != nil {
			return asBayeuxError(err, 400, "data_rejected")
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return bayeux.NewError(500, "data_unencodable")
	}
	m.Data = raw
	return nil
}

// fanOut queues m for every session subscribed to a channel of route. Each
// session gets the message at most once, however many of its subscriptions
// match. The message is encoded once (frozen, when the caller has encoded
// it already; nil: on the first delivery) and the same bytes are queued for
// every session, except sessions with outgoing extensions of their own, for
// which it is encoded separately. t is the contract's template of m's
// channel (nil: none): the sessions subscribed through a wildcard channel
// receive m only if t's subscribe rule allows them.
func (s *Server) fanOut(hc *hookContext, route []*Channel, t *template, m *bayeux.Message, frozen []byte, from *ServerSession, toPublisher bool, lazy time.Duration) int {
	f := fanOut{srv: s, hc: hc, m: m, frozen: frozen, from: from, toPublisher: toPublisher, lazy: lazy,
		origin: queuedFrom{t: t, channel: m.Channel}}
	// Most messages match a single subscribed channel: deliver from its
	// snapshot directly. Only when several match is a set needed.
	var first []*ServerSession
	var firstGate *template
	matched := 0
	var seen map[*ServerSession]struct{}
	for _, c := range route {
		subs := c.subscribers()
		if len(subs) == 0 {
			continue
		}
		var gate *template
		if c.wild && t.restricted() {
			gate = t
		}
		matched++
		switch matched {
		case 1:
			first, firstGate = subs, gate
			continue
		case 2:
			// Every session of first is seen, let through or not: the
			// channels after it are wildcards gated by the same template.
			seen = make(map[*ServerSession]struct{}, len(first)+len(subs))
			for _, sess := range first {
				seen[sess] = struct{}{}
			}
			f.deliver(first, firstGate)
		}
		for _, sess := range subs {
			if _, dup := seen[sess]; dup {
				continue
			}
			if gate != nil && !gate.sub.allows(sess, m.Channel) {
				continue
			}
			seen[sess] = struct{}{}
			f.deliver([]*ServerSession{sess}, nil)
		}
	}
	if matched == 1 {
		f.deliver(first, firstGate)
	}
	s.countOut(f.shared, len(f.frozen))
	return f.delivered
}

// fanOut is the state of one message's fan-out.
type fanOut struct {
	srv         *Server
	hc          *hookContext
	m           *bayeux.Message
	from        *ServerSession
	toPublisher bool
	lazy        time.Duration
	frozen      []byte // m encoded once, shared by every session without extensions
	delivered   int
	shared      int
	origin      queuedFrom // where the copies come from (the metrics, the logs)
}

// deliver queues the message for sessions; with a gate, only for those
// its subscribe rule allows.
func (f *fanOut) deliver(sessions []*ServerSession, gate *template) {
	for _, sess := range sessions {
		if sess == f.from && !f.toPublisher {
			continue
		}
		if gate != nil && !gate.sub.allows(sess, f.m.Channel) {
			continue
		}
		if sess.exts.Load() != nil && len(sess.extensions()) > 0 {
			f.deliverOwn(sess)
			continue
		}
		if f.frozen == nil {
			f.frozen = encodeEvent(f.m.Channel, f.m.Data, f.m.Ext)
		}
		if sess.enqueueFrom(f.frozen, f.lazy, &f.origin) {
			f.delivered++
			f.shared++
		}
	}
}

// deliverOwn encodes the message for a session whose outgoing extensions
// may change it.
func (f *fanOut) deliverOwn(sess *ServerSession) {
	own := *f.m
	own.Ext = maps.Clone(f.m.Ext)
	if !f.srv.outgoing(f.hc.get(), sess, &own, false) {
		return
	}
	if b := encodeEvent(own.Channel, own.Data, own.Ext); sess.enqueueFrom(b, f.lazy, &f.origin) {
		f.delivered++
		f.srv.countOut(1, len(b))
	}
}
