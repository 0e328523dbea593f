package runtime

import (
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// origin describes where a batch of messages came from.
type origin struct {
	transport string
	browserID string
	ws        *wsConn // set for the websocket transport
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
}

// pendingConnect is a /meta/connect whose reply is not written yet.
type pendingConnect struct {
	sess   *ServerSession
	id     bayeux.ID
	seq    uint64
	hold   time.Duration // how long to hold it if nothing is queued
	advise bool          // the reply carries advice
	multi  bool          // another session of the browser holds a long poll
}

var (
	errDataMissing       = bayeux.NewError(400, "data_missing")
	errCreateDenied      = bayeux.NewError(403, "create_denied", "denied_by_security_policy")
	errSubscribeDenied   = bayeux.NewError(403, "subscribe_denied", "denied_by_security_policy")
	errHandshakeBatched  = bayeux.NewError(400, "handshake_not_alone")
	errTooManySessions   = bayeux.NewError(503, "too_many_sessions")
	errShuttingDown      = bayeux.NewError(503, "server_shutting_down")
	errTransportRefused  = bayeux.NewError(405, "transport_not_allowed")
	errUnsubscribeFailed = bayeux.NewError(400, "channel_missing")
)

// process handles a batch of messages in order and returns the replies.
func (s *Server) process(o *origin, msgs []bayeux.Message) result {
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
	for i := range msgs {
		m := &msgs[i]
		name := bayeux.Normalize(m.Channel)
		switch {
		case name == "":
			res.replies = append(res.replies, encodeReply(m.Channel, m.ID, bayeux.ErrChannelMissing))
			continue
		case !bayeux.ValidChannel(name):
			res.replies = append(res.replies, encodeReply(m.Channel, m.ID, bayeux.ErrChannelInvalid))
			continue
		case !bayeux.ValidID(m.ID):
			res.replies = append(res.replies, encodeReply(name, "", bayeux.ErrMessageIDInvalid))
			continue
		}
		m.Channel = name
		if name == bayeux.MetaHandshake {
			res.handshake = s.handshake(o, m)
			continue
		}
		sess := s.sessions.get(m.ClientID)
		if sess == nil || sess.isRemoved() {
			res.replies = append(res.replies, unknownSessionReply(m))
			continue
		}
		if o.ws != nil {
			o.ws.bind(sess)
		}
		switch name {
		case bayeux.MetaConnect:
			if res.connect != nil { // two connects in one batch: answer the first now
				res.replies = append(res.replies, s.connectReply(res.connect))
			}
			res.connect = s.connect(sess, m, len(msgs) == 1)
		case bayeux.MetaDisconnect:
			s.removeSession(sess, RemovedDisconnect)
			if o.ws != nil {
				// The CometD client closes its websocket only when the
				// held connect's reply arrives before the disconnect's.
				o.ws.answerHeldConnect()
			}
			res.replies = append(res.replies, encodeReply(name, m.ID, nil))
		case bayeux.MetaSubscribe:
			res.replies = append(res.replies, s.subscribe(sess, m))
		case bayeux.MetaUnsubscribe:
			res.replies = append(res.replies, s.unsubscribe(sess, m))
		default:
			res.replies = append(res.replies, s.publish(sess, m))
		}
	}
	return res
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

func (s *Server) handshake(o *origin, m *bayeux.Message) []byte {
	reply := &bayeux.Message{
		Channel:                  bayeux.MetaHandshake,
		ID:                       m.ID,
		Version:                  bayeux.Version,
		MinimumVersion:           bayeux.Version,
		SupportedConnectionTypes: s.opts.Transports,
		Successful:               bayeux.Bool(false),
	}
	fail := func(err *bayeux.Error, advice *bayeux.Advice) []byte {
		reply.Error = err.Error()
		reply.Advice = advice
		return encodeMessage(reply)
	}
	if !s.transportAllowed(o.transport) {
		return fail(errTransportRefused, &bayeux.Advice{Reconnect: bayeux.ReconnectNone})
	}
	retryLater := &bayeux.Advice{Reconnect: bayeux.ReconnectRetry, Interval: bayeux.Int(s.opts.MultiSessionInterval.Milliseconds())}
	if s.isClosing() {
		return fail(errShuttingDown, retryLater)
	}
	if s.nsessions.Add(1) > int64(s.opts.MaxSessions) {
		s.nsessions.Add(-1)
		s.log.Warn("bayeux handshake refused: too many sessions", "max", s.opts.MaxSessions)
		return fail(errTooManySessions, retryLater)
	}
	sess := newSession(s, o.browserID)
	sess.expires = time.Now().Add(s.opts.Interval + s.opts.MaxInterval)
	s.sessions.put(sess)
	s.stats.handshakes.Add(1)
	if o.ws != nil {
		o.ws.bind(sess)
	}
	reply.ClientID = sess.id
	reply.Successful = bayeux.Bool(true)
	reply.Advice = s.advice()
	reply.Advice.MaxInterval = bayeux.Int(s.opts.MaxInterval.Milliseconds())
	return encodeMessage(reply)
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
func (s *Server) connect(sess *ServerSession, m *bayeux.Message, alone bool) *pendingConnect {
	sess.mu.Lock()
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
	if first || !alone || hold < 0 {
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
	switch {
	case removed && reason == RemovedDisconnect:
		return encodeMessage(&bayeux.Message{
			Channel: bayeux.MetaConnect, ID: pc.id, Successful: bayeux.Bool(true),
			Advice: &bayeux.Advice{Reconnect: bayeux.ReconnectNone},
		})
	case removed:
		return unknownSessionReply(&bayeux.Message{Channel: bayeux.MetaConnect, ID: pc.id})
	case s.isClosing():
		// Successful, so the client keeps its state, and told to come back:
		// its next connect reaches a restarted server (or a peer) and is
		// told to handshake there.
		return encodeMessage(&bayeux.Message{
			Channel: bayeux.MetaConnect, ID: pc.id, Successful: bayeux.Bool(true), Advice: s.advice(),
		})
	case pc.multi:
		if s.opts.MultiSessionInterval <= 0 {
			return encodeMessage(&bayeux.Message{
				Channel: bayeux.MetaConnect, ID: pc.id, Successful: bayeux.Bool(false),
				Error:  "409::multiple_clients",
				Advice: &bayeux.Advice{Reconnect: bayeux.ReconnectNone, MultipleClients: true},
			})
		}
		return encodeMessage(&bayeux.Message{
			Channel: bayeux.MetaConnect, ID: pc.id, Successful: bayeux.Bool(true),
			Advice: &bayeux.Advice{
				Reconnect:       bayeux.ReconnectRetry,
				Interval:        bayeux.Int(s.opts.MultiSessionInterval.Milliseconds()),
				MultipleClients: true,
			},
		})
	case pc.advise:
		return encodeMessage(&bayeux.Message{
			Channel: bayeux.MetaConnect, ID: pc.id, Successful: bayeux.Bool(true), Advice: s.advice(),
		})
	}
	return encodeReply(bayeux.MetaConnect, pc.id, nil)
}

func (s *Server) subscribe(sess *ServerSession, m *bayeux.Message) []byte {
	return s.changeSubscriptions(sess, m, true)
}

func (s *Server) unsubscribe(sess *ServerSession, m *bayeux.Message) []byte {
	return s.changeSubscriptions(sess, m, false)
}

func (s *Server) changeSubscriptions(sess *ServerSession, m *bayeux.Message, subscribe bool) []byte {
	reply := &bayeux.Message{Channel: m.Channel, ID: m.ID, Subscription: m.Subscription, Successful: bayeux.Bool(true)}
	fail := func(err *bayeux.Error) []byte {
		reply.Successful = bayeux.Bool(false)
		reply.Error = err.Error()
		return encodeMessage(reply)
	}
	names, err := m.Subscriptions()
	switch {
	case err != nil:
		return fail(bayeux.ErrSubscriptionInvalid)
	case len(names) == 0:
		return fail(bayeux.ErrSubscriptionMissing)
	}
	for _, raw := range names {
		name := bayeux.Normalize(raw)
		if !bayeux.ValidChannel(name) {
			return fail(bayeux.ErrSubscriptionInvalid)
		}
		switch bayeux.KindOf(name) {
		case bayeux.Meta:
			return fail(errSubscribeDenied)
		case bayeux.Service:
			continue // a no-op that succeeds, as in CometD
		}
		if subscribe {
			if !s.channels.subscribe(sess, name) {
				return fail(bayeux.ErrSessionUnknown)
			}
		} else if !s.channels.unsubscribe(sess, name) && s.channels.get(name) == nil {
			return fail(errUnsubscribeFailed)
		}
	}
	return encodeMessage(reply)
}

func (s *Server) publish(sess *ServerSession, m *bayeux.Message) []byte {
	switch {
	case bayeux.KindOf(m.Channel) == bayeux.Meta:
		return encodeReply(m.Channel, m.ID, errCreateDenied)
	case bayeux.IsWild(m.Channel):
		return encodeReply(m.Channel, m.ID, bayeux.ErrChannelInvalid)
	case m.Data == nil:
		return encodeReply(m.Channel, m.ID, errDataMissing)
	case bayeux.KindOf(m.Channel) == bayeux.Service:
		// Service messages go to the server only; with no service
		// registered for the channel there is nothing more to do.
		return encodeReply(m.Channel, m.ID, nil)
	}
	n := s.channels.fanOut(m.Channel, encodeEvent(m.Channel, m.Data, m.Ext), sess, true)
	s.stats.published.Add(1)
	s.stats.deliveries.Add(int64(n))
	return encodeReply(m.Channel, m.ID, nil)
}
