package runtime

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// wsWriteBufferSize is the size of gorilla's write buffers, which the
// runtime does not use (see wsWriteBuffers).
const wsWriteBufferSize = 16 << 10

// wsReadBufferSize is the size of a websocket's read buffer, which an
// idle connection lets go (see wsConn.read).
const wsReadBufferSize = 512

// wsWriteBuffers are the write buffers of gorilla's writers for every
// server's websockets (all of one size, wsWriteBufferSize). The runtime
// writes its frames itself (see wsConn.appendFrames), so they are not
// used; a pool keeps the upgrader from holding on to the HTTP server's
// write buffer.
var wsWriteBuffers sync.Pool

// wsWriterLinger is how long a websocket's writer goroutine waits for
// more to write before it ends; the next write starts another. An idle
// connection so keeps no goroutine (its held connect is answered every
// Timeout), and a busy one does not start a goroutine per frame.
const wsWriterLinger = 250 * time.Millisecond

// wsReaderLinger is how long a websocket's reader goroutine waits for
// more input after a batch before it hands the socket to the poller and
// ends: a busy connection keeps its reader, an idle one has none.
const wsReaderLinger = 250 * time.Millisecond

// The reader's states (wsConn.rstate).
const (
	readRunning = iota // a reader goroutine runs
	readIdle           // no reader: the poller watches the socket
	readDone           // the connection is closed
)

// wsConn is one websocket connection. While input arrives, a reader
// goroutine reads and processes it; an idle connection has none, the
// process's poller watches its socket and starts one when input arrives
// (where the socket can be watched: see poller). One writer at a time, a
// flusher's turn or the connection's writer goroutine (see flushers),
// started when there is something to write (signal), owns every write:
// replies, queued messages (delivered as soon as they are queued, without
// waiting for a /meta/connect), the held /meta/connect's reply when it is
// due, pings, pongs and closes.
type wsConn struct {
	srv       *Server
	c         *websocket.Conn
	br        *bufio.Reader   // the connection's reader, which gorilla reads through
	nc        net.Conn        // the socket
	raw       syscall.RawConn // the socket's descriptor, when poll watches it
	poll      *poller         // nil: the reader goroutine never ends while the connection lives
	token     int32           // the socket's registration with poll
	browserID string
	req       *http.Request   // the upgrade request
	wake      chan struct{}   // capacity 1: wakes the writer while it runs
	closed    chan struct{}   // closed when the connection is done
	origin    origin          // of the batches read
	parent    context.Context // the upgrade request's context, for its values (see wsContext)
	// The connection's one timer (see tick) asks the writer for a ping
	// every PingInterval (pingDue), closes a connection silent for longer
	// than PingInterval+PingTimeout, and wakes the writer when the held
	// connect is due. Times are monotonic (mono).
	timer    *time.Timer
	lastRead atomic.Int64 // when a frame last arrived
	pingDue  atomic.Bool
	tmu      sync.Mutex // guards lastPing, dueAt and the timer's setting
	lastPing int64      // when a ping was last asked for
	dueAt    int64      // when the held connect is due; 0: none

	rmu    sync.Mutex
	rstate int

	// The writer role: one writer at a time, a flusher's turn (see
	// flushers) or the connection's writer goroutine, writes to the
	// socket; nothing else does.
	wmu       sync.Mutex
	writing   bool // the writer role is taken
	again     bool // a signal came during a flusher's turn: another turn
	looping   bool // the writer goroutine holds the role: signals go to wake
	stopped   bool // the connection is closing: no writer starts
	writers   sync.WaitGroup
	nextFlush *wsConn // the next connection in the flushers' list
	rest      *wsRest // what a flusher could not write, for the writer goroutine

	mu      sync.Mutex
	out     [][]byte       // replies waiting to be written, in order
	sess    *ServerSession // the session bound to this connection
	pending *pendingConnect
	due     time.Time // when pending must be answered
	// inBatch is set while the reader processes a batch: like CometD, the
	// deliveries a batch causes to its own session leave together with
	// the batch's replies, in one frame.
	inBatch bool
	// pong is the payload of the pong that answers the client's latest
	// ping (RFC 6455, 5.5.3: an earlier one unanswered need not be).
	pong []byte
	// closeMsg is the payload of a close frame to send, after which the
	// connection closes.
	closeMsg []byte
}

// hijacker hands the websocket upgrader the socket with a reader of the
// connection's own (br), whose Buffered tells whether input waits; the
// HTTP server's 4 KiB reader is let go.
type hijacker struct {
	http.ResponseWriter
	nc net.Conn
	br *bufio.Reader
}

// Hijack implements http.Hijacker.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err // the upgrader refuses input sent before its reply
	}
	h.nc, h.br = nc, bufio.NewReaderSize(nc, wsReadBufferSize)
	return nc, bufio.NewReadWriter(h.br, brw.Writer), nil
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
	hj := &hijacker{ResponseWriter: w}
	c, err := s.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		s.stats.badRequests.Add(1)
		return // the upgrader has written the HTTP error
	}
	c.SetReadLimit(s.opts.MaxMessageSize)
	// The handler returns now, so that the HTTP server lets go of what it
	// kept for the request (its goroutine, its writers). The request
	// stays for the hooks (RequestFromContext), with a context that ends
	// with the connection instead of with the handler.
	wc := &wsConn{srv: s, c: c, br: hj.br, nc: hj.nc, parent: r.Context(), wake: make(chan struct{}, 1), closed: make(chan struct{})}
	wc.req = r.WithContext((*wsContext)(wc))
	if ck, err := r.Cookie(s.opts.BrowserCookieName); err == nil {
		wc.browserID = ck.Value
	}
	wc.origin = origin{transport: bayeux.TransportWebSocket, ws: wc, req: wc.req, browserID: wc.browserID}
	// The connection's writer answers pings and closes that gorilla's
	// reader meets: it alone writes to the socket.
	c.SetPingHandler(func(payload string) error {
		wc.answerPing([]byte(payload))
		return nil
	})
	c.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			code = websocket.CloseNormalClosure
		}
		wc.mu.Lock()
		wc.closeMsg = websocket.FormatCloseMessage(code, "")
		wc.mu.Unlock()
		return nil // sent when the writer is done (finish)
	})
	// A TLS connection keeps decrypted input of its own that the socket's
	// readiness does not tell about: it keeps its reader goroutine.
	if rc, isTLS := rawConnOf(wc.nc); rc != nil && !isTLS {
		if p, err := socketPoller(); err == nil {
			wc.raw, wc.poll = rc, p
		}
	}
	if wc.poll != nil {
		wc.rstate = readIdle
	}
	// Everything the timer, Shutdown and the poller read is set: the
	// connection can be seen.
	now := monoNow()
	wc.lastRead.Store(now)
	wc.lastPing = now
	wc.tmu.Lock()
	wc.timer = time.AfterFunc(s.opts.PingInterval, wc.tick)
	wc.tmu.Unlock()
	s.wsConns.Store(wc, struct{}{})
	if s.isClosing() {
		wc.signal() // Shutdown may have told the connections before this one
	}
	if wc.poll != nil {
		// The client speaks first (its handshake or connect): the poller
		// starts the reader when it does.
		if err := wc.poll.add(wc.raw, wc, &wc.token); err == nil {
			return
		}
		wc.rmu.Lock()
		wc.poll, wc.rstate = nil, readRunning
		wc.rmu.Unlock()
	}
	go wc.read()
}

// wsContext is a websocket's connection as the context of its upgrade
// request (wsConn.req), which the hooks see: the request's values, done
// when the connection is. It costs the connection nothing.
type wsContext wsConn

// Deadline implements context.Context: there is none.
func (*wsContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed when the connection is done.
func (c *wsContext) Done() <-chan struct{} { return c.closed }

// Err implements context.Context.
func (c *wsContext) Err() error {
	if isClosed(c.closed) {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context with the request's values.
func (c *wsContext) Value(key any) any { return c.parent.Value(key) }

// readable is the poller's news that input arrived on the idle connection:
// it starts the reader.
func (wc *wsConn) readable() {
	wc.rmu.Lock()
	start := wc.rstate == readIdle
	if start {
		wc.rstate = readRunning
	}
	wc.rmu.Unlock()
	if start {
		go wc.read()
	}
}

// The kinds of input next finds.
const (
	inputMessage = iota // a frame for gorilla's reader: data, a close, a fragment
	inputNone           // nothing within wsReaderLinger (only with a poller)
	inputEnd            // the connection failed or ended
)

// read is the reader goroutine: it reads and processes batches while they
// come, and when none comes for wsReaderLinger it hands the socket to the
// poller and ends: a goroutine's stack grows to what processing needs and
// keeps that size while it waits, which an idle connection may do for
// minutes. When the connection fails, read closes it.
func (wc *wsConn) read() {
	if wc.br.Size() == 0 {
		// Its buffer was let go when the connection went idle; nothing
		// but this goroutine reads through it, and nothing waits in it.
		*wc.br = *bufio.NewReaderSize(wc.nc, wsReadBufferSize)
	}
	for {
		switch wc.next() {
		case inputMessage:
			if !wc.readBatch() {
				wc.finish()
				return
			}
		case inputNone:
			// Nothing is buffered: the reader's buffer goes until the
			// next input (read).
			*wc.br = bufio.Reader{}
			wc.rmu.Lock()
			wc.rstate = readIdle
			err := wc.poll.arm(wc.raw, wc.token)
			if err != nil {
				wc.rstate = readRunning
			}
			wc.rmu.Unlock()
			if err != nil {
				wc.finish() // the socket is closed
			}
			return
		default:
			wc.finish()
			return
		}
	}
}

// next waits for the next frame that gorilla's reader must read. It
// answers the control frames a ping needs itself, pongs to the server's
// pings and pings from the client, so that a reader is not left waiting
// inside gorilla's reader, for the next data frame, after them.
func (wc *wsConn) next() int {
	for {
		if wc.br.Buffered() == 0 {
			if wc.poll != nil {
				wc.nc.SetReadDeadline(time.Now().Add(wsReaderLinger))
			}
			_, err := wc.br.Peek(1)
			if wc.poll != nil {
				wc.nc.SetReadDeadline(time.Time{})
			}
			var ne net.Error
			switch {
			case err == nil:
			case wc.poll != nil && errors.As(err, &ne) && ne.Timeout():
				return inputNone
			default:
				return inputEnd
			}
		}
		// A control frame from a client: FIN and the opcode, then the
		// mask bit and a length of at most 125, the 4-byte mask, the
		// payload (RFC 6455, 5.2 and 5.5).
		b, err := wc.br.Peek(2)
		if err != nil {
			return inputEnd
		}
		op, n := b[0], int(b[1]&0x7f)
		if op != 0x80|websocket.PongMessage && op != 0x80|websocket.PingMessage || b[1]&0x80 == 0 || n > 125 {
			return inputMessage
		}
		f, err := wc.br.Peek(6 + n)
		if err != nil {
			return inputEnd
		}
		wc.lastRead.Store(monoNow())
		if op == 0x80|websocket.PingMessage {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = f[6+i] ^ f[2+i%4]
			}
			wc.answerPing(payload)
		}
		wc.br.Discard(6 + n)
	}
}

// answerPing has the writer answer the client's ping with payload: it
// alone writes to the socket.
func (wc *wsConn) answerPing(payload []byte) {
	wc.mu.Lock()
	wc.pong = payload
	wc.mu.Unlock()
	wc.signal()
}

// procStart is the origin of mono's clock.
var procStart = time.Now()

// mono returns t as nanoseconds of the monotonic clock since procStart.
func mono(t time.Time) int64 { return int64(t.Sub(procStart)) }

// monoNow is mono(time.Now()).
func monoNow() int64 { return int64(time.Since(procStart)) }

// tick runs on the connection's timer: it asks the writer for a ping every
// PingInterval, closes the connection once nothing arrived for
// PingInterval+PingTimeout (any frame shows the client is there, a pong
// included), and wakes the writer when the held connect is due.
func (wc *wsConn) tick() {
	s := wc.srv
	wc.wmu.Lock()
	stopped := wc.stopped
	wc.wmu.Unlock()
	if stopped {
		return
	}
	now := monoNow()
	if now >= wc.lastRead.Load()+int64(s.opts.PingInterval+s.opts.PingTimeout) {
		s.log.Debug("bayeux websocket silent: closing it", "silence", s.opts.PingInterval+s.opts.PingTimeout)
		wc.kill()
		return
	}
	interval := int64(s.opts.PingInterval)
	wc.tmu.Lock()
	ping := now-wc.lastPing >= interval-interval/16 // a timer may run a little early
	if ping {
		wc.lastPing = now
	}
	due := wc.dueAt != 0 && now >= wc.dueAt
	if due {
		wc.dueAt = 0
	}
	wc.setTimer(now)
	wc.tmu.Unlock()
	if ping {
		wc.pingDue.Store(true)
	}
	if ping || due {
		wc.signal()
	}
}

// setTimer sets the timer for the next thing tick must do; wc.tmu is held.
func (wc *wsConn) setTimer(now int64) {
	s := wc.srv
	next := min(wc.lastPing+int64(s.opts.PingInterval), wc.lastRead.Load()+int64(s.opts.PingInterval+s.opts.PingTimeout))
	if wc.dueAt != 0 {
		next = min(next, wc.dueAt)
	}
	wc.timer.Reset(time.Duration(max(next-now, 0)))
}

// kill closes the connection from outside its reader: the reader, or the
// poller for an idle one, finds the end and cleans up (finish).
func (wc *wsConn) kill() {
	wc.rmu.Lock()
	watched := wc.poll != nil
	wc.rmu.Unlock()
	if watched {
		_ = wc.shutdownSocket() // an error: the socket is closed already
		return
	}
	wc.c.Close()
}

// finish cleans up after the connection ended, once, on its reader's
// goroutine.
func (wc *wsConn) finish() {
	s := wc.srv
	wc.rmu.Lock()
	wc.rstate = readDone
	wc.rmu.Unlock()
	wc.wmu.Lock()
	wc.stopped = true
	wc.wmu.Unlock()
	close(wc.closed)
	wc.writers.Wait()
	// No writer runs now: a close frame still to send goes out here.
	wc.mu.Lock()
	cm := wc.closeMsg
	wc.closeMsg = nil
	wc.mu.Unlock()
	if cm != nil {
		_ = wc.c.WriteControl(websocket.CloseMessage, cm, time.Now().Add(time.Second))
	}
	wc.timer.Stop()
	if wc.poll != nil {
		wc.poll.remove(wc.raw, wc.token)
	}
	wc.c.Close()
	wc.release()
	s.wsConns.Delete(wc)
}

// signal tells the writer that there may be something to write, starting
// it if it does not run.
func (wc *wsConn) signal() {
	wc.wmu.Lock()
	switch {
	case wc.writing:
		wc.again = true
		if wc.looping {
			select {
			case wc.wake <- struct{}{}:
			default:
			}
		}
	case !wc.stopped:
		wc.writing = true
		wc.writers.Add(1)
		if wc.raw != nil {
			theFlushers.push(wc)
		} else {
			go wc.writeLoop()
		}
	}
	wc.wmu.Unlock()
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
		if prev.ws.Load() == wc {
			prev.ws.Store(nil)
		}
		prev.mu.Unlock()
	}
	sess.mu.Lock()
	old := sess.ws.Load()
	sess.ws.Store(wc)
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

// readBatch reads the message that next found and processes it. It
// reports false when the connection failed or must close.
func (wc *wsConn) readBatch() bool {
	s := wc.srv
	_, data, err := wc.c.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			s.stats.badRequests.Add(1)
			s.log.Info("bayeux websocket message too large", "limit", s.opts.MaxMessageSize)
		}
		return false
	}
	wc.lastRead.Store(monoNow())
	s.stats.bytesIn.Add(int64(len(data)))
	msgs, invalid, err := decodeMessages(data, s.opts.MaxMessagesPerRequest)
	if errors.Is(err, errEmptyBatch) {
		return true // Faye clients send [] as a keep-alive
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
		// Sent when the writer is done (finish).
		wc.mu.Lock()
		wc.closeMsg = websocket.FormatCloseMessage(code, reason)
		wc.mu.Unlock()
		return false
	}
	wc.mu.Lock()
	wc.inBatch = true
	wc.mu.Unlock()
	wc.enqueue(s.process(&wc.origin, msgs, invalid))
	return true
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
		now := time.Now()
		wc.due = now.Add(pc.hold)
		wc.tmu.Lock()
		wc.dueAt = mono(wc.due)
		wc.setTimer(mono(now))
		wc.tmu.Unlock()
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

// closeWith closes the connection with a close frame of code and reason,
// which its writer sends after what it is writing.
func (wc *wsConn) closeWith(code int, reason string) {
	wc.mu.Lock()
	wc.closeMsg = websocket.FormatCloseMessage(code, reason)
	wc.mu.Unlock()
	wc.signal()
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
		if sess.ws.Load() == wc {
			sess.ws.Store(nil)
		}
		sess.mu.Unlock()
	}
}

// turn is a flusher's turn at the connection, whose writer role it holds
// (see flushers): it writes what there is to write with a non-blocking
// system call and lets the role go, or, when more came meanwhile, puts
// the connection back at the end of the flushers' list. What needs
// waiting, a socket that cannot take the whole frame or the server
// shutting down, it hands to a writer goroutine (handOff). buf is the
// flusher's buffer, returned for its next turn.
func (wc *wsConn) turn(buf []byte) []byte {
	s := wc.srv
	wc.wmu.Lock()
	wc.again = false
	stopped := wc.stopped
	wc.wmu.Unlock()
	if stopped {
		wc.writers.Done()
		return buf
	}
	if s.isClosing() {
		wc.handOff(nil)
		return buf
	}
	b := wc.collect(time.Now(), false)
	buf = wc.appendFrames(buf[:0], &b)
	if len(buf) > 0 {
		n, err := writeNonblock(wc.raw, buf)
		if err == nil && n < len(buf) {
			// The socket is full: the client reads slowly. The rest
			// goes out from a goroutine that can wait for it.
			wc.handOff(&wsRest{frame: append([]byte(nil), buf[n:]...), b: b})
			return buf
		}
		if !wc.wrote(&b, err) {
			wc.writers.Done()
			return buf
		}
	}
	if wc.letGo() {
		theFlushers.push(wc) // the role goes with it
	} else {
		wc.writers.Done()
	}
	return buf
}

// wsRest is the end of a frame that a flusher could not write, and what
// the frame held.
type wsRest struct {
	frame []byte
	b     wsBatch
}

// handOff gives the writer role, held by a flusher, to a writer goroutine
// of the connection's own, with the end of a frame to write first (nil:
// none).
func (wc *wsConn) handOff(rest *wsRest) {
	wc.rest = rest
	go wc.writeLoop()
}

// writeLoop is the connection's writer goroutine, started when writing
// must wait (see turn), or for every write where the socket cannot be
// written without waiting (TLS; systems without the poller): it writes
// whatever there is to write, and ends when it has written everything on a
// socket the flushers can write (letGo), or else after wsWriterLinger
// without anything to write, or when the connection closes.
func (wc *wsConn) writeLoop() {
	defer wc.writers.Done()
	s := wc.srv
	wc.wmu.Lock()
	wc.looping = true
	wc.wmu.Unlock()
	var idle *time.Timer
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	bp := frameBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= flushBufferMax {
			frameBuffers.Put(bp)
		}
	}()
	for {
		if s.isForced() {
			wc.goAway()
			wc.stop()
			return
		}
		if r := wc.rest; r != nil {
			wc.rest = nil
			if !wc.wrote(&r.b, wc.writeAll(r.frame)) {
				return
			}
		}
		wc.wmu.Lock()
		wc.again = false // what is signalled from now on is collected below
		wc.wmu.Unlock()
		// Once the server shuts down, every held connect is answered at
		// once, and the connection closes when the session has nothing
		// left to receive (see drained).
		draining := s.isClosing()
		b := wc.collect(time.Now(), draining)
		*bp = wc.appendFrames((*bp)[:0], &b)
		if len(*bp) > 0 && !wc.wrote(&b, wc.writeAll(*bp)) {
			return
		}
		if draining && wc.drained(b.connectReply != nil) {
			wc.goAway()
			wc.stop()
			return
		}
		if wc.raw != nil && !draining {
			// The socket took everything: the flushers write for the
			// connection again, from now on or (if something came
			// meanwhile) with a turn at once.
			if wc.letGo() {
				wc.writers.Add(1) // the turn's; this goroutine's ends with it
				theFlushers.push(wc)
			}
			return
		}
		if idle == nil {
			idle = time.NewTimer(wsWriterLinger)
		} else {
			idle.Reset(wsWriterLinger)
		}
		select {
		case <-wc.wake:
		case <-wc.closed:
			wc.stop()
			return
		case <-idle.C:
			wc.wmu.Lock()
			select {
			case <-wc.wake: // a signal came meanwhile: write first
				wc.wmu.Unlock()
				continue
			default:
			}
			wc.writing, wc.looping = false, false
			wc.wmu.Unlock()
			return
		}
	}
}

// letGo lets the writer role go, unless something was signalled since
// its holder last collected (again, or a wake-up for the writer
// goroutine) and the connection is not stopping: then it reports true, and
// the holder keeps the role, to give it to the flushers for another turn.
func (wc *wsConn) letGo() (again bool) {
	wc.wmu.Lock()
	defer wc.wmu.Unlock()
	again = wc.again
	select {
	case <-wc.wake:
		again = true
	default:
	}
	again = again && !wc.stopped
	wc.again, wc.looping = false, false
	if !again {
		wc.writing = false
	}
	return again
}

// wrote settles a batch after its frame was written (err nil) or failed,
// and reports whether the writer goes on: a failed write closes the
// connection (its reader finds the end and cleans up), and so does a
// close frame once written; the role is stopped then.
func (wc *wsConn) wrote(b *wsBatch, err error) bool {
	wc.settle(b, err)
	switch {
	case err != nil:
		wc.kill()
	case b.close != nil:
		wc.kill()
	default:
		return true
	}
	wc.stop()
	return false
}

// frameBuffers are the writer goroutines' frame buffers (*[]byte).
var frameBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeAll writes b, waiting for the socket at most WriteTimeout. (The
// flushers' writes go through RawConn.Control, which no deadline stops.)
func (wc *wsConn) writeAll(b []byte) error {
	wc.nc.SetWriteDeadline(time.Now().Add(wc.srv.opts.WriteTimeout))
	_, err := wc.nc.Write(b)
	return err
}

// stop ends the writer for good: the connection is closing.
func (wc *wsConn) stop() {
	wc.wmu.Lock()
	wc.writing, wc.looping, wc.stopped = false, false, true
	wc.wmu.Unlock()
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
	return sess.removed || sess.ws.Load() != wc || sess.ack.Load() == nil || len(sess.queue) == 0
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
	wc.kill()
}

// wsBatch is what one frame carries: the replies waiting, the session's
// queued messages and the held connect's reply, and the control frames
// that go before it.
type wsBatch struct {
	out          [][]byte
	queue        [][]byte
	connectReply []byte
	sess         *ServerSession  // whose queue queue was taken from
	requeue      bool            // queue goes back to sess if the frame does not go out whole
	recycle      bool            // queue is given back to sess (returnQueue) once done
	done         *pendingConnect // the held connect answered by connectReply
	ping         bool
	pong         []byte // the payload of a pong to send; nil: none
	close        []byte // a close frame's payload: the connection closes after it
}

func (b *wsBatch) empty() bool {
	return len(b.out) == 0 && len(b.queue) == 0 && b.connectReply == nil
}

// collect takes what the next frame carries: the pending replies, the
// session's queued messages and the held connect's reply when it is due,
// and the control frames to send. The connect reply runs the outgoing
// extensions, on whichever writer collects it (a flusher, usually), as a
// delivery's do on the publisher's goroutine: they must not wait.
func (wc *wsConn) collect(now time.Time, shutdown bool) (b wsBatch) {
	s := wc.srv
	wc.mu.Lock()
	b.pong, wc.pong = wc.pong, nil
	b.close, wc.closeMsg = wc.closeMsg, nil
	if wc.inBatch && !shutdown {
		// The reader signals when the batch is done: its replies and
		// the deliveries it causes leave together.
		wc.mu.Unlock()
		b.ping = wc.pingDue.CompareAndSwap(true, false)
		return b
	}
	sess := wc.sess
	// A session with the ack extension gets messages only with connect
	// replies, so its held connect is answered as soon as one is queued.
	acked := sess != nil && sess.ackEnabled()
	var done *pendingConnect
	if pc := wc.pending; pc != nil && (shutdown || !now.Before(wc.due) || pc.sess.isRemoved() || acked && pc.sess.hasUrgent()) {
		done = pc
		wc.pending = nil
	}
	b.out = wc.out
	wc.out = nil
	wc.mu.Unlock()
	b.ping = wc.pingDue.CompareAndSwap(true, false)

	switch {
	case acked && done != nil:
		b.queue, done.batch, b.recycle = done.sess.takeForConnect(wc)
		b.sess = done.sess
		// Unacknowledged, the messages are sent again with the next
		// connect reply: nothing to put back.
	case sess != nil && !acked:
		b.queue, _ = sess.takeQueue(wc)
		b.sess, b.requeue, b.recycle = sess, true, true
	}
	if done != nil {
		b.done = done
		b.connectReply = s.connectReply(done)
	}
	return b
}

// settle finishes with a batch after its frame was written (err nil) or
// failed: queued messages of a frame that did not go out whole go back to
// the session (the client has none of it), the taken queue is recycled,
// and the answered connect's session starts its expiry clock.
func (wc *wsConn) settle(b *wsBatch, err error) {
	if err != nil && b.requeue && len(b.queue) > 0 {
		b.sess.requeue(b.queue)
	}
	if b.recycle {
		b.sess.returnQueue(b.queue)
	}
	b.queue = nil
	if b.done != nil {
		wc.srv.endHold(b.done.sess)
		b.done = nil
	}
}

// appendFrames appends the batch's frames to buf: a pong, a ping, one text
// frame holding the replies, the queued messages and the connect reply, in
// that order, as a JSON array, and a close frame last.
func (wc *wsConn) appendFrames(buf []byte, b *wsBatch) []byte {
	if b.pong != nil {
		buf = appendFrameHeader(buf, websocket.PongMessage, len(b.pong))
		buf = append(buf, b.pong...)
	}
	if b.ping {
		buf = appendFrameHeader(buf, websocket.PingMessage, 0)
	}
	if !b.empty() {
		n := 1 // the closing bracket; each message adds its separator
		for _, m := range b.out {
			n += 1 + len(m)
		}
		for _, m := range b.queue {
			n += 1 + len(m)
		}
		if b.connectReply != nil {
			n += 1 + len(b.connectReply)
		}
		buf = appendFrameHeader(buf, websocket.TextMessage, n)
		sep := byte('[')
		for _, m := range b.out {
			buf = append(append(buf, sep), m...)
			sep = ','
		}
		for _, m := range b.queue {
			buf = append(append(buf, sep), m...)
			sep = ','
		}
		if b.connectReply != nil {
			buf = append(append(buf, sep), b.connectReply...)
		}
		buf = append(buf, ']')
	}
	if b.close != nil {
		buf = appendFrameHeader(buf, websocket.CloseMessage, len(b.close))
		buf = append(buf, b.close...)
	}
	return buf
}

// appendFrameHeader appends the header of a server's frame (final, not
// masked) of the given opcode and payload length (RFC 6455, 5.2).
func appendFrameHeader(buf []byte, opcode, n int) []byte {
	buf = append(buf, 0x80|byte(opcode))
	switch {
	case n <= 125:
		return append(buf, byte(n))
	case n <= 0xffff:
		return append(buf, 126, byte(n>>8), byte(n))
	default:
		return append(buf, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
