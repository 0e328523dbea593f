package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultParkAfter is how long a long-polling /meta/connect is held by its
// HTTP handler before it is parked (see ParkHeldConnects).
const DefaultParkAfter = 2 * time.Second

// ParkHeldConnects makes the long-polling and callback-polling
// /meta/connect requests that a Server holds on hs for longer than after
// cost less memory: such a connect is parked. Its connection is taken from
// net/http (hijacked), so that the handler's goroutine, its stack, the
// goroutine net/http reads the connection with and the connection's read
// and write buffers (10 KiB) are let go; one small goroutine waits for the
// session's wake-up instead, and one poller shared by every parked
// connection (epoll) tells when a client closes its connection. When the
// connect is answered, the response is written on the connection, which is
// then handed back to hs through the returned listener, to serve the
// client's next request. hs must serve the returned listener (hs.Serve(l))
// instead of ln; its ConnContext is wrapped.
//
// Only HTTP/1.1 requests that keep their connection are parked, on
// connections of ln that are TCP (maybe wrapped in TLS or LimitListener),
// and only on Linux; elsewhere nothing is parked. after <= 0 parks nothing.
// A parked connect whose client sends more before the answer (HTTP
// pipelining, which Bayeux clients do not use) is answered, and the next
// request is served as usual (over TLS, the connection is closed instead:
// the client sends it again).
//
// On shutdown, call Wait after the Server's Shutdown (which answers the
// held connects) and before hs.Shutdown, so that the parked connections'
// answers are written.
func ParkHeldConnects(hs *http.Server, ln net.Listener, after time.Duration) *ParkListener {
	l := &ParkListener{
		Listener: ln,
		after:    after,
		accepted: make(chan acceptResult),
		back:     make(chan net.Conn),
		done:     make(chan struct{}),
	}
	if after > 0 && parkable {
		prev := hs.ConnContext
		hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if prev != nil {
				ctx = prev(ctx, c)
			}
			if rc, tls := rawConnOf(c); rc != nil {
				ctx = context.WithValue(ctx, parkKey{}, &parkInfo{l: l, rc: rc, tls: tls})
			}
			return ctx
		}
	}
	go l.acceptLoop()
	return l
}

// ParkListener is the listener of ParkHeldConnects: it accepts the
// connections of its underlying listener and those of the parked connects
// answered since.
type ParkListener struct {
	net.Listener
	after    time.Duration
	accepted chan acceptResult
	back     chan net.Conn
	done     chan struct{}
	once     sync.Once
	count    atomic.Int64 // connects parked now
}

type parkKey struct{}

// parkInfo is what the requests of a connection that can be parked know of
// it: the listener to hand it back to, its socket, whether it is TLS.
type parkInfo struct {
	l   *ParkListener
	rc  syscall.RawConn
	tls bool
}

// rawConnOf returns the socket under c (TLS and LimitListener wrappers
// taken off) and whether c is TLS, or nil.
func rawConnOf(c net.Conn) (rc syscall.RawConn, isTLS bool) {
	for {
		switch w := c.(type) {
		case *tls.Conn:
			c, isTLS = w.NetConn(), true
		case *limitConn:
			c = w.Conn
		case syscall.Conn:
			rc, err := w.SyscallConn()
			if err != nil {
				return nil, false
			}
			return rc, isTLS
		default:
			return nil, false
		}
	}
}

type acceptResult struct {
	c   net.Conn
	err error
}

// parkerOf returns what parks r's connect, or nil when it is not to be
// parked.
func parkerOf(r *http.Request) *parkInfo {
	pi, _ := r.Context().Value(parkKey{}).(*parkInfo)
	if pi == nil || pi.l.after <= 0 || r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.Close {
		return nil
	}
	return pi
}

// acceptLoop passes the underlying listener's connections on to Accept.
func (l *ParkListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if t, ok := err.(interface{ Temporary() bool }); err != nil && (!ok || !t.Temporary()) {
			// The listener failed for good: Accept says so from now on.
			for {
				select {
				case l.accepted <- acceptResult{nil, err}:
				case <-l.done:
					return
				}
			}
		}
	}
}

// Accept returns the next connection: a new one, or one whose parked
// connect was answered.
func (l *ParkListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.back:
		return c, nil
	case a := <-l.accepted:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the underlying listener. Parked connects still answer, and
// close their connections after.
func (l *ParkListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// Parked returns the number of connects parked now.
func (l *ParkListener) Parked() int { return int(l.count.Load()) }

// Wait waits until no connect is parked, or ctx ends.
func (l *ParkListener) Wait(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for l.count.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// serveAgain hands c back to the HTTP server, or closes it when the
// listener is closed.
func (l *ParkListener) serveAgain(c net.Conn) {
	select {
	case l.back <- c:
	case <-l.done:
		c.Close()
	}
}

// parkedConn is a parked connect: its hold, what its answer is made of,
// its connection. It is one allocation.
type parkedConn struct {
	*parkInfo
	hold  httpHold
	res   result
	write httpWrite
	c     net.Conn
	hdr   http.Header // the response's header fields set before it was parked
	token int32       // its registration with the poller, 0 for none
	// input is closed when the poller tells that the connection became
	// readable (nil: not watched).
	input chan struct{}
	// closeAfter is set when the connection is to be closed after the
	// answer: a TLS client sent more while the connect was held.
	closeAfter bool
	buf        [1]byte
}

// park parks the connect held by h, to be answered on w's connection as
// res and write say; h and res are copied. It reports false when w's
// connection cannot be taken over; the handler holds the connect then.
func (pi *parkInfo) park(w http.ResponseWriter, h *httpHold, res *result, write httpWrite) bool {
	if h.s.isClosing() {
		return false // answered at once
	}
	var hdr http.Header
	if len(w.Header()) > 0 {
		hdr = w.Header().Clone()
	}
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	p := &parkedConn{parkInfo: pi, hold: *h, res: *res, write: write, c: c, hdr: hdr}
	if rw.Reader.Buffered() > 0 {
		// net/http read a byte of a pipelined request; it cannot be given
		// back, so the connection is closed after the answer.
		p.closeAfter = true
	} else {
		p.watch()
	}
	p.hold.parkAt = time.Time{}
	p.hold.timer.Reset(time.Until(p.hold.until))
	pi.l.count.Add(1)
	go p.run()
	return true
}

// watch asks the poller to tell when the connection becomes readable.
func (p *parkedConn) watch() {
	p.input = make(chan struct{})
	if !pollReadable(p) {
		p.input = nil
	}
}

// readable implements pollTarget: the poller tells once per watch.
func (p *parkedConn) readable() { close(p.input) }

// run waits, in place of the handler, until the connect is to be
// answered, answers it and hands the connection back to the HTTP server.
// What it keeps on its stack while it waits is little, so that the
// goroutine's stack stays small.
func (p *parkedConn) run() {
	p.answer(p.await())
}

// await waits until the connect is to be answered or its client went away.
func (p *parkedConn) await() holdEnd {
	for {
		end := p.hold.wait(p.input)
		if end != holdGone || !p.stillThere() {
			return end
		}
	}
}

// stillThere is called when the connection became readable: it reports
// whether the client is still there, and watches the connection again
// when it sent nothing.
func (p *parkedConn) stillThere() bool {
	more, gone := peekConn(p.rc)
	if gone {
		return false
	}
	if more && p.tls {
		// TLS records are not peeked through: one is read, to tell a
		// close_notify alert (the client went away) from a request, which
		// is lost then: the connection is closed after the answer.
		p.c.SetReadDeadline(time.Now().Add(tlsPeekTimeout))
		n, err := p.c.Read(p.buf[:])
		p.c.SetReadDeadline(time.Time{})
		var ne net.Error
		switch {
		case n > 0:
			p.closeAfter = true
		case errors.As(err, &ne) && ne.Timeout():
			more = false // a record the TLS layer took care of (or a part of one)
		default:
			return false
		}
	}
	p.input = nil // more: not watched any longer
	if !more {
		p.watch() // not readable after all
	}
	return true
}

// tlsPeekTimeout bounds the read of a TLS record that made a parked
// connection readable.
const tlsPeekTimeout = 50 * time.Millisecond

// answer answers the connect as end says and hands the connection back
// to the HTTP server (or closes it).
func (p *parkedConn) answer(end holdEnd) {
	defer p.l.count.Add(-1)
	// A client that closes its connection from now on is noticed by the
	// write, as with net/http: what was taken from the queue is lost then
	// (the ack extension redelivers it).
	unwatchReadable(p)
	pw := &parkedWriter{hdr: p.hdr}
	p.hold.s.finishHTTP(pw, &p.hold, end, &p.res, p.write)
	if end == holdGone {
		p.c.Close()
		return
	}
	if _, err := p.c.Write(pw.response(p.closeAfter)); err != nil || p.closeAfter {
		p.c.Close()
		return
	}
	p.l.serveAgain(p.c)
}

// parkedWriter is the http.ResponseWriter of a parked connect's answer.
type parkedWriter struct {
	hdr    http.Header
	status int
	body   []byte
}

func (w *parkedWriter) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header)
	}
	return w.hdr
}

func (w *parkedWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *parkedWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

// response returns the HTTP/1.1 response, asking to close the connection
// after it with closeConn.
func (w *parkedWriter) response(closeConn bool) []byte {
	w.WriteHeader(http.StatusOK)
	b := make([]byte, 0, 256+len(w.body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	hasDate := false
	for k, vs := range w.hdr {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue // the framing is the writer's
		case "Date":
			hasDate = true
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendFieldValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	if w.status >= 200 && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.body)), 10)
		b = append(b, "\r\n"...)
	}
	if !hasDate {
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
	}
	if closeConn {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, w.body...)
}

// appendFieldValue appends v with its line breaks made spaces, as
// http.Header.Write does.
func appendFieldValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}
