package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// ServeHTTP serves every Bayeux transport at the path the server is mounted
// on (and, for long-polling, any suffix of it).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		s.serveWebSocket(w, r)
		return
	}
	s.setCORS(w, r)
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusOK)
	case http.MethodPost:
		s.serveLongPolling(w, r)
	case http.MethodGet:
		s.serveCallbackPolling(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		s.badRequest(w, http.StatusMethodNotAllowed, "bayeux: method %q not allowed", r.Method)
	}
}

// badRequest answers with an HTTP error status and a line of plain text
// saying why. The text is UTF-8, whatever the client's bytes it quotes.
func (s *Server) badRequest(w http.ResponseWriter, status int, format string, args ...any) {
	s.stats.badRequests.Add(1)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, strings.ToValidUTF8(fmt.Sprintf(format, args...), "\uFFFD")+"\n")
}

func (s *Server) originAllowed(origin string) bool {
	return slices.Contains(s.opts.AllowedOrigins, "*") || slices.Contains(s.opts.AllowedOrigins, origin)
}

// setCORS lets the configured origins call the server with credentials
// (the CometD client sends cookies cross-origin).
func (s *Server) setCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.originAllowed(origin) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		} else {
			h.Set("Access-Control-Allow-Headers", "Content-Type")
		}
		h.Set("Access-Control-Max-Age", "86400")
	}
}

// originMayUse reports whether pages of origin (scheme://host[:port]) may
// use the server: the server's own origin, or a configured one.
func (s *Server) originMayUse(origin string, r *http.Request) bool {
	if s.originAllowed(origin) {
		return true
	}
	i := strings.Index(origin, "://")
	return i >= 0 && strings.EqualFold(origin[i+3:], r.Host)
}

// checkWebSocketOrigin accepts requests without an Origin (non-browser
// clients), same-origin requests, and the configured origins.
func (s *Server) checkWebSocketOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || s.originMayUse(origin, r)
}

// checkJSONPOrigin decides whether a callback-polling request may be
// served. A script element of any site can load it and read the answer,
// so the origin of the page asking must be the server's own or an allowed
// one, as for websocket and long-polling; a browser tells it in Origin or
// Referer, and Sec-Fetch-Site says whether the request is same-origin. A
// browser's cross-site request that hides its origin (a page with
// Referrer-Policy no-referrer) is refused; a request without any of these
// headers is not a browser's (curl, Node) and is served. It returns the
// origin it found, for the refusal.
func (s *Server) checkJSONPOrigin(r *http.Request) (string, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = ""
		if u, err := url.Parse(r.Header.Get("Referer")); err == nil && u.Scheme != "" && u.Host != "" {
			origin = u.Scheme + "://" + u.Host
		}
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); {
	case site == "same-origin" || site == "none": // "none": the user opened the URL
		return origin, true
	case origin != "":
		return origin, s.originMayUse(origin, r)
	default:
		return "an unknown origin", site == ""
	}
}

// errEmptyBatch is returned for a request that holds no message.
var errEmptyBatch = errors.New("bayeux: empty message array")

var contentTypeJSON = []string{"application/json;charset=UTF-8"}

// smallContentLengths holds the Content-Length header values of the usual
// response sizes, so a long-polling response does not format and allocate
// one. The slices are shared and must not be modified (net/http copies a
// handler's header values before it changes them).
var smallContentLengths = sync.OnceValue(func() [][]string {
	t := make([][]string, 4096)
	for n := range t {
		t[n] = []string{strconv.Itoa(n)}
	}
	return t
})

// contentLength returns the Content-Length header value for n bytes.
func contentLength(n int) []string {
	if t := smallContentLengths(); n < len(t) {
		return t[n]
	}
	return []string{strconv.Itoa(n)}
}

// responseBuffers holds response body buffers: a body is built, written to
// the http.ResponseWriter (which copies it) and returned.
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

// bodyBuffers holds request body buffers.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBodyBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return // let a rare large body's memory go
	}
	b.Reset()
	bodyBuffers.Put(b)
}

// decoders holds message decoders; a Decoder is cheaper than encoding/json
// and keeps a small cache of channel names.
var decoders = sync.Pool{New: func() any { return bayeux.NewDecoder() }}

// decodeMessages parses a request body: a JSON array of at most max
// messages (0: any number) or a single message object. The messages' raw
// fields alias body. invalid lists, in increasing order, the messages
// holding invalid UTF-8, which must be refused and never passed on.
func decodeMessages(body []byte, max int) (msgs []bayeux.Message, invalid []int, err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, errEmptyBatch
	}
	d := decoders.Get().(*bayeux.Decoder)
	d.MaxMessages = max
	msgs, err = d.Decode(body)
	decoders.Put(d)
	if err != nil {
		// Only here: errors.As makes its target escape, an allocation a
		// well-formed request must not pay.
		var bad *bayeux.InvalidUTF8Error
		switch {
		case errors.As(err, &bad):
			return msgs, bad.Messages, nil
		case errors.Is(err, bayeux.ErrTooManyMessages):
			return nil, nil, errTooManyMessages
		}
		return nil, nil, fmt.Errorf("bayeux: malformed message: %w", err)
	}
	if len(msgs) == 0 {
		return nil, nil, errEmptyBatch
	}
	return msgs, nil, nil
}

// errOriginNotAllowed refuses a callback-polling request from a page whose
// origin is neither the server's nor an allowed one.
var errOriginNotAllowed = bayeux.NewError(403, "origin_not_allowed")

// errTooManyMessages is returned for a request holding more than
// Options.MaxMessagesPerRequest messages.
var errTooManyMessages = bayeux.NewError(413, "too_many_messages")

// refuseDecode answers an HTTP request whose body decodeMessages refused.
func (s *Server) refuseDecode(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooManyMessages) {
		s.badRequest(w, http.StatusRequestEntityTooLarge, "bayeux: %v: a request may hold at most %d messages", err, s.opts.MaxMessagesPerRequest)
		return
	}
	s.badRequest(w, http.StatusBadRequest, "%v", err)
}

func (s *Server) browserID(w http.ResponseWriter, r *http.Request, msgs []bayeux.Message) string {
	if c, err := r.Cookie(s.opts.BrowserCookieName); err == nil && c.Value != "" {
		return c.Value
	}
	if len(msgs) == 1 && bayeux.Normalize(msgs[0].Channel) == bayeux.MetaHandshake {
		id := newSessionID()[:16]
		http.SetCookie(w, &http.Cookie{
			Name: s.opts.BrowserCookieName, Value: id, Path: "/", HttpOnly: true,
			// The cookie only tells the long polls of one browser apart
			// (the session's credential is its clientId); it has no
			// business in cross-site requests, nor on plain HTTP once
			// the page came over TLS.
			SameSite: http.SameSiteLaxMode,
			Secure:   r.TLS != nil || s.opts.BrowserCookieSecure,
		})
		return id
	}
	return ""
}

func (s *Server) serveLongPolling(w http.ResponseWriter, r *http.Request) {
	if !s.transportAllowed(bayeux.TransportLongPolling) {
		s.badRequest(w, http.StatusBadRequest, "bayeux: transport %s not allowed", bayeux.TransportLongPolling)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxMessageSize)
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	if r.ContentLength > 0 && r.ContentLength <= s.opts.MaxMessageSize {
		buf.Grow(int(r.ContentLength) + 1) // +1: ReadFrom wants room to see EOF
	}
	// The body must arrive within BodyReadTimeout; the deadline is lifted
	// once it has, so that the connection may hold a /meta/connect.
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout)) == nil
	_, err := buf.ReadFrom(r.Body)
	if deadline && err == nil { // after an error the connection is not reused
		rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.badRequest(w, http.StatusRequestEntityTooLarge, "bayeux: request body larger than %d bytes", s.opts.MaxMessageSize)
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			s.badRequest(w, http.StatusRequestTimeout, "bayeux: request body not read within %v", s.opts.BodyReadTimeout)
		default:
			s.badRequest(w, http.StatusBadRequest, "bayeux: read request: %v", err)
		}
		return
	}
	// The messages alias body; everything that outlives the request
	// (events, replies) is encoded into new memory before buf is reused.
	body := buf.Bytes()
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		// The Bayeux spec allows form-encoded "message" parameters; tools
		// such as curl label plain JSON bodies as forms, so a body that is
		// not a form with a message parameter is read as JSON.
		if form, err := url.ParseQuery(string(body)); err == nil && len(form["message"]) > 0 {
			body = joinMessageParams(form["message"])
		}
	}
	msgs, invalid, err := decodeMessages(body, s.opts.MaxMessagesPerRequest)
	if err != nil {
		s.refuseDecode(w, err)
		return
	}
	s.stats.bytesIn.Add(int64(len(body)))
	o := &origin{transport: bayeux.TransportLongPolling, browserID: s.browserID(w, r, msgs), req: r}
	s.respondHTTP(w, r, o, msgs, invalid, writeLongPolling)
}

// writeLongPolling is the httpWrite of long-polling.
func writeLongPolling(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = contentLength(len(body))
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	w.Write(body)
}

func (s *Server) serveCallbackPolling(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	callback := q.Get("jsonp")
	if !q.Has("jsonp") {
		s.badRequest(w, http.StatusBadRequest, "bayeux: unknown Bayeux transport: a GET needs the jsonp and message parameters")
		return
	}
	if !validCallback(callback, s.opts.JSONPCallbackMaxLength) {
		s.badRequest(w, http.StatusBadRequest, "bayeux: invalid jsonp callback name: want 1 to %d of [A-Za-z0-9._-]", s.opts.JSONPCallbackMaxLength)
		return
	}
	if !s.transportAllowed(bayeux.TransportCallbackPolling) {
		s.badRequest(w, http.StatusBadRequest, "bayeux: transport %s not allowed", bayeux.TransportCallbackPolling)
		return
	}
	if origin, ok := s.checkJSONPOrigin(r); !ok {
		s.badRequest(w, http.StatusForbidden, "bayeux: %v: callback-polling from %s is not allowed", errOriginNotAllowed, origin)
		return
	}
	body := joinMessageParams(q["message"])
	if int64(len(body)) > s.opts.MaxMessageSize {
		s.badRequest(w, http.StatusRequestEntityTooLarge, "bayeux: message larger than %d bytes", s.opts.MaxMessageSize)
		return
	}
	msgs, invalid, err := decodeMessages(body, s.opts.MaxMessagesPerRequest)
	if err != nil {
		s.refuseDecode(w, err)
		return
	}
	s.stats.bytesIn.Add(int64(len(body)))
	o := &origin{transport: bayeux.TransportCallbackPolling, browserID: s.browserID(w, r, msgs), req: r}
	s.respondHTTP(w, r, o, msgs, invalid, func(w http.ResponseWriter, status int, body []byte) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript;charset=UTF-8")
		h.Set("X-Content-Type-Options", "nosniff")
		if status != http.StatusOK {
			w.WriteHeader(status)
		}
		out := make([]byte, 0, len(callback)+len(body)+3)
		out = append(out, callback...)
		out = append(out, '(')
		out = append(out, jsSafe(body)...)
		out = append(out, ')', ';')
		w.Write(out)
	})
}

// validCallback reports whether a JSONP callback name is safe to echo.
func validCallback(name string, max int) bool {
	if name == "" || len(name) > max {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// jsSafe escapes U+2028 and U+2029, which JSON allows raw in strings but
// older JavaScript engines do not.
func jsSafe(b []byte) []byte {
	if !bytes.Contains(b, []byte("\u2028")) && !bytes.Contains(b, []byte("\u2029")) {
		return b
	}
	b = bytes.ReplaceAll(b, []byte("\u2028"), []byte(`\u2028`))
	return bytes.ReplaceAll(b, []byte("\u2029"), []byte(`\u2029`))
}

// joinMessageParams concatenates several "message" parameters, each a
// message or an array of messages, into one JSON array.
func joinMessageParams(params []string) []byte {
	if len(params) == 1 {
		return []byte(params[0])
	}
	var b []byte
	b = append(b, '[')
	for i, p := range params {
		p = strings.TrimSpace(p)
		if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
			p = strings.TrimSpace(p[1 : len(p)-1])
		}
		if p == "" {
			continue
		}
		if i > 0 && len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, p...)
	}
	return append(b, ']')
}

// httpWrite writes a response's headers, then its status (200, or 400 for
// a batch refused as a whole), then body, to w. It must not keep body: its
// memory is reused.
type httpWrite func(w http.ResponseWriter, status int, body []byte)

// respondHTTP processes msgs (refusing those listed in invalid), holds a
// lone /meta/connect as the protocol asks, and writes one response: the
// handshake reply, then the messages queued for the session (only on a
// /meta/connect, so that delivery order is the queue's order), then the
// other replies. A connect held long enough on a connection that can be
// parked (ParkHeldConnects) is answered later by its parked connection:
// respondHTTP returns at once then, and w is not to be used again.
func (s *Server) respondHTTP(w http.ResponseWriter, r *http.Request, o *origin, msgs []bayeux.Message, invalid []int, write httpWrite) {
	res := s.process(o, msgs, invalid)
	var h httpHold
	if res.connect == nil || !s.holdHTTP(&h, r, o, res.connect) {
		s.answerHTTP(w, &res, write)
		return
	}
	end := h.wait(r.Context().Done())
	if end == holdPark {
		if h.park.park(w, &h, &res, write) {
			return
		}
		h.parkAt = time.Time{}
		h.timer.Reset(time.Until(h.until))
		end = h.wait(r.Context().Done())
	}
	s.finishHTTP(w, &h, end, &res, write)
}

// finishHTTP ends the hold h as end says and answers on w.
func (s *Server) finishHTTP(w http.ResponseWriter, h *httpHold, end holdEnd, res *result, write httpWrite) {
	h.end()
	switch end {
	case holdDisplaced:
		w.WriteHeader(s.opts.DuplicateConnectStatus)
	case holdGone: // the client went away; nothing is taken from its queue
		h.pc.sess.signal()
	default:
		s.answerHTTP(w, res, write)
	}
}

// answerHTTP writes the response of res: its handshake reply, the messages
// queued for its connect's session, its other replies, its connect reply.
func (s *Server) answerHTTP(w http.ResponseWriter, res *result, write httpWrite) {
	var queue [][]byte
	var connectReply []byte
	if pc := res.connect; pc != nil {
		var recycle bool
		queue, pc.batch, recycle = pc.sess.takeForConnect(nil)
		connectReply = s.connectReply(pc)
		defer func() {
			if recycle {
				pc.sess.returnQueue(queue)
			}
			pc.sess.scheduleExpiry(time.Now())
		}()
	}
	n := 2 + len(res.handshake) + len(connectReply)
	for _, q := range queue {
		n += len(q) + 1
	}
	for _, q := range res.replies {
		n += len(q) + 1
	}
	bp := responseBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 { // let a rare large body's memory go
			responseBuffers.Put(bp)
		}
	}()
	body := slices.Grow((*bp)[:0], n)
	body = append(body, '[')
	add := func(m []byte) {
		if len(body) > 1 {
			body = append(body, ',')
		}
		body = append(body, m...)
	}
	if res.handshake != nil {
		add(res.handshake)
	}
	for _, m := range queue {
		add(m)
	}
	for _, m := range res.replies {
		add(m)
	}
	if connectReply != nil {
		add(connectReply)
	}
	body = append(body, ']')
	*bp = body
	status := http.StatusOK
	if res.rejected {
		status = http.StatusBadRequest
	}
	write(w, status, body)
}

// holdEnd says why a held connect's wait ended.
type holdEnd int

const (
	holdAnswer    holdEnd = iota // something is queued, the hold time passed, the session ended or the server is closing
	holdDisplaced                // a newer connect of the session displaced it
	holdGone                     // the client went away
	holdPark                     // it was held long enough to be parked
)

// httpHold is a /meta/connect held on an HTTP request.
type httpHold struct {
	s       *Server
	pc      *pendingConnect
	browser string // the browser whose place it holds (MaxSessionsPerBrowser), if any
	timer   *time.Timer
	until   time.Time // when the hold time ends
	// parkAt, when set, is when the connect is to be parked by park (the
	// timer fires then first).
	parkAt time.Time
	park   *parkInfo
}

// holdHTTP starts holding pc in h. It reports false when pc is to be
// answered at once: something is queued, the session or the server is
// ending, or its browser holds as many long polls as it may (pc.multi is
// set then).
func (s *Server) holdHTTP(h *httpHold, r *http.Request, o *origin, pc *pendingConnect) bool {
	sess := pc.sess
	if pc.hold <= 0 || sess.hasUrgent() || sess.isRemoved() || s.isClosing() {
		return false
	}
	h.s, h.pc = s, pc
	// HTTP/1.x browsers have few connections per host: one held long poll
	// per browser, the others poll (CometD's maxSessionsPerBrowser). HTTP/2
	// multiplexes, so it has no such limit.
	if r.ProtoMajor < 2 {
		if !s.browsers.acquire(o.browserID, s.opts.MaxSessionsPerBrowser) {
			pc.multi = true
			return false
		}
		h.browser = o.browserID
	}
	sess.mu.Lock()
	sess.holds++
	sess.mu.Unlock()
	now := time.Now()
	h.until = now.Add(pc.hold)
	first := pc.hold
	if pi := parkerOf(r); pi != nil && pi.l.after < pc.hold {
		h.park, h.parkAt, first = pi, now.Add(pi.l.after), pi.l.after
	}
	h.timer = time.NewTimer(first)
	return true
}

// wait waits until the connect should be answered, its client went away
// (gone, which may be nil, is closed), or it is time to park it.
func (h *httpHold) wait(gone <-chan struct{}) holdEnd {
	sess := h.pc.sess
	for {
		select {
		case <-sess.wake:
			if h.pc.displaced() {
				sess.signal() // pass the wake-up on to the newer connect
				return holdDisplaced
			}
			if sess.hasUrgent() || sess.isRemoved() {
				return holdAnswer
			}
		case <-h.timer.C:
			if !h.parkAt.IsZero() {
				return holdPark
			}
			return holdAnswer
		case <-sess.gone:
			return holdAnswer
		case <-h.s.closing:
			return holdAnswer
		case <-gone:
			return holdGone
		}
	}
}

// end releases what the hold took: the browser's place, the session's
// count of held connects (its expiry runs from now), the timer.
func (h *httpHold) end() {
	h.timer.Stop()
	sess := h.pc.sess
	sess.mu.Lock()
	sess.holds--
	sess.expires = time.Now().Add(h.s.opts.Interval + h.s.opts.MaxInterval)
	sess.mu.Unlock()
	if h.browser != "" {
		h.s.browsers.release(h.browser, h.s.opts.MaxSessionsPerBrowser)
	}
}
