package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// transport moves encoded batches to the server and hands what comes back
// to Client.receive.
type transport interface {
	// send registers calls as pending and sends body, a JSON array of
	// messages. suffix is appended to the long-polling URL. timeout bounds
	// the exchange. The websocket transport returns once the frame is
	// written; long-polling returns once the response has been received.
	send(ctx context.Context, body []byte, suffix string, timeout time.Duration, calls []*call) error
	// sendAsync is send without waiting: done receives the outcome of send,
	// on another goroutine or (on an immediate failure) the caller's.
	sendAsync(body []byte, timeout time.Duration, calls []*call, done func(error))
	// inline reports whether replies arrive before send returns.
	inline() bool
	// close drops the connection; the next send opens a new one.
	close()
	// watch prepares the transport for requests made with ctx, the context
	// of a run: when it ends, they are aborted.
	watch(ctx context.Context)
}

// wsTransport is the websocket transport: one connection, text frames each
// holding a JSON array, replies correlated by id.
type wsTransport struct {
	c      *Client
	url    string
	dialer *websocket.Dialer

	mu   sync.Mutex // guards conn and gen; held while dialing
	conn *websocket.Conn
	gen  uint64

	wmu sync.Mutex // serialises writes
}

func newWSTransport(c *Client) *wsTransport {
	u := c.url
	switch {
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	}
	d := c.o.dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	return &wsTransport{c: c, url: u, dialer: d}
}

func (t *wsTransport) inline() bool { return false }

func (t *wsTransport) watch(context.Context) {}

// connection returns the open connection, dialing one if needed.
func (t *wsTransport) connection(ctx context.Context) (*websocket.Conn, uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		return t.conn, t.gen, nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.c.o.maxNetworkDelay)
	defer cancel()
	conn, resp, err := t.dialer.DialContext(ctx, t.url, t.c.o.header)
	if err != nil {
		if resp != nil {
			return nil, 0, fmt.Errorf("websocket dial %s: %w (HTTP %s)", t.url, err, resp.Status)
		}
		return nil, 0, fmt.Errorf("websocket dial %s: %w", t.url, err)
	}
	conn.SetReadLimit(t.c.o.maxFrameSize)
	t.gen++
	t.conn = conn
	go t.read(conn, t.gen)
	t.c.log.Debug("bayeux client: websocket connected", "url", t.url)
	return conn, t.gen, nil
}

func (t *wsTransport) send(ctx context.Context, body []byte, _ string, timeout time.Duration, calls []*call) error {
	conn, gen, err := t.connection(ctx)
	if err != nil {
		return err
	}
	t.c.register(calls, gen, timeout)
	t.wmu.Lock()
	_ = conn.SetWriteDeadline(time.Now().Add(t.c.o.maxNetworkDelay))
	err = conn.WriteMessage(websocket.TextMessage, body)
	t.wmu.Unlock()
	if err != nil {
		err = fmt.Errorf("websocket write: %w", err)
		t.drop(conn, gen, err)
		return err
	}
	return nil
}

func (t *wsTransport) sendAsync(body []byte, timeout time.Duration, calls []*call, done func(error)) {
	ctx := context.Background()
	if r := t.c.cur.Load(); r != nil {
		ctx = r.ctx
	}
	done(t.send(ctx, body, "", timeout, calls))
}

// readTimeout is how long the reader waits for a frame: a held connect may
// take the advised timeout, and the next one starts after the interval.
func (t *wsTransport) readTimeout() time.Duration {
	return time.Duration(t.c.readWait.Load()) + t.c.o.maxNetworkDelay
}

// maxDeadlineSlack bounds how much later than the read timeout after the
// last frame the reader's deadline may fall (see read).
const maxDeadlineSlack = time.Second

// read reads frames until the connection fails. Each frame is copied into
// a buffer of its own, which the decoded messages alias.
//
// The read deadline is always between the read timeout and the read
// timeout plus a slack (an eighth of it, at most maxDeadlineSlack) after
// the last frame: it is moved only when the slack is used up or the
// advice changed, not for every frame, since moving it costs more than
// reading a small frame.
func (t *wsTransport) read(conn *websocket.Conn, gen uint64) {
	dec := bayeux.NewDecoder()
	var buf bytes.Buffer
	var deadline time.Time        // the read deadline set on conn
	var deadlineFor time.Duration // the read timeout it was set for
	for {
		now := time.Now()
		if rt := t.readTimeout(); rt != deadlineFor || now.Add(rt).After(deadline) {
			deadline, deadlineFor = now.Add(rt+min(rt/8, maxDeadlineSlack)), rt
			_ = conn.SetReadDeadline(deadline)
		}
		typ, r, err := conn.NextReader()
		if err != nil {
			t.drop(conn, gen, fmt.Errorf("websocket read: %w", err))
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			t.drop(conn, gen, fmt.Errorf("websocket read: %w", err))
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		frame := bytes.Clone(buf.Bytes())
		msgs, err := dec.Decode(frame)
		if err != nil {
			t.c.log.Warn("bayeux client: dropping undecodable frame", "err", err)
			continue
		}
		t.c.receive(msgs)
	}
}

// drop closes conn (if it is still the current one) and fails the calls
// that went out on it.
func (t *wsTransport) drop(conn *websocket.Conn, gen uint64, err error) {
	t.mu.Lock()
	if t.conn == conn {
		t.conn = nil
	}
	t.mu.Unlock()
	_ = conn.Close()
	t.c.failAll(gen, false, err)
}

func (t *wsTransport) close() {
	t.mu.Lock()
	conn, gen := t.conn, t.gen
	t.conn = nil
	t.mu.Unlock()
	if conn != nil {
		t.wmu.Lock()
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		t.wmu.Unlock()
		_ = conn.Close()
		t.c.failAll(gen, false, ErrNotConnected)
	}
}

// lpTransport is the long-polling transport: each batch is an HTTP POST of
// a JSON array, answered by a JSON array.
//
// Like the CometD JavaScript client (maxConnections 2), it has at most two
// requests in flight: the held /meta/connect (and the handshake or
// disconnect, which go out at once) plus one request for everything else.
// Other messages queue behind that request and go out together in the next
// one, so a session's publishes reach the server in the order they were made,
// and a fast publisher's messages are batched on their own.
type lpTransport struct {
	c   *Client
	url string
	hc  *http.Client // unless h1
	h1  *h1Client    // WithDirectHTTP
	dec sync.Pool    // *bayeux.Decoder

	qmu     sync.Mutex
	queue   []lpItem
	sending bool // a goroutine is draining the queue
}

// lpItem is one queued batch and what to do with the outcome of the POST
// that carried it.
type lpItem struct {
	body    []byte // a JSON array
	n       int    // messages in body
	timeout time.Duration
	done    func(error)
}

// maxCoalesced bounds the body of a POST made of queued batches, and
// maxCoalescedMessages its messages: well under the messages a server
// takes in one request (cometgen's default: 1,000).
const (
	maxCoalesced         = 256 << 10
	maxCoalescedMessages = 500
)

func newLPTransport(c *Client) *lpTransport {
	t := &lpTransport{c: c, url: strings.TrimSuffix(c.url, "/")}
	if c.o.direct {
		jar, _ := cookiejar.New(nil) // never fails with nil options
		t.h1 = newH1Client(t.url, c.o.directDial, jar, c.o.header)
	} else {
		t.hc = httpClientFor(c.o.httpClient)
	}
	t.dec.New = func() any { return bayeux.NewDecoder() }
	return t
}

func (t *lpTransport) inline() bool { return true }

func (t *lpTransport) watch(ctx context.Context) {
	if t.h1 != nil {
		t.h1.watch(ctx)
	}
}

func (t *lpTransport) close() {
	if t.h1 != nil {
		t.h1.closeIdle()
	}
}

// errHTTPStatus is wrapped by the error for a response other than 200 OK.
var errHTTPStatus = errors.New("unexpected HTTP status")

func (t *lpTransport) send(ctx context.Context, body []byte, suffix string, timeout time.Duration, calls []*call) error {
	t.c.register(calls, 0, 0)
	if suffix != "" {
		return t.post(ctx, body, suffix, timeout)
	}
	res := make(chan error, 1)
	t.enqueue(lpItem{body: body, n: max(1, len(calls)), timeout: timeout, done: func(err error) { res <- err }})
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *lpTransport) sendAsync(body []byte, timeout time.Duration, calls []*call, done func(error)) {
	t.c.register(calls, 0, 0)
	t.enqueue(lpItem{body: body, n: max(1, len(calls)), timeout: timeout, done: done})
}

func (t *lpTransport) enqueue(it lpItem) {
	t.qmu.Lock()
	t.queue = append(t.queue, it)
	start := !t.sending
	t.sending = true
	t.qmu.Unlock()
	if start {
		go t.drain()
	}
}

// drain sends the queue, one POST at a time, each carrying every batch
// queued so far (up to maxCoalesced bytes and maxCoalescedMessages
// messages), until the queue is empty.
func (t *lpTransport) drain() {
	for {
		t.qmu.Lock()
		n, size, msgs := 0, 0, 0
		for n < len(t.queue) && (n == 0 || size+len(t.queue[n].body) <= maxCoalesced && msgs+t.queue[n].n <= maxCoalescedMessages) {
			size += len(t.queue[n].body)
			msgs += t.queue[n].n
			n++
		}
		if n == 0 {
			t.sending = false
			t.qmu.Unlock()
			return
		}
		items := slices.Clone(t.queue[:n])
		t.queue = slices.Delete(t.queue, 0, n)
		t.qmu.Unlock()

		body := items[0].body
		timeout := items[0].timeout
		if len(items) > 1 {
			body = make([]byte, 0, size+1)
			body = append(body, '[')
			for i, it := range items {
				if i > 0 {
					body = append(body, ',')
				}
				body = append(body, it.body[1:len(it.body)-1]...) // drop the brackets
				timeout = max(timeout, it.timeout)
			}
			body = append(body, ']')
		}
		ctx := context.Background()
		if r := t.c.cur.Load(); r != nil {
			ctx = r.ctx
		}
		err := t.post(ctx, body, "", timeout)
		for _, it := range items {
			it.done(err)
		}
	}
}

// post makes one POST and hands the messages of the response to the Client.
func (t *lpTransport) post(ctx context.Context, body []byte, suffix string, timeout time.Duration) error {
	var frame []byte
	var err error
	if t.h1 != nil {
		r := t.c.cur.Load()
		watched := r != nil && ctx == r.ctx // the connect loop's and the queue's
		frame, err = t.h1.post(ctx, watched, suffix, body, timeout, t.c.o.maxFrameSize)
	} else {
		frame, err = t.roundTrip(ctx, body, suffix, timeout)
	}
	if err != nil {
		return fmt.Errorf("long-polling: %w", err)
	}
	dec := t.dec.Get().(*bayeux.Decoder)
	msgs, err := dec.Decode(frame)
	t.dec.Put(dec)
	if err != nil {
		return fmt.Errorf("long-polling: %w", err)
	}
	t.c.receive(msgs)
	return nil
}

// roundTrip makes one POST through the http.Client and returns the body of
// a 200 OK response.
func (t *lpTransport) roundTrip(ctx context.Context, body []byte, suffix string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+suffix, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	for k, v := range t.c.o.header {
		req.Header[k] = v
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: %s", errHTTPStatus, resp.Status)
	}
	frame, err := readBody(resp, t.c.o.maxFrameSize)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return frame, nil
}

// readBody reads a response body of at most limit bytes, in one allocation
// when the length is known.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 {
		if n > limit {
			return nil, fmt.Errorf("response of %d bytes exceeds the limit of %d", n, limit)
		}
		b := make([]byte, n)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response exceeds the limit of %d bytes", limit)
	}
	return b, nil
}
