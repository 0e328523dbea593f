package runtime

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// origin describes where a batch of messages came from.
type origin struct {
	transport string
	browserID string
	ws        *wsConn       // set for the websocket transport
	req       *http.Request // the HTTP request, or the websocket upgrade request
}

// result is what processing a batch produced: the handshake reply (written
// first), the other replies in order, and at most one /meta/connect whose
// reply waits until the transport has held it as long as it should.
type result struct {
	handshake []byte
	replies   [][]byte
	connect   *pendingConnect
	// rejected is set when the batch broke the protocol as a whole (a
	// handshake batched with other messages); HTTP answers it with 400.
	rejected bool
	// resumes are the resuming subscribes of the batch (the resume
	// extension), joined after one replay once the batch is processed.
	resumes []pendingResume
}

// pendingConnect is a /meta/connect whose reply is not written yet.
type pendingConnect struct {
	sess   *ServerSession
	id     bayeux.ID
	seq    uint64
	hold   time.Duration // how long to hold it if nothing is queued
	advise bool          // the reply carries advice
	multi  bool          // another session of the browser holds a long poll
	batch  int64         // ack extension: the batch this reply carries
}

var (
	errDataMissing      = bayeux.NewError(400, "data_missing")
	errCreateDenied     = bayeux.NewError(403, "create_denied", "denied_by_security_policy")
	errSubscribeDenied  = bayeux.NewError(403, "subscribe_denied", "denied_by_security_policy")
	errHandshakeBatched = bayeux.NewError(400, "handshake_not_alone")
	errTooManySessions  = bayeux.NewError(503, "too_many_sessions")
	// errTooManyClientSessions: a handshake beyond
	// Options.MaxSessionsPerClient.
	errTooManyClientSessions = bayeux.NewError(503, "too_many_sessions_per_client")
	errShuttingDown          = bayeux.NewError(503, "server_shutting_down")
	errTransportRefused      = bayeux.NewError(405, "transport_not_allowed")
	errUnsubscribeFailed     = bayeux.NewError(400, "channel_missing")
	errInternal              = bayeux.NewError(500, "server_error")
	errInvalidUTF8           = bayeux.NewError(400, "invalid_utf8")
	// errVersionUnsupported: the handshake's version has another major
	// number than bayeux.Version.
	errVersionUnsupported = bayeux.NewError(400, "version_unsupported")
	// errNoTransport: the handshake lists no connection type the server
	// allows (the message of the CometD Java client in that case).
	errNoTransport = bayeux.NewError(405, "no_transport")
	// errTooManySubscriptions: a subscribe beyond
	// Options.MaxSubscriptionsPerSession.
	errTooManySubscriptions = bayeux.NewError(403, "too_many_subscriptions")
	// errTooManyChannels: a subscribe that would create a channel beyond
	// Options.MaxChannels.
	errTooManyChannels = bayeux.NewError(503, "too_many_channels")
)

// hookContext is the context hooks run with while one batch is processed:
// the request's, bounded by Options.HookTimeout. It is made on first use,
// so a batch that runs no hook pays nothing for it, and it is lazy (see
// lazyContext), so a hook that does not wait on it pays no timer.
type hookContext struct {
	parent  context.Context // nil: derived from origin
	origin  *origin
	timeout time.Duration
	ctx     *lazyContext
}

func (h *hookContext) get() context.Context {
	if h.ctx == nil {
		parent, req := h.parent, (*http.Request)(nil)
		if parent == nil {
			parent, req = context.Background(), h.origin.req
			if req != nil {
				parent = req.Context()
			}
		}
		h.ctx = newLazyContext(parent, req, h.timeout)
	}
	return h.ctx
}

func (h *hookContext) done() {
	if h.ctx != nil {
		h.ctx.done()
	}
}

type requestKey struct{}

// RequestFromContext returns the HTTP request of the message being
// processed (for websocket, the upgrade request), so a SecurityPolicy can
// read headers and cookies. It returns nil for messages of local sessions.
func RequestFromContext(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

// process handles a batch of messages in order and returns the replies.
// The messages listed in invalid (increasing indexes) hold invalid UTF-8:
// they are refused with 400::invalid_utf8 and go no further.
func (s *Server) process(o *origin, msgs []bayeux.Message, invalid []int) result {
	var res result
	s.stats.messagesIn.Add(int64(len(msgs)))
	if len(msgs) > 1 {
		for i := range msgs {
			if bayeux.Normalize(msgs[i].Channel) == bayeux.MetaHandshake {
				// CometD fails the whole request; so do we, with a reply per
				// message saying why, so nothing is silently ignored.
				for j := range msgs {
					res.replies = append(res.replies, encodeReply(msgs[j].Channel, msgs[j].ID, errHandshakeBatched))
				}
				res.rejected = true
				return res
			}
		}
	}
	hc := hookContext{origin: o, timeout: s.opts.HookTimeout}
	defer hc.done()
	hs := s.hooks.load()
	for i := range msgs {
		if len(invalid) > 0 && invalid[0] == i {
			invalid = invalid[1:]
			s.stats.badRequests.Add(1)
			s.refuse(refusal{op: opOf(msgs[i].Channel), label: "", name: msgs[i].Channel, reason: reasonInvalid, err: errInvalidUTF8})
			res.replies = append(res.replies, encodeReply(msgs[i].Channel, msgs[i].ID, errInvalidUTF8))
			continue
		}
		s.processOne(o, &hc, hs, &msgs[i], len(msgs) == 1, &res)
	}
	for _, pr := range res.resumes {
		s.finishResume(&hc, pr)
	}
	return res
}

// processOne handles one message. A panic in application code (a listener,
// a filter, an extension, a policy) fails this message's reply and is
// logged; the server and the other messages carry on.
func (s *Server) processOne(o *origin, hc *hookContext, hs *hookSet, m *bayeux.Message, alone bool, res *result) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("bayeux: panic while processing a message", "channel", m.Channel, "panic", r, "stack", string(debug.Stack()))
			res.replies = append(res.replies, encodeReply(m.Channel, m.ID, errInternal))
		}
	}()
	name := bayeux.Normalize(m.Channel)
	invalid := func(err *bayeux.Error) {
		s.refuse(refusal{op: opRequest, label: "", name: name, reason: reasonInvalid, err: err})
	}
	switch {
	case name == "":
		invalid(bayeux.ErrChannelMissing)
		res.replies = append(res.replies, encodeReply(m.Channel, m.ID, bayeux.ErrChannelMissing))
		return
	case !bayeux.ValidChannel(name):
		invalid(bayeux.ErrChannelInvalid)
		res.replies = append(res.replies, encodeReply(m.Channel, m.ID, bayeux.ErrChannelInvalid))
		return
	case !bayeux.ValidID(m.ID):
		invalid(bayeux.ErrMessageIDInvalid)
		res.replies = append(res.replies, encodeReply(name, "", bayeux.ErrMessageIDInvalid))
		return
	}
	m.Channel = name
	if name == bayeux.MetaHandshake {
		res.handshake = s.handshake(o, hc, hs, m)
		return
	}
	sess := s.sessions.get(m.ClientID)
	if sess == nil || sess.isRemoved() {
		res.replies = append(res.replies, unknownSessionReply(m))
		return
	}
	if o.ws != nil {
		o.ws.bind(sess)
	}
	if err := s.incoming(hc, hs, sess, m); err != nil {
		s.refuse(refusal{op: opOf(name), t: s.templateNamed(nil, name), name: name, reason: reasonExtension, err: err, sess: sess})
		res.replies = append(res.replies, s.finish(hc, hs, sess, failure(m, err)))
		return
	}
	var reply *bayeux.Message
	switch name {
	case bayeux.MetaConnect:
		if o.ws == nil {
			sess.detachWebSocket() // long polls deliver the session's messages now
		}
		if mt := s.metrics; mt != nil {
			mt.transport(o.transport).connects.Inc()
		}
		if res.connect != nil { // two connects in one batch: answer the first now
			res.replies = append(res.replies, s.connectReply(res.connect))
		}
		res.connect = s.connect(sess, m, alone, o.transport)
		return
	case bayeux.MetaDisconnect:
		if s.removeSession(sess, RemovedDisconnect) && s.metrics != nil {
			s.metrics.disconnects.Inc()
		}
		if o.ws != nil {
			// The CometD client closes its websocket only when the
			// held connect's reply arrives before the disconnect's.
			o.ws.answerHeldConnect()
		}
		reply = success(m)
	case bayeux.MetaSubscribe:
		reply = s.changeSubscriptions(hc, hs, sess, m, true, res)
	case bayeux.MetaUnsubscribe:
		reply = s.changeSubscriptions(hc, hs, sess, m, false, res)
	default:
		err := s.publish(hc, hs, sess, m)
		if len(hs.extensions) == 0 && len(sess.extensions()) == 0 {
			// The publish reply, at the publish rate: no extension to run,
			// so no Message to build.
			res.replies = append(res.replies, encodeReply(m.Channel, m.ID, err))
			return
		}
		if reply = success(m); err != nil {
			reply = failure(m, err)
		}
	}
	if b := s.finish(hc, hs, sess, reply); b != nil {
		res.replies = append(res.replies, b)
	}
}

func success(m *bayeux.Message) *bayeux.Message {
	return &bayeux.Message{Channel: m.Channel, ID: m.ID, Successful: bayeux.Bool(true)}
}

func failure(m *bayeux.Message, err *bayeux.Error) *bayeux.Message {
	return &bayeux.Message{Channel: m.Channel, ID: m.ID, Successful: bayeux.Bool(false), Error: err.Error()}
}

// asBayeuxError turns an application error into the error a client sees:
// a *bayeux.Error as it is, anything else as "code:<text>:message".
func asBayeuxError(err error, code int, message string) *bayeux.Error {
	var be *bayeux.Error
	if errors.As(err, &be) {
		return be
	}
	return bayeux.NewError(code, message, bayeux.ErrorArg(err.Error()))
}

// incoming runs the incoming extensions, server-wide then the session's.
func (s *Server) incoming(hc *hookContext, hs *hookSet, sess *ServerSession, m *bayeux.Message) *bayeux.Error {
	exts := hs.extensions
	var sessExts []Extension
	if sess != nil {
		sessExts = sess.extensions()
	}
	if len(exts) == 0 && len(sessExts) == 0 {
		return nil
	}
	for _, list := range [][]Extension{exts, sessExts} {
		for _, e := range list {
			if err := e.Incoming(hc.get(), sess, m); err != nil {
				s.stats.denied.Add(1)
				return vetoError(err)
			}
		}
	}
	return nil
}

// outgoing runs the outgoing extensions on a message for to (server-wide
// ones only when withServer). It reports false when one deleted it.
func (s *Server) outgoing(ctx context.Context, to *ServerSession, m *bayeux.Message, withServer bool) bool {
	var exts []Extension
	if withServer {
		exts = s.hooks.load().extensions
	}
	var sessExts []Extension
	if to != nil {
		sessExts = to.extensions()
	}
	for _, e := range exts {
		if e.Outgoing(ctx, to, m) != nil {
			return false
		}
	}
	// A session's extensions run in reverse order of addition, as CometD's.
	for i := len(sessExts) - 1; i >= 0; i-- {
		if sessExts[i].Outgoing(ctx, to, m) != nil {
			return false
		}
	}
	return true
}

// finish runs the outgoing extensions on a reply and encodes it; nil means
// an extension deleted it.
func (s *Server) finish(hc *hookContext, hs *hookSet, sess *ServerSession, reply *bayeux.Message) []byte {
	if len(hs.extensions) > 0 || (sess != nil && len(sess.extensions()) > 0) {
		if !s.outgoing(hc.get(), sess, reply, true) {
			return nil
		}
	}
	return encodeMessage(reply)
}

func unknownSessionReply(m *bayeux.Message) []byte {
	if m.Channel != bayeux.MetaConnect {
		return encodeReply(m.Channel, m.ID, bayeux.ErrSessionUnknown)
	}
	return encodeMessage(&bayeux.Message{
		Channel:    m.Channel,
		ID:         m.ID,
		Successful: bayeux.Bool(false),
		Error:      bayeux.ErrSessionUnknown.Error(),
		Advice:     &bayeux.Advice{Reconnect: bayeux.ReconnectHandshake, Interval: bayeux.Int(0)},
	})
}

func (s *Server) handshake(o *origin, hc *hookContext, hs *hookSet, m *bayeux.Message) []byte {
	reply := &bayeux.Message{
		Channel:                  bayeux.MetaHandshake,
		ID:                       m.ID,
		Version:                  bayeux.Version,
		MinimumVersion:           bayeux.Version,
		SupportedConnectionTypes: s.opts.Transports,
		Successful:               bayeux.Bool(false),
	}
	sess := newSession(s, o.browserID)
	sess.transport = o.transport
	reason := reasonProtocol
	fail := func(err *bayeux.Error, advice *bayeux.Advice) []byte {
		s.refuse(refusal{op: opHandshake, label: bayeux.MetaHandshake, name: bayeux.MetaHandshake, reason: reason, err: err, sess: sess})
		reply.Error = err.Error()
		reply.Advice = advice
		return s.finish(hc, hs, sess, reply)
	}
	if !s.transportAllowed(o.transport) {
		return fail(errTransportRefused, &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
	}
	// Bayeux: a client whose version's major number is not the server's,
	// or which lists no connection type the server allows, cannot talk to
	// it. A field the client left out is not held against it (CometD reads
	// neither).
	if !versionSpoken(m.Version) {
		return fail(errVersionUnsupported, &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
	}
	if m.SupportedConnectionTypes != nil && !slices.ContainsFunc(m.SupportedConnectionTypes, s.transportAllowed) {
		return fail(errNoTransport, &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
	}
	retryLater := func() *bayeux.Advice { return retryAdvice(s.opts.MultiSessionInterval) }
	reason = reasonUnhealthy
	if s.isClosing() {
		return fail(errShuttingDown, retryLater())
	}
	if s.opts.Broker != nil && s.Healthy() != nil {
		return fail(errNodeUnhealthy, retryLater())
	}
	reason = reasonExtension
	if err := s.incoming(hc, hs, sess, m); err != nil {
		return fail(err, &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
	}
	reason = reasonInvalid
	resumeAsked := false
	if s.historyBroker() != nil {
		if v, ok := m.Ext[extResume]; ok {
			if v != true {
				return fail(errResumeInvalid, &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
			}
			resumeAsked = true
		}
	}
	reason = reasonPolicy
	if p := hs.policy; p != nil {
		if err := p.CanHandshake(hc.get(), sess, m); err != nil {
			s.stats.denied.Add(1)
			return fail(asBayeuxError(err, 403, "handshake_denied"), &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
		}
	}
	reason = reasonLimit
	if s.nsessions.Add(1) > int64(s.opts.MaxSessions) {
		s.nsessions.Add(-1)
		return fail(errTooManySessions, retryLater())
	}
	if o.req != nil {
		addr := s.opts.ClientAddress(o.req)
		if !s.clients.acquire(addr, s.opts.MaxSessionsPerClient) {
			s.nsessions.Add(-1)
			s.stats.denied.Add(1)
			return fail(errTooManyClientSessions, retryLater())
		}
		sess.clientAddr = addr
	}
	sess.expires = time.Now().Add(s.opts.Interval + s.opts.MaxInterval)
	s.sessions.put(sess)
	if sess.userID != "" {
		s.indexUser(sess, sess.userID)
	}
	if s.opts.Broker != nil && s.Healthy() != nil {
		// The node became unhealthy while this handshake ran: its removal
		// of the sessions may have missed this one.
		s.removeSession(sess, RemovedUnhealthy)
		reason = reasonUnhealthy
		return fail(errNodeUnhealthy, retryLater())
	}
	s.stats.handshakes.Add(1)
	if mt := s.metrics; mt != nil {
		mt.transport(o.transport).handshakes.Inc()
	}
	if o.ws != nil {
		o.ws.bind(sess)
	}
	if !s.opts.DisableAck && ackRequested(m) {
		sess.ack.Store(&ackState{})
		reply.Ext = map[string]any{"ack": true}
	}
	if resumeAsked {
		setExt(reply, extResume, true)
		if stream := s.hist.streamName(); stream != "" {
			setExt(reply, extResumeStream, stream)
		}
	}
	s.judgeSkew(m, reply)
	reply.ClientID = sess.id
	reply.Successful = bayeux.Bool(true)
	reply.Advice = s.advice()
	reply.Advice.MaxInterval = bayeux.Int(s.opts.MaxInterval.Milliseconds())
	if ok := sess.userID != ""; ok {
		reply.AuthSuccessful = bayeux.Bool(true)
	}
	for _, f := range hs.sessionAdded {
		f(sess, m)
	}
	return s.finish(hc, hs, sess, reply)
}

// versionSpoken reports whether a client's Bayeux version (absent, or
// "1", "1.0", "1.x") has the major number of the version the server
// speaks.
func versionSpoken(v string) bool {
	if v == "" {
		return true
	}
	major, _, _ := strings.Cut(v, ".")
	want, _, _ := strings.Cut(bayeux.Version, ".")
	return major == want
}

// advice is the server's standing advice.
func (s *Server) advice() *bayeux.Advice {
	return &bayeux.Advice{
		Reconnect: bayeux.ReconnectRetry,
		Interval:  bayeux.Int(s.opts.Interval.Milliseconds()),
		Timeout:   bayeux.Int(s.opts.Timeout.Milliseconds()),
	}
}

// connect registers a /meta/connect; its reply is built by connectReply
// once the transport has held it.
func (s *Server) connect(sess *ServerSession, m *bayeux.Message, alone bool, transport string) *pendingConnect {
	sess.mu.Lock()
	sess.transport = transport
	sess.connectSeq++
	seq := sess.connectSeq
	first := !sess.connected
	sess.connected = true
	sess.expires = time.Now().Add(s.opts.Interval + s.opts.MaxInterval)
	sess.mu.Unlock()
	sess.signal() // an older held connect notices it is displaced

	hold := s.opts.Timeout
	if m.Advice != nil && m.Advice.Timeout != nil {
		hold = min(time.Duration(*m.Advice.Timeout)*time.Millisecond, s.opts.Timeout)
	}
	if unacked := sess.acknowledge(m); first || !alone || hold < 0 || unacked {
		hold = 0
	}
	return &pendingConnect{sess: sess, id: m.ID, seq: seq, hold: hold, advise: first || m.Advice != nil}
}

// displaced reports whether a newer /meta/connect has replaced pc.
func (pc *pendingConnect) displaced() bool {
	pc.sess.mu.Lock()
	defer pc.sess.mu.Unlock()
	return pc.sess.connectSeq != pc.seq
}

// connectReply builds the reply of a /meta/connect that is being answered.
func (s *Server) connectReply(pc *pendingConnect) []byte {
	sess := pc.sess
	sess.mu.Lock()
	removed, reason := sess.removed, sess.reason
	sess.mu.Unlock()
	reply := &bayeux.Message{Channel: bayeux.MetaConnect, ID: pc.id, Successful: bayeux.Bool(true)}
	switch {
	case removed && (reason == RemovedDisconnect || reason == RemovedServer):
		reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectNone}
	case removed:
		return unknownSessionReply(&bayeux.Message{Channel: bayeux.MetaConnect, ID: pc.id})
	case s.isClosing():
		// Successful, so the client keeps its state, and told to come back:
		// its next connect reaches a restarted server (or a peer) and is
		// told to handshake there.
		reply.Advice = s.advice()
	case pc.multi:
		if s.opts.MultiSessionInterval <= 0 {
			reply.Successful = bayeux.Bool(false)
			reply.Error = "409::multiple_clients"
			reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectNone, MultipleClients: true}
			break
		}
		reply.Advice = &bayeux.Advice{
			Reconnect:       bayeux.ReconnectRetry,
			Interval:        bayeux.Int(s.opts.MultiSessionInterval.Milliseconds()),
			MultipleClients: true,
		}
	case pc.advise:
		reply.Advice = s.advice()
	}
	if pc.batch > 0 {
		reply.Ext = map[string]any{"ack": pc.batch}
	}
	if s.hist.broker != nil {
		if complete, ok := sess.takeResumed(); ok {
			setExt(reply, extResume, complete)
		}
	}
	hs := s.hooks.load()
	if len(hs.extensions) == 0 && len(sess.extensions()) == 0 {
		return encodeMessage(reply)
	}
	hc := &hookContext{parent: context.Background(), timeout: s.opts.HookTimeout}
	defer hc.done()
	if b := s.finish(hc, hs, sess, reply); b != nil {
		return b
	}
	// A connect reply cannot be deleted: the client would stall.
	return encodeMessage(reply)
}

// setExt sets key in m's ext, creating it if needed.
func setExt(m *bayeux.Message, key string, v any) {
	if m.Ext == nil {
		m.Ext = map[string]any{}
	}
	m.Ext[key] = v
}

// authorize runs the security policy and the authorizers for op on channel.
func (s *Server) authorize(hc *hookContext, hs *hookSet, op Operation, sess *ServerSession, channel string, m *bayeux.Message, route []*Channel) *bayeux.Error {
	denied := func() string { return op.String() + "_denied" } // only when denied: it allocates
	if p := hs.policy; p != nil {
		var err error
		switch op {
		case OpCreate:
			err = p.CanCreate(hc.get(), sess, channel, m)
		case OpSubscribe:
			err = p.CanSubscribe(hc.get(), sess, channel, m)
		case OpPublish:
			err = p.CanPublish(hc.get(), sess, channel, m)
		}
		if err != nil {
			s.stats.denied.Add(1)
			be := asBayeuxError(err, 403, denied())
			s.refusePolicy(op, sess, channel, m, route, be)
			return be
		}
	}
	// A contract grants what it allows: it judged the operation before.
	granted, asked := s.contract.Load() != nil, false
	for _, c := range route {
		for _, a := range c.conf.Load().authorizers {
			asked = true
			switch d := a.Authorize(hc.get(), op, channel, sess, m); {
			case d.kind < 0:
				s.stats.denied.Add(1)
				be := bayeux.NewError(403, denied(), bayeux.ErrorArg(d.reason))
				s.refusePolicy(op, sess, channel, m, route, be)
				return be
			case d.kind > 0:
				granted = true
			}
		}
	}
	if asked && !granted {
		s.stats.denied.Add(1)
		be := bayeux.NewError(403, denied(), "denied_by_not_granting")
		s.refusePolicy(op, sess, channel, m, route, be)
		return be
	}
	return nil
}

func (s *Server) changeSubscriptions(hc *hookContext, hs *hookSet, sess *ServerSession, m *bayeux.Message, subscribe bool, res *result) *bayeux.Message {
	reply := &bayeux.Message{Channel: m.Channel, ID: m.ID, Subscription: m.Subscription, Successful: bayeux.Bool(true)}
	fail := func(err *bayeux.Error) *bayeux.Message {
		reply.Successful = bayeux.Bool(false)
		reply.Error = err.Error()
		return reply
	}
	// refused is fail of a refusal the metrics and logs record.
	refused := func(r refusal) *bayeux.Message {
		r.op, r.sess = opSubscribe, sess
		s.refuse(r)
		return fail(r.err)
	}
	names, err := m.Subscriptions()
	switch {
	case err != nil:
		return refused(refusal{reason: reasonInvalid, err: bayeux.ErrSubscriptionInvalid})
	case len(names) == 0:
		return refused(refusal{reason: reasonInvalid, err: bayeux.ErrSubscriptionMissing})
	}
	// With a history: a subscribe whose ext.resume is a position resumes
	// after it (joined once the batch is processed, after the replay); the
	// others are told the position they join at.
	var resume *pendingResume
	joinedAt := uint64(0)
	joined := false
	if subscribe && s.historyBroker() != nil {
		at, asked, berr := resumeAfter(m)
		if berr != nil {
			return fail(berr)
		}
		if asked {
			resume = res.resumeGroup(sess, at, s.hist.streamName())
		}
	}
	for _, raw := range names {
		name := bayeux.Normalize(raw)
		if !bayeux.ValidChannel(name) {
			return refused(refusal{reason: reasonInvalid, err: bayeux.ErrSubscriptionInvalid})
		}
		switch bayeux.KindOf(name) {
		case bayeux.Meta:
			return refused(refusal{name: name, reason: reasonPolicy, err: errSubscribeDenied})
		case bayeux.Service:
			continue // a no-op that succeeds, as in CometD
		}
		if !subscribe {
			if res.unresume(sess, name) {
				continue // its resuming subscribe in this batch is dropped
			}
			if !s.channels.unsubscribe(sess, name) && s.channels.get(name) == nil {
				return fail(errUnsubscribeFailed)
			}
			continue
		}
		if cc := s.contract.Load(); cc != nil {
			if t, err := s.judgeSubscribe(cc, sess, name); err != nil {
				s.stats.denied.Add(1)
				return refused(refusal{t: t, name: name, reason: reasonOf(err), err: err})
			}
		}
		if hs.policy != nil || s.hasAuthorizers.Load() {
			var buf [8]*Channel
			route := s.channels.route(buf[:0], name)
			if len(route) == 0 || route[0].name != name {
				if err := s.authorize(hc, hs, OpCreate, sess, name, m, route); err != nil {
					return fail(err)
				}
			}
			if err := s.authorize(hc, hs, OpSubscribe, sess, name, m, route); err != nil {
				return fail(err)
			}
		}
		pending := 0
		if resume != nil {
			pending = len(resume.channels)
		}
		if err := s.subscriptionRoom(sess, name, pending); err != nil {
			return refused(refusal{t: s.templateNamed(nil, name), name: name, reason: reasonLimit, err: err})
		}
		if resume != nil {
			if !slices.Contains(resume.channels, name) {
				resume.channels = append(resume.channels, name)
			}
			continue
		}
		if s.historyBroker() != nil {
			var ok bool
			if joinedAt, ok = s.joinAtPosition(sess, name); !ok {
				return fail(bayeux.ErrSessionUnknown)
			}
			joined = true
			continue
		}
		if !s.channels.subscribe(sess, name) {
			return fail(bayeux.ErrSessionUnknown)
		}
	}
	if joined {
		reply.Ext = map[string]any{extResume: joinedAt}
	}
	return reply
}

// subscriptionRoom returns nil when sess may subscribe to name: it is
// subscribed already, or it has fewer than MaxSubscriptionsPerSession
// subscriptions (pending more to come in its batch) and the channel exists
// or the server holds fewer than MaxChannels.
func (s *Server) subscriptionRoom(sess *ServerSession, name string, pending int) *bayeux.Error {
	c := s.channels.get(name)
	sess.mu.Lock()
	_, already := sess.subs[c]
	n := len(sess.subs) + pending
	sess.mu.Unlock()
	switch {
	case c != nil && already:
		return nil
	case n >= s.opts.MaxSubscriptionsPerSession:
		s.stats.denied.Add(1)
		return errTooManySubscriptions
	case c == nil && s.channels.n.Load() >= int64(s.opts.MaxChannels):
		s.stats.denied.Add(1)
		return errTooManyChannels
	}
	return nil
}

func (s *Server) publish(hc *hookContext, hs *hookSet, sess *ServerSession, m *bayeux.Message) *bayeux.Error {
	refused := func(reason string, err *bayeux.Error) *bayeux.Error {
		s.refuse(refusal{op: opPublish, t: s.templateNamed(nil, m.Channel), name: m.Channel, reason: reason, err: err, sess: sess})
		return err
	}
	switch {
	case bayeux.KindOf(m.Channel) == bayeux.Meta:
		return refused(reasonPolicy, errCreateDenied)
	case bayeux.IsWild(m.Channel):
		return refused(reasonInvalid, bayeux.ErrChannelInvalid)
	case m.Data == nil:
		return refused(reasonInvalid, errDataMissing)
	}
	return s.dispatch(hc, hs, sess, m, true)
}

// opOf returns the operation label of a message on channel.
func opOf(channel string) string {
	switch bayeux.Normalize(channel) {
	case bayeux.MetaHandshake:
		return opHandshake
	case bayeux.MetaSubscribe, bayeux.MetaUnsubscribe:
		return opSubscribe
	}
	if bayeux.KindOf(channel) == bayeux.Meta {
		return opRequest
	}
	return opPublish
}

// refusePolicy records the refusal of op on channel by the security
// policy or an authorizer.
func (s *Server) refusePolicy(op Operation, sess *ServerSession, channel string, m *bayeux.Message, route []*Channel, err *bayeux.Error) {
	label := opPublish
	if op == OpSubscribe || op == OpCreate && m != nil && m.Channel == bayeux.MetaSubscribe {
		label = opSubscribe
	}
	s.refuse(refusal{op: label, t: s.templateNamed(route, channel), name: channel, reason: reasonPolicy, err: err, sess: sess})
}

// retryAdvice is the advice of a handshake refused for a while (a limit
// reached, the node shutting down or unhealthy): retry after about d,
// jittered over [d/2, 3d/2) so that clients refused together, as in a
// reconnect storm, do not all come back at the same moment.
func retryAdvice(d time.Duration) *bayeux.Advice {
	if d > 1 {
		d = d/2 + rand.N(d)
	}
	return &bayeux.Advice{Reconnect: bayeux.ReconnectRetry, Interval: bayeux.Int(d.Milliseconds())}
}
