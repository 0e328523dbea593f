package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// h1Client is the minimal HTTP/1.1 client of WithDirectHTTP: it POSTs a body
// on a kept-alive connection of its own and reads the response on the
// calling goroutine, without the per-connection reader and writer goroutines
// of net/http. It speaks plain http:// only, without proxies, and keeps the
// few connections of one Client (its lpTransport has at most two requests in
// flight).
type h1Client struct {
	dial    DialFunc
	addr    string // host:port to dial
	jar     http.CookieJar
	targets map[string]*h1Target // by URL suffix
	header  []byte               // "Host: …\r\n" and the fixed fields, each ending in CRLF
	cookie  string               // the Cookie field given with WithHeader, if any
	err     error                // a configuration error, returned by every request

	mu   sync.Mutex
	idle []*h1Conn
}

// h1Target is a request target: the URL (for the cookie jar) and its
// request line.
type h1Target struct {
	u    *url.URL
	line string // "POST /path HTTP/1.1\r\n"
}

// h1Conn is one kept-alive connection.
type h1Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
}

// h1MaxIdle is how many idle connections a Client keeps: one for the held
// connect and one for the other requests.
const h1MaxIdle = 2

// h1Suffixes are the URL suffixes the long-polling transport uses.
var h1Suffixes = []string{"", "/handshake", "/connect", "/disconnect"}

// newH1Client returns a client for POSTs to base (plus a suffix). A bad URL
// or header is reported by every request.
func newH1Client(base string, dial DialFunc, jar http.CookieJar, hdr http.Header) *h1Client {
	h := &h1Client{dial: dial, jar: jar, targets: make(map[string]*h1Target, len(h1Suffixes))}
	if h.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		h.dial = d.DialContext
	}
	var host string
	for _, sfx := range h1Suffixes {
		u, err := url.Parse(base + sfx)
		if err != nil {
			h.err = fmt.Errorf("direct HTTP: %w", err)
			return h
		}
		if u.Scheme != "http" || u.Host == "" {
			h.err = fmt.Errorf("direct HTTP: %q: only http:// URLs with a host are supported (use WithHTTPClient for https and proxies)", base)
			return h
		}
		host = u.Host
		h.targets[sfx] = &h1Target{u: u, line: "POST " + u.RequestURI() + " HTTP/1.1\r\n"}
	}
	h.addr = host
	if _, _, err := net.SplitHostPort(host); err != nil {
		h.addr = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	var b strings.Builder
	b.WriteString("Host: " + host + "\r\n")
	have := func(k string) bool { _, ok := hdr[k]; return ok }
	if !have("User-Agent") {
		b.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	if !have("Content-Type") {
		b.WriteString("Content-Type: application/json;charset=UTF-8\r\n")
	}
	for k, vs := range hdr {
		if !validFieldName(k) {
			h.err = fmt.Errorf("direct HTTP: invalid header field name %q", k)
			return h
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				h.err = fmt.Errorf("direct HTTP: invalid value for header field %q", k)
				return h
			}
		}
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Te", "Trailer", "Upgrade":
			continue // framing is the client's business
		case "Cookie":
			h.cookie = strings.Join(vs, "; ")
			continue
		}
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	h.header = []byte(b.String())
	return h
}

// validFieldName reports whether k is an HTTP token.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v holds no control character but tab.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// errH1Retry marks a failure on a reused connection before any byte of the
// response arrived: the server most likely closed the idle connection, and
// the request is sent again on a new one, as net/http does for requests
// whose body it can replay.
var errH1Retry = errors.New("reused connection closed")

// post sends body to the URL with suffix and returns the body of a 200 OK
// response, of at most limit bytes. timeout bounds the whole exchange; ctx
// aborts it.
func (h *h1Client) post(ctx context.Context, suffix string, body []byte, timeout time.Duration, limit int64) ([]byte, error) {
	if h.err != nil {
		return nil, h.err
	}
	tg := h.targets[suffix]
	if tg == nil {
		return nil, fmt.Errorf("direct HTTP: unknown suffix %q", suffix)
	}
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		cn, reused, err := h.conn(ctx, deadline, attempt > 0)
		if err != nil {
			return nil, err
		}
		frame, err := h.exchange(ctx, cn, tg, body, deadline, limit, reused)
		if errors.Is(err, errH1Retry) && attempt == 0 && ctx.Err() == nil {
			continue
		}
		return frame, err
	}
}

// conn returns an idle connection (reused) or dials a new one.
func (h *h1Client) conn(ctx context.Context, deadline time.Time, fresh bool) (*h1Conn, bool, error) {
	if !fresh {
		h.mu.Lock()
		if n := len(h.idle); n > 0 {
			cn := h.idle[n-1]
			h.idle[n-1] = nil
			h.idle = h.idle[:n-1]
			h.mu.Unlock()
			return cn, true, nil
		}
		h.mu.Unlock()
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := h.dial(dctx, "tcp", h.addr)
	if err != nil {
		return nil, false, err
	}
	return &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, 8<<10)}, false, nil
}

// release returns cn to the idle connections, or closes it when there are
// enough.
func (h *h1Client) release(cn *h1Conn) {
	if cap(cn.wbuf) > 64<<10 {
		cn.wbuf = nil // do not keep a large batch's buffer
	}
	h.mu.Lock()
	if len(h.idle) < h1MaxIdle {
		h.idle = append(h.idle, cn)
		cn = nil
	}
	h.mu.Unlock()
	if cn != nil {
		_ = cn.nc.Close()
	}
}

// closeIdle closes the idle connections.
func (h *h1Client) closeIdle() {
	h.mu.Lock()
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	for _, cn := range idle {
		_ = cn.nc.Close()
	}
}

// exchange makes one request on cn. It releases cn when the connection can
// be used again and closes it otherwise.
func (h *h1Client) exchange(ctx context.Context, cn *h1Conn, tg *h1Target, body []byte, deadline time.Time, limit int64, reused bool) (frame []byte, err error) {
	keep := false
	defer func() {
		if keep {
			h.release(cn)
		} else {
			_ = cn.nc.Close()
		}
	}()
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() && ctx.Err() != nil {
				// The deadline was moved into the past: the connection is
				// spoilt, and the error is the context's.
				keep = false
				frame, err = nil, ctx.Err()
			}
		}()
	}

	cn.wbuf = h.appendRequest(cn.wbuf[:0], tg, body)
	if _, err := cn.nc.Write(cn.wbuf); err != nil {
		if reused {
			return nil, fmt.Errorf("%w: %w", errH1Retry, err)
		}
		return nil, err
	}
	if _, err := cn.br.Peek(1); err != nil {
		if reused && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return nil, fmt.Errorf("%w: %w", errH1Retry, err)
		}
		return nil, err
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(cn.br, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// An informational response (103 Early Hints, a stray 100
		// Continue) precedes the real one.
	}
	if h.jar != nil {
		if cs := resp.Cookies(); len(cs) > 0 {
			h.jar.SetCookies(tg.u, cs)
		}
	}
	if resp.StatusCode != http.StatusOK {
		// The connection is not reused, so the body need not be drained.
		return nil, fmt.Errorf("%w: %s", errHTTPStatus, resp.Status)
	}
	frame, err = readBody(resp, limit)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	keep = !resp.Close
	return frame, nil
}

// appendRequest appends the request for body to dst.
func (h *h1Client) appendRequest(dst []byte, tg *h1Target, body []byte) []byte {
	dst = append(dst, tg.line...)
	dst = append(dst, h.header...)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	var cs []*http.Cookie
	if h.jar != nil {
		cs = h.jar.Cookies(tg.u)
	}
	if len(cs) > 0 || h.cookie != "" {
		dst = append(dst, "Cookie: "...)
		dst = append(dst, h.cookie...)
		for i, c := range cs {
			if i > 0 || h.cookie != "" {
				dst = append(dst, "; "...)
			}
			dst = append(dst, c.String()...) // name=value, quoted as needed
		}
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}
