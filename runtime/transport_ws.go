package runtime

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// wsConn is one websocket connection. Its reader goroutine processes
// incoming batches; its writer goroutine owns every write: replies, queued
// messages (delivered as soon as they are queued, without waiting for a
// /meta/connect), and the held /meta/connect's reply when it is due.
type wsConn struct {
	srv       *Server
	c         *websocket.Conn
	browserID string
	req       *http.Request // the upgrade request
	wake      chan struct{} // capacity 1
	closed    chan struct{} // closed when the reader stops

	mu      sync.Mutex
	out     [][]byte       // replies waiting to be written, in order
	sess    *ServerSession // the session bound to this connection
	pending *pendingConnect
	due     time.Time // when pending must be answered
	// inBatch is set while the reader processes a batch: like CometD, the
	// deliveries a batch causes to its own session leave together with
	// the batch's replies, in one frame.
	inBatch bool
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !s.transportAllowed(bayeux.TransportWebSocket) {
		s.badRequest(w, http.StatusBadRequest, "bayeux: transport %s not allowed", bayeux.TransportWebSocket)
		return
	}
	if s.isClosing() {
		s.badRequest(w, http.StatusServiceUnavailable, "bayeux: server shutting down")
		return
	}
	if err := s.Healthy(); err != nil {
		s.badRequest(w, http.StatusServiceUnavailable, "bayeux: node unhealthy")
		return
	}
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.stats.badRequests.Add(1)
		return // the upgrader has written the HTTP error
	}
	c.SetReadLimit(s.opts.MaxMessageSize)
	wc := &wsConn{srv: s, c: c, req: r, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	if ck, err := r.Cookie(s.opts.BrowserCookieName); err == nil {
		wc.browserID = ck.Value
	}
	s.wsConns.Store(wc, struct{}{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		wc.writeLoop()
	}()
	wc.readLoop()
	close(wc.closed)
	<-writerDone
	c.Close()
	wc.release()
	s.wsConns.Delete(wc)
}

func (wc *wsConn) signal() {
	select {
	case wc.wake <- struct{}{}:
	default:
	}
}

// bind makes sess the session whose messages this connection delivers: the
// connection a client used last owns its session's queue. The websocket
// that owned it before stops delivering it (a half-open one would
// otherwise go on taking messages the client never reads).
func (wc *wsConn) bind(sess *ServerSession) {
	wc.mu.Lock()
	prev := wc.sess
	wc.sess = sess
	wc.mu.Unlock()
	if prev == sess {
		return
	}
	if prev != nil {
		prev.mu.Lock()
		if prev.ws == wc {
			prev.ws = nil
		}
		prev.mu.Unlock()
	}
	sess.mu.Lock()
	old := sess.ws
	sess.ws = wc
	sess.mu.Unlock()
	if old != nil && old != wc {
		old.unbind(sess)
	}
	wc.signal()
}

// unbind stops the connection from delivering sess, which another
// connection took.
func (wc *wsConn) unbind(sess *ServerSession) {
	wc.mu.Lock()
	if wc.sess == sess {
		wc.sess = nil
	}
	wc.mu.Unlock()
	wc.signal()
}

func (wc *wsConn) readLoop() {
	s := wc.srv
	o := &origin{transport: bayeux.TransportWebSocket, ws: wc, req: wc.req}
	// Any frame, a pong included, shows the client is there; a websocket
	// silent for longer than a ping interval and its timeout is closed.
	silence := s.opts.PingInterval + s.opts.PingTimeout
	wc.c.SetPongHandler(func(string) error {
		return wc.c.SetReadDeadline(time.Now().Add(silence))
	})
	for {
		wc.c.SetReadDeadline(time.Now().Add(silence))
		_, data, err := wc.c.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.stats.badRequests.Add(1)
				s.log.Info("bayeux websocket message too large", "limit", s.opts.MaxMessageSize)
			}
			return
		}
		s.stats.bytesIn.Add(int64(len(data)))
		msgs, invalid, err := decodeMessages(data, s.opts.MaxMessagesPerRequest)
		if errors.Is(err, errEmptyBatch) {
			continue // Faye clients send [] as a keep-alive
		}
		if err != nil {
			s.stats.badRequests.Add(1)
			code, reason := websocket.CloseInvalidFramePayloadData, err.Error()
			if errors.Is(err, errTooManyMessages) {
				code = websocket.CloseMessageTooBig
			}
			if len(reason) > 120 {
				reason = strings.ToValidUTF8(reason[:120], "")
			}
			_ = wc.c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(code, reason),
				time.Now().Add(time.Second))
			return
		}
		o.browserID = wc.browserID
		wc.mu.Lock()
		wc.inBatch = true
		wc.mu.Unlock()
		wc.enqueue(s.process(o, msgs, invalid))
	}
}

// enqueue hands the results of a batch to the writer.
func (wc *wsConn) enqueue(res result) {
	wc.mu.Lock()
	wc.inBatch = false
	if res.handshake != nil {
		wc.out = append(wc.out, res.handshake)
	}
	wc.out = append(wc.out, res.replies...)
	var old *pendingConnect
	if pc := res.connect; pc != nil {
		old = wc.pending
		wc.pending = pc
		wc.due = time.Now().Add(pc.hold)
		pc.sess.mu.Lock()
		pc.sess.holds++
		pc.sess.mu.Unlock()
	}
	if old != nil {
		// A newer connect on the same connection answers the older one.
		wc.out = append(wc.out, wc.srv.connectReply(old))
	}
	wc.mu.Unlock()
	if old != nil {
		wc.srv.endHold(old.sess)
	}
	wc.signal()
}

// answerHeldConnect queues the reply of the held connect now, ahead of the
// replies of the batch being processed.
func (wc *wsConn) answerHeldConnect() {
	wc.mu.Lock()
	pc := wc.pending
	wc.pending = nil
	if pc != nil {
		wc.out = append(wc.out, wc.srv.connectReply(pc))
	}
	wc.mu.Unlock()
	if pc != nil {
		wc.srv.endHold(pc.sess)
	}
}

// endHold restarts a session's expiry clock after its connect is answered.
func (s *Server) endHold(sess *ServerSession) {
	sess.mu.Lock()
	sess.holds--
	sess.expires = time.Now().Add(s.opts.Interval + s.opts.MaxInterval)
	sess.mu.Unlock()
}

// release ends the hold of a connect left unanswered when the connection
// closed, so the session expires unless the client comes back in time.
func (wc *wsConn) release() {
	wc.mu.Lock()
	pc := wc.pending
	wc.pending = nil
	sess := wc.sess
	wc.mu.Unlock()
	if pc != nil {
		wc.srv.endHold(pc.sess)
	}
	if sess != nil {
		sess.mu.Lock()
		if sess.ws == wc {
			sess.ws = nil
		}
		sess.mu.Unlock()
	}
}

func (wc *wsConn) writeLoop() {
	s := wc.srv
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	ping := time.NewTicker(s.opts.PingInterval)
	defer ping.Stop()
	var armed *pendingConnect
	closing := s.closing
	var forced <-chan struct{}
	// draining is set once the server shuts down: every held connect is
	// answered at once, and the connection closes when the session has
	// nothing left to receive (see drained).
	draining := false
	for {
		wc.mu.Lock()
		sess, pending, due := wc.sess, wc.pending, wc.due
		wc.mu.Unlock()
		var sessWake <-chan struct{}
		if sess != nil {
			sessWake = sess.wake
		}
		var timeout <-chan time.Time
		if pending != nil {
			if pending != armed {
				timer.Reset(time.Until(due))
				armed = pending
			}
			timeout = timer.C
		}
		woken := false
		select {
		case <-wc.wake:
		case <-sessWake:
			woken = true
		case <-timeout:
			armed = nil
		case <-ping.C:
			// The client's pong, like any frame, moves the reader's
			// deadline on: a silent connection is closed by its reader.
			if err := wc.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.opts.WriteTimeout)); err != nil {
				wc.c.Close() // the reader fails and cleans up
				return
			}
			continue
		case <-wc.closed:
			return
		case <-closing:
			draining, closing, forced = true, nil, s.forced
		case <-forced:
			wc.goAway()
			return
		}
		answered, err := wc.flush(draining, woken)
		if err != nil {
			wc.c.Close() // the reader fails and cleans up
			return
		}
		if draining && wc.drained(answered) {
			wc.goAway()
			return
		}
	}
}

// drained reports, while the server shuts down, whether the connection's
// session has received everything queued for it: a session with the ack
// extension receives messages only with connect replies, so the connection
// stays open for the client's next connect while some wait (bounded by the
// context given to Shutdown). answered says that a connect reply has just
// gone out.
func (wc *wsConn) drained(answered bool) bool {
	wc.mu.Lock()
	sess := wc.sess
	wc.mu.Unlock()
	if sess == nil {
		return true
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.removed || sess.ws != wc || sess.ack == nil || len(sess.queue) == 0
}

// goAway closes the connection with "going away" (1001) as the server
// shuts down. It waits a moment (WriteTimeout, at most a second) for the
// client's close frame first: closing
// a socket with unread input resets it, and a reset may discard what the
// client had not read yet, such as the last messages.
func (wc *wsConn) goAway() {
	s := wc.srv
	_ = wc.c.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
		time.Now().Add(s.opts.WriteTimeout))
	t := time.NewTimer(min(s.opts.WriteTimeout, time.Second))
	select {
	case <-wc.closed:
	case <-t.C:
	case <-s.forced:
	}
	t.Stop()
	wc.c.Close()
}

// flush writes, in one frame, the pending replies, the session's queued
// messages and the held connect's reply when it is due. woken says that the
// session's wake-up started it: when another connection took the session
// meanwhile, the wake-up is passed on to it. Queued messages that could not
// be written are put back in the session's queue (see requeue).
func (wc *wsConn) flush(shutdown, woken bool) (answered bool, err error) {
	s := wc.srv
	now := time.Now()
	wc.mu.Lock()
	if wc.inBatch && !shutdown {
		wc.mu.Unlock()
		return false, nil // the reader signals when the batch is done
	}
	out := wc.out
	wc.out = nil
	sess := wc.sess
	// A session with the ack extension gets messages only with connect
	// replies, so its held connect is answered as soon as one is queued.
	acked := sess != nil && sess.ackEnabled()
	var done *pendingConnect
	if pc := wc.pending; pc != nil && (shutdown || !now.Before(wc.due) || pc.sess.isRemoved() || acked && pc.sess.hasUrgent()) {
		done = pc
		wc.pending = nil
	}
	wc.mu.Unlock()

	var queue, requeue [][]byte
	switch {
	case acked && done != nil:
		var recycle bool
		queue, done.batch, recycle = done.sess.takeForConnect(wc)
		if recycle {
			defer done.sess.returnQueue(queue)
		}
		// Unacknowledged, the messages are sent again with the next
		// connect reply: nothing to put back.
	case sess != nil && !acked:
		var owned bool
		queue, owned = sess.takeQueue(wc)
		if !owned && woken {
			sess.signal() // for the connection that owns the session now
		}
		defer sess.returnQueue(queue)
		requeue = queue
	}
	var connectReply []byte
	if done != nil {
		connectReply = s.connectReply(done)
		defer s.endHold(done.sess)
	}
	if len(out) == 0 && len(queue) == 0 && connectReply == nil {
		return false, nil
	}
	err = wc.write(now, out, queue, connectReply)
	if err != nil && len(requeue) > 0 {
		// The frame did not go out whole, so the client has none of it.
		sess.requeue(requeue)
	}
	return err == nil && connectReply != nil, err
}

// write writes one frame: the replies out, the queued messages and the
// connect reply, in that order.
func (wc *wsConn) write(now time.Time, out, queue [][]byte, connectReply []byte) error {
	wc.c.SetWriteDeadline(now.Add(wc.srv.opts.WriteTimeout))
	w, err := wc.c.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	sep := []byte{'['}
	write := func(m []byte) {
		w.Write(sep)
		w.Write(m)
		sep[0] = ','
	}
	for _, m := range out {
		write(m)
	}
	for _, m := range queue {
		write(m)
	}
	if connectReply != nil {
		write(connectReply)
	}
	w.Write([]byte{']'})
	return w.Close()
}
