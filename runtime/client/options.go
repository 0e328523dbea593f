package client

import (
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// Defaults of the options.
const (
	// DefaultBackoffIncrement is added to the reconnect delay after each
	// failed attempt, as the CometD clients do.
	DefaultBackoffIncrement = time.Second
	// DefaultMaxBackoff caps the reconnect delay.
	DefaultMaxBackoff = 60 * time.Second
	// DefaultMaxNetworkDelay is how long a reply may take beyond the time the
	// server is allowed to hold it (CometD's maxNetworkDelay).
	DefaultMaxNetworkDelay = 10 * time.Second
	// DefaultConnectTimeout is the hold time assumed for /meta/connect until
	// the server advises one.
	DefaultConnectTimeout = 60 * time.Second
	// DefaultMaxFrameSize bounds a received websocket frame or HTTP response.
	DefaultMaxFrameSize = 64 << 20
)

// An Option configures a Client; pass options to New.
type Option func(*options)

type options struct {
	transport       string
	httpClient      *http.Client
	direct          bool
	directDial      DialFunc
	dialer          *websocket.Dialer
	header          http.Header
	logger          *slog.Logger
	handshakeExt    map[string]any
	contract        map[string]any
	onContract      func(ContractChange)
	backoffInc      time.Duration
	maxBackoff      time.Duration
	maxNetworkDelay time.Duration
	maxFrameSize    int64
	onState         func(State, error)
	inlineDispatch  bool
	ack             bool
	resume          bool
}

func defaultOptions() options {
	return options{
		transport:       bayeux.TransportWebSocket,
		logger:          slog.New(slog.DiscardHandler),
		backoffInc:      DefaultBackoffIncrement,
		maxBackoff:      DefaultMaxBackoff,
		maxNetworkDelay: DefaultMaxNetworkDelay,
		maxFrameSize:    DefaultMaxFrameSize,
	}
}

// WithTransport selects the transport: bayeux.TransportWebSocket
// ("websocket", the default) or bayeux.TransportLongPolling ("long-polling").
// New panics on any other name; use ValidTransport to check user input.
func WithTransport(name string) Option {
	return func(o *options) { o.transport = name }
}

// ValidTransport reports whether name is a transport this package speaks.
func ValidTransport(name string) bool {
	return name == bayeux.TransportWebSocket || name == bayeux.TransportLongPolling
}

// WithHTTPClient sets the HTTP client of the long-polling transport. Several
// Clients may share one HTTP client, and so one connection pool: when its Jar
// is nil, each Client uses a shallow copy of it with a cookie jar of its own,
// because a Bayeux server binds a long-polling session to its cookies.
//
// Give the client's Transport enough idle connections per host for one held
// /meta/connect plus the other requests of every Client sharing it. The HTTP
// client's own Timeout, if set, must exceed the server's connect timeout plus
// the network delay; leave it zero, since each request has its own deadline.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithDirectHTTP makes the long-polling transport speak HTTP/1.1 itself,
// over connections opened with dial (nil: a net.Dialer), instead of through
// an http.Client. Each request is written and its response read on the
// goroutine that makes it, on one of at most two kept-alive connections of
// the Client, which saves the per-connection goroutines and hand-offs of
// net/http: it is meant for clients that hold many sessions, such as load
// generators.
//
// It supports plain http:// URLs only, with no proxy and no HTTP/2; use the
// default transport (or WithHTTPClient) for https and proxies. Content-Length
// and chunked responses, keep-alive and cookies (in a jar of the Client's
// own) behave as with net/http, and a request that fails on a kept-alive
// connection the server closed is sent again once on a new one. It replaces
// WithHTTPClient and has no effect on the websocket transport.
func WithDirectHTTP(dial DialFunc) Option {
	return func(o *options) { o.direct, o.directDial = true, dial }
}

// WithDialer sets the websocket dialer (default: websocket.DefaultDialer).
func WithDialer(d *websocket.Dialer) Option {
	return func(o *options) { o.dialer = d }
}

// WithHeader adds HTTP header fields to the websocket upgrade request and to
// every long-polling request.
func WithHeader(h http.Header) Option {
	return func(o *options) { o.header = h.Clone() }
}

// WithLogger sets the logger for connection events and dropped messages
// (default: no logging).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithHandshakeExt sets the ext field of every /meta/handshake, for example
// credentials checked by the server's security policy. It is sent again on
// every re-handshake.
func WithHandshakeExt(ext map[string]any) Option {
	return func(o *options) { o.handshakeExt = ext }
}

// WithContract sends, in every handshake's ext.contract, the contract the
// client was generated from: the ContractExt of the print the generated
// package declares (channels.ContractPrint().ContractExt()). A server
// whose own contract has changed in a way that breaks this client says so
// in its reply; onChanged (nil: none) is then called, on a goroutine of
// its own, at each such handshake, and Client.ContractChanged reports it.
// A compatible change is not reported.
func WithContract(contract map[string]any, onChanged func(ContractChange)) Option {
	return func(o *options) { o.contract, o.onContract = contract, onChanged }
}

// ContractChange is a server's word that its contract has changed in a way
// that breaks the client (see WithContract).
type ContractChange struct {
	// Breaking are the channels, as the client's spec writes them, that
	// break.
	Breaking []string
	// Spec and Hash are the name of the server's spec and the hash of its
	// contract.
	Spec, Hash string
}

// WithAck asks the server for the ack extension at every handshake (as the
// CometD JavaScript client's AckExtension does): when the server grants it,
// messages arrive only with /meta/connect replies, each reply carries a
// batch number, and the next /meta/connect acknowledges it; the server
// sends an unacknowledged batch again, so a lost connection loses none of
// the session's messages. Client.AckGranted reports whether the server
// agreed.
func WithAck() Option {
	return func(o *options) { o.ack = true }
}

// WithResume asks the server for the resume extension at every handshake.
// It is granted by servers clustered with a broker that keeps a history
// (runtime.HistoryBroker): their broadcasts carry their position in the
// cluster's order, and when the client loses its session (its node died,
// say) it handshakes again, on whichever node it reaches, and subscribes
// again, in one batch, asking for what came after the last position it
// received; the node replays that before anything newer. Handlers see
// every message once, in order. When the history no longer holds all of
// it, the client logs it and Client.ResumeGaps counts it.
// Client.ResumeGranted reports whether the server agreed.
func WithResume() Option {
	return func(o *options) { o.resume = true }
}

// WithBackoff sets the reconnect backoff: the delay grows by increment after
// each failed connect or handshake, up to max, and resets on success.
// Non-positive values keep the defaults (1s and 60s).
func WithBackoff(increment, max time.Duration) Option {
	return func(o *options) {
		if increment > 0 {
			o.backoffInc = increment
		}
		if max > 0 {
			o.maxBackoff = max
		}
	}
}

// WithMaxNetworkDelay sets how long a reply may take, on top of the time the
// server may hold a /meta/connect, before the request fails (default 10s).
func WithMaxNetworkDelay(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.maxNetworkDelay = d
		}
	}
}

// WithMaxFrameSize bounds the size of a received websocket frame or
// long-polling response body (default 64 MiB).
func WithMaxFrameSize(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxFrameSize = n
		}
	}
}

// WithInlineDispatch runs subscription handlers on the goroutine that
// received the events (the long-polling request's, or the websocket
// reader) instead of on a dispatcher goroutine of the session's: this saves
// a goroutine hand-off per response, which counts when one process holds
// many sessions. Handlers still run one at a time, in the order of each
// response, and not after the session ended; but while one runs, the
// transport waits: a handler must return quickly and must not wait for the
// Client (no Publish, Subscribe, Disconnect; PublishAsync is fine).
func WithInlineDispatch() Option {
	return func(o *options) { o.inlineDispatch = true }
}

// WithStateHandler registers a function called on every change of State,
// with the error that caused it (nil for a requested change). It runs on the
// goroutine that changed the state, after the change; it must return quickly
// and must not call methods of the Client that wait for a session.
func WithStateHandler(f func(State, error)) Option {
	return func(o *options) { o.onState = f }
}

// httpClientFor returns the HTTP client a Client uses for long-polling.
func httpClientFor(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{Transport: defaultHTTPTransport}
	}
	if hc.Jar != nil {
		return hc
	}
	jar, _ := cookiejar.New(nil) // never fails with nil options
	cp := *hc
	cp.Jar = jar
	return &cp
}

// defaultHTTPTransport is shared by Clients that were given no HTTP client.
var defaultHTTPTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ForceAttemptHTTP2 = false
	return t
}()
