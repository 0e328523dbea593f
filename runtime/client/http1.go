package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
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

	mu       sync.Mutex
	idle     []*h1Conn
	watched  []*h1Conn   // in flight under a watched context (see watch)
	expiries []time.Time // when cookies in the jar expire, for the cached Cookie fields
}

// h1Target is a request target: the URL (for the cookie jar) and its
// request line.
type h1Target struct {
	u    *url.URL
	line string // "POST /path HTTP/1.1\r\n"

	// cookie caches the jar's cookies for u (guarded by h1Client.mu): the
	// jar is the Client's own, so it changes only when a response sets
	// cookies or a cookie expires.
	cookie   string
	cookieOK bool
}

// h1Conn is one kept-alive connection.
type h1Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte

	// Guarded by h1Client.mu while the connection is in h1Client.watched.
	watch   context.Context // the watched context of the request in flight
	aborted bool            // abort expired the connection's deadline
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
// aborts it. watched says that ctx was passed to watch, which then aborts
// the request when ctx ends, sparing a context.AfterFunc per request.
func (h *h1Client) post(ctx context.Context, watched bool, suffix string, body []byte, timeout time.Duration, limit int64) ([]byte, error) {
	if h.err != nil {
		return nil, h.err
	}
	tg := h.targets[suffix]
	if tg == nil {
		return nil, fmt.Errorf("direct HTTP: unknown suffix %q", suffix)
	}
	now := time.Now()
	deadline := now.Add(timeout)
	for attempt := 0; ; attempt++ {
		cn, reused, cookie, err := h.conn(ctx, watched, tg, now, deadline, attempt > 0)
		if err != nil {
			return nil, err
		}
		frame, err := h.exchange(ctx, watched, cn, tg, cookie, body, deadline, limit, reused)
		if errors.Is(err, errH1Retry) && attempt == 0 && ctx.Err() == nil {
			continue
		}
		return frame, err
	}
}

// conn returns an idle connection (reused) or dials a new one, and the
// Cookie field value for tg. With watched, the connection is in h.watched.
func (h *h1Client) conn(ctx context.Context, watched bool, tg *h1Target, now, deadline time.Time, fresh bool) (cn *h1Conn, reused bool, cookie string, err error) {
	h.mu.Lock()
	cookie = h.cookieLocked(tg, now)
	if n := len(h.idle); n > 0 && !fresh {
		cn = h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		if watched {
			h.watchLocked(cn, ctx)
		}
	}
	h.mu.Unlock()
	if cn != nil {
		return cn, true, cookie, nil
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := h.dial(dctx, "tcp", h.addr)
	if err != nil {
		return nil, false, "", err
	}
	cn = &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, 8<<10)}
	if watched {
		h.mu.Lock()
		h.watchLocked(cn, ctx)
		h.mu.Unlock()
	}
	return cn, false, cookie, nil
}

func (h *h1Client) watchLocked(cn *h1Conn, ctx context.Context) {
	cn.watch, cn.aborted = ctx, false
	h.watched = append(h.watched, cn)
}

// watch makes the end of ctx abort the requests posted with it and
// watched set. Call it once per context, before such requests.
func (h *h1Client) watch(ctx context.Context) {
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, cn := range h.watched {
			if cn.watch == ctx {
				cn.aborted = true
				_ = cn.nc.SetDeadline(time.Unix(1, 0))
			}
		}
	})
}

// cookieLocked returns the Cookie field value for tg: the one given with
// WithHeader and the jar's cookies. h.mu is held.
func (h *h1Client) cookieLocked(tg *h1Target, now time.Time) string {
	if h.jar == nil {
		return h.cookie
	}
	if len(h.expiries) > 0 && !now.Before(h.expiries[0]) {
		// A cookie expired: forget the cached fields and the past expiries.
		h.expiries = slices.DeleteFunc(h.expiries, func(t time.Time) bool { return !now.Before(t) })
		for _, t := range h.targets {
			t.cookieOK = false
		}
	}
	if !tg.cookieOK {
		var b strings.Builder
		b.WriteString(h.cookie)
		for _, c := range h.jar.Cookies(tg.u) {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(c.String()) // name=value, quoted as needed
		}
		tg.cookie, tg.cookieOK = b.String(), true
	}
	return tg.cookie
}

// setCookies stores the Set-Cookie fields of a response to tg in the jar.
func (h *h1Client) setCookies(tg *h1Target, fields []string) {
	if h.jar == nil {
		return
	}
	now := time.Now()
	var cs []*http.Cookie
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range fields {
		c, err := http.ParseSetCookie(f)
		if err != nil {
			continue // net/http ignores a malformed Set-Cookie too
		}
		cs = append(cs, c)
		switch {
		case c.MaxAge > 0:
			h.expiries = append(h.expiries, now.Add(time.Duration(c.MaxAge)*time.Second))
		case c.MaxAge == 0 && !c.Expires.IsZero() && c.Expires.After(now):
			h.expiries = append(h.expiries, c.Expires)
		}
	}
	slices.SortFunc(h.expiries, time.Time.Compare)
	h.jar.SetCookies(tg.u, cs)
	for _, t := range h.targets {
		t.cookieOK = false
	}
}

// release ends the request on cn: it takes cn out of h.watched, and keeps
// it as an idle connection (if keep and there are not enough) or closes it.
// It reports whether watch aborted the request.
func (h *h1Client) release(cn *h1Conn, keep bool) (aborted bool) {
	if cap(cn.wbuf) > 64<<10 {
		cn.wbuf = nil // do not keep a large batch's buffer
	}
	h.mu.Lock()
	if cn.watch != nil {
		if i := slices.Index(h.watched, cn); i >= 0 {
			h.watched = slices.Delete(h.watched, i, i+1)
		}
		aborted = cn.aborted
		cn.watch, cn.aborted = nil, false
	}
	if keep && !aborted && len(h.idle) < h1MaxIdle {
		h.idle = append(h.idle, cn)
		cn = nil
	}
	h.mu.Unlock()
	if cn != nil {
		_ = cn.nc.Close()
	}
	return aborted
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
func (h *h1Client) exchange(ctx context.Context, watched bool, cn *h1Conn, tg *h1Target, cookie string, body []byte, deadline time.Time, limit int64, reused bool) (frame []byte, err error) {
	keep := false
	defer func() {
		if h.release(cn, keep) {
			// watch moved the deadline into the past: the error is the
			// context's.
			frame, err = nil, ctx.Err()
		}
	}()
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if watched {
		if err := ctx.Err(); err != nil {
			return nil, err // ended before watch could see the connection
		}
	} else if ctx.Done() != nil {
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

	cn.wbuf = h.appendRequest(cn.wbuf[:0], tg, cookie, body)
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
	resp, err := readH1Response(cn.br, limit)
	if err != nil {
		return nil, err
	}
	if len(resp.setCookie) > 0 {
		h.setCookies(tg, resp.setCookie)
	}
	if resp.status != http.StatusOK {
		// The connection is not reused, so the body need not be read.
		return nil, fmt.Errorf("%w: %s", errHTTPStatus, resp.statusText)
	}
	if frame, err = resp.readBody(cn.br, limit); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	keep = resp.keepAlive
	return frame, nil
}

// appendRequest appends the request for body to dst.
func (h *h1Client) appendRequest(dst []byte, tg *h1Target, cookie string, body []byte) []byte {
	dst = append(dst, tg.line...)
	dst = append(dst, h.header...)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if cookie != "" {
		dst = append(dst, "Cookie: "...)
		dst = append(dst, cookie...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// h1Response is the head of a response, read by readH1Response.
type h1Response struct {
	status        int
	statusText    string // "200 OK"
	keepAlive     bool   // the connection may carry another request
	chunked       bool
	contentLength int64 // -1: unknown (read until the connection closes)
	setCookie     []string
}

// errMalformed is wrapped by the error for a response that is not HTTP/1.x.
var errMalformed = errors.New("malformed HTTP response")

// readH1Response reads a response head from br, skipping informational (1xx)
// responses. It understands what a Bayeux server may send: Content-Length,
// chunked Transfer-Encoding, Connection and Set-Cookie; other fields are
// skipped unparsed.
func readH1Response(br *bufio.Reader, limit int64) (*h1Response, error) {
	for {
		line, err := readH1Line(br)
		if err != nil {
			return nil, err
		}
		// HTTP/1.x SSS[ reason]
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
			line[8] != ' ' || !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) ||
			(len(line) > 12 && line[12] != ' ') {
			return nil, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		r := &h1Response{
			status:        int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0'),
			contentLength: -1,
		}
		http10 := line[7] == '0'
		if r.status != http.StatusOK {
			r.statusText = string(line[9:])
		}
		var closeConn, keepAliveConn, teSeen, framing bool
		for {
			line, err := readH1Line(br)
			if err != nil {
				return nil, err
			}
			if len(line) == 0 {
				break
			}
			if line[0] == ' ' || line[0] == '\t' {
				// An obsolete line folding continues the previous field:
				// harmless for fields skipped, refused for framing ones.
				if framing {
					return nil, fmt.Errorf("%w: folded framing field", errMalformed)
				}
				continue
			}
			i := bytes.IndexByte(line, ':')
			if i <= 0 {
				return nil, fmt.Errorf("%w: field line %q", errMalformed, line)
			}
			name, value := line[:i], bytes.Trim(line[i+1:], " \t")
			framing = false
			switch {
			case asciiEqualFold(name, "content-length"):
				framing = true
				n, ok := parseContentLength(value)
				if !ok || (r.contentLength >= 0 && n != r.contentLength) {
					return nil, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
				}
				r.contentLength = n
			case asciiEqualFold(name, "transfer-encoding"):
				framing = true
				if teSeen || !asciiEqualFold(value, "chunked") {
					return nil, fmt.Errorf("%w: unsupported Transfer-Encoding %q", errMalformed, value)
				}
				teSeen, r.chunked = true, true
			case asciiEqualFold(name, "connection"):
				for tok := range bytes.SplitSeq(value, []byte(",")) {
					tok = bytes.Trim(tok, " \t")
					closeConn = closeConn || asciiEqualFold(tok, "close")
					keepAliveConn = keepAliveConn || asciiEqualFold(tok, "keep-alive")
				}
			case asciiEqualFold(name, "set-cookie"):
				r.setCookie = append(r.setCookie, string(value))
			}
		}
		if r.status/100 == 1 && r.status != http.StatusSwitchingProtocols {
			continue // 103 Early Hints, a stray 100 Continue: the real response follows
		}
		r.keepAlive = !closeConn && (!http10 || keepAliveConn)
		switch {
		case r.status == http.StatusNoContent || r.status == http.StatusNotModified || r.status/100 == 1:
			r.chunked, r.contentLength = false, 0
		case r.chunked:
			if r.contentLength >= 0 {
				// Both framings: chunked wins, and the connection is not
				// trusted with another request (RFC 9112, 6.3).
				r.keepAlive, r.contentLength = false, -1
			}
		case r.contentLength < 0:
			r.keepAlive = false // the body ends when the connection does
		}
		return r, nil
	}
}

// readBody reads the body of r from br: at most limit bytes, in one
// allocation when the length is known.
func (r *h1Response) readBody(br *bufio.Reader, limit int64) ([]byte, error) {
	switch {
	case r.chunked:
		b, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(br), limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("response exceeds the limit of %d bytes", limit)
		}
		// The trailer section, if any, up to the empty line.
		for {
			line, err := readH1Line(br)
			if err != nil {
				return nil, err
			}
			if len(line) == 0 {
				return b, nil
			}
		}
	case r.contentLength >= 0:
		if r.contentLength > limit {
			return nil, fmt.Errorf("response of %d bytes exceeds the limit of %d", r.contentLength, limit)
		}
		b := make([]byte, r.contentLength)
		_, err := io.ReadFull(br, b)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(br, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response exceeds the limit of %d bytes", limit)
	}
	return b, nil
}

// readH1Line reads one line of a response head, without its CRLF (or LF).
// The line aliases br's buffer: it is valid until the next read.
func readH1Line(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: header line longer than %d bytes", errMalformed, br.Size())
	case errors.Is(err, io.EOF) && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseContentLength parses a Content-Length value: decimal digits only.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// asciiEqualFold reports whether b equals the lower-case ASCII s, ignoring
// the case of b.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
