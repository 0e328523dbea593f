package runtime

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a Server. The zero value of every field selects the
// documented default, so Options{} is a complete, safe configuration.
type Options struct {
	// Timeout is how long a /meta/connect is held when nothing is queued for
	// the session. Default 20s (CometD 8's default).
	Timeout time.Duration
	// Interval is the pause the server advises between the end of one
	// /meta/connect and the next. Default 0: reconnect at once. A longer
	// interval lets messages gather between long polls, trading latency for
	// fewer requests.
	Interval time.Duration
	// MaxInterval is how long a session lives after a /meta/connect reply
	// without a new /meta/connect; the session expires at
	// Interval+MaxInterval after the reply. Default 10s.
	MaxInterval time.Duration

	// MaxMessageSize is the largest HTTP request body or websocket message a
	// client may send, in bytes. Default 1 MiB. Larger requests are refused
	// (HTTP 413, or websocket close 1009) and the server keeps serving.
	MaxMessageSize int64
	// MaxQueue is how many messages may wait for delivery to one session.
	// Default 10,000. A session whose queue is full is a slow consumer: it is
	// disconnected, and its client is told to handshake again, so it learns
	// that it missed messages instead of silently losing them.
	MaxQueue int
	// MaxSessions caps the sessions alive at once. Default 100,000. A
	// handshake beyond it fails with 503::too_many_sessions and retry advice.
	MaxSessions int
	// MaxMessagesPerRequest caps the messages of one request body (long-
	// polling, callback-polling) or websocket message. Default 1,000; the
	// CometD clients send a handful per request. A request with more is
	// refused before any of it is processed: HTTP 413, or websocket close
	// 1009, with the error 413::too_many_messages.
	MaxMessagesPerRequest int
	// MaxSubscriptionsPerSession caps the channels one session may be
	// subscribed to at once. Default 1,000. A /meta/subscribe beyond it
	// fails with 403::too_many_subscriptions (the subscriptions it did
	// make before the cap stay).
	MaxSubscriptionsPerSession int
	// MaxChannels caps the channels the server holds at once (those with
	// subscribers, and those the application created or configured).
	// Default 100,000. A client's subscribe that would create a channel
	// beyond it fails with 503::too_many_channels; the application's own
	// Server.CreateChannel is not capped.
	MaxChannels int
	// MaxSessionsPerClient caps the sessions of one client address (see
	// ClientAddress) alive at once, so one client cannot take all of
	// MaxSessions. Default 1,000; negative: no cap. A handshake beyond it
	// fails with 503::too_many_sessions_per_client and retry advice.
	MaxSessionsPerClient int
	// ClientAddress returns the address a request is counted under for
	// MaxSessionsPerClient; "" is not counted. Default: RemoteIP, the IP
	// address of the connection's peer (for IPv6, its /64 network), except
	// that loopback, private and link-local peers are not counted: they
	// are a reverse proxy or load balancer in front of the server, whose
	// address every client would share. Behind a trusted reverse proxy,
	// use ForwardedClientIP with the header the proxy sets; never trust
	// such a header from the internet.
	ClientAddress func(r *http.Request) string

	// Transports lists the allowed connection types, in the server's order of
	// preference. Default: websocket, long-polling, callback-polling.
	Transports []string

	// MaxSessionsPerBrowser is how many held long polls one browser (one
	// BAYEUX_BROWSER cookie) may have at once over HTTP/1.x before further
	// sessions are told to poll ("multiple-clients" advice). Default 1, as in
	// CometD; a negative value means unlimited.
	MaxSessionsPerBrowser int
	// MultiSessionInterval is the polling interval advised to the extra
	// sessions of one browser. Default 2s. A negative value refuses extra
	// sessions instead: their connect fails with reconnect "none".
	MultiSessionInterval time.Duration
	// BrowserCookieName names the cookie that identifies a browser. Default
	// "BAYEUX_BROWSER". The cookie is HttpOnly and SameSite=Lax, and Secure
	// when the handshake came over TLS.
	BrowserCookieName string
	// BrowserCookieSecure marks the browser cookie Secure on every request,
	// for a server behind a reverse proxy that terminates TLS (the server
	// itself then sees plain HTTP). Default false: Secure over TLS only.
	BrowserCookieSecure bool

	// AllowedOrigins lists the origins (scheme://host[:port]) whose pages may
	// use this server cross-origin, with credentials, over long-polling and
	// websocket. "*" allows every origin. Default: none, which means
	// same-origin pages and non-browser clients only.
	AllowedOrigins []string

	// DuplicateConnectStatus is the HTTP status of a held long-poll
	// /meta/connect that a newer /meta/connect of the same session displaces.
	// Default 500, as in CometD.
	DuplicateConnectStatus int
	// JSONPCallbackMaxLength bounds the name of a callback-polling callback.
	// Default 64.
	JSONPCallbackMaxLength int
	// WriteTimeout bounds each websocket write. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each websocket. Default
	// 30s. A websocket from which nothing (a message, a pong) arrives for
	// PingInterval+PingTimeout is closed: a CometD client's websocket is
	// legitimately quiet while its /meta/connect is held, and its pongs keep
	// it open.
	PingInterval time.Duration
	// PingTimeout is how long past PingInterval the server waits for a
	// websocket's next frame. Default 15s.
	PingTimeout time.Duration
	// BodyReadTimeout bounds the reading of a long-polling request's body,
	// from the moment its handler starts: a client that sends a body slowly
	// is cut off (http.ResponseController sets the connection's read
	// deadline, and clears it once the body is read, so a held
	// /meta/connect is not cut off). Default 10s. The http.Server's own
	// ReadTimeout must stay 0 (it would end held long polls); its
	// ReadHeaderTimeout bounds the headers.
	BodyReadTimeout time.Duration
	// SweepPeriod is how often expired sessions are removed. Default 1s.
	SweepPeriod time.Duration

	// HookTimeout bounds the context given to application hooks (security
	// policy, authorizers, listeners, filters, extensions) while they
	// process one request. Default 5s.
	HookTimeout time.Duration
	// MaxLazyTimeout is the longest a lazy message waits before it is
	// delivered. Default 5s (CometD's maxLazyTimeout).
	MaxLazyTimeout time.Duration
	// OnQueueFull decides what happens to a message that finds a session's
	// queue full (MaxQueue): QueueFullDisconnect (the default, also when
	// OnQueueFull is nil) or QueueFullDrop. ServerSession.OnQueueFull
	// overrides it per session.
	OnQueueFull func(*ServerSession) QueueFullAction

	// DisableAck turns the ack extension off: clients that ask for it at
	// handshake are not granted it. By default it is granted, which gives
	// those clients ordered delivery with nothing lost or duplicated across
	// reconnects.
	DisableAck bool

	// Broker links this server to others as one cluster (see Broker):
	// runtime/natsbroker for NATS, MemoryCluster within one process. Default
	// nil: a single node, whose fan-out pays nothing for clustering.
	Broker Broker

	// MaxReplay bounds how many messages the resuming subscribes of one
	// batch may replay from a HistoryBroker's history (the resume
	// extension); so does the room left in the session's queue, less a
	// tenth of MaxQueue. A client that missed more is told that its resume
	// is incomplete. Default 10,000.
	MaxReplay int

	// ReplayBuffer is how many of the newest broadcasts a node with a
	// HistoryBroker keeps in memory, to replay them to resuming clients
	// without asking the broker. Default 4,096; negative: none.
	ReplayBuffer int

	// Logger receives the server's logs. Default: slog.Default(). A
	// refused handshake and a refusal by a contract's rule are logged at
	// Info (Warn for a limit), a slow consumer's disconnection at Warn,
	// each as one record with the session, user, channel (its template)
	// and reason as attributes; the other refusals at Debug.
	Logger *slog.Logger

	// Metrics registers the server's Prometheus metrics (cometgen_…; see
	// docs/observability.md) on a registry of the application's, such as
	// prometheus.DefaultRegisterer; its handler (promhttp) serves them.
	// Channels are labelled by the contract's template that owns them,
	// never by concrete name, so the series are bounded by the contract.
	// Default nil: no metrics, and nothing is spent on them. Two servers
	// on one registry need prometheus.WrapRegistererWith to tell them
	// apart.
	Metrics prometheus.Registerer
}

// Defaults of Options.
const (
	DefaultTimeout                = 20 * time.Second
	DefaultMaxInterval            = 10 * time.Second
	DefaultMaxMessageSize         = 1 << 20
	DefaultMaxQueue               = 10_000
	DefaultMaxSessions            = 100_000
	DefaultMaxMessagesPerRequest  = 1000
	DefaultMaxSubscriptions       = 1000
	DefaultMaxChannels            = 100_000
	DefaultMaxSessionsPerClient   = 1000
	DefaultMaxSessionsPerBrowser  = 1
	DefaultMultiSessionInterval   = 2 * time.Second
	DefaultBrowserCookieName      = "BAYEUX_BROWSER"
	DefaultDuplicateConnectStatus = http.StatusInternalServerError
	DefaultJSONPCallbackMaxLength = 64
	DefaultWriteTimeout           = 10 * time.Second
	DefaultPingInterval           = 30 * time.Second
	DefaultPingTimeout            = 15 * time.Second
	DefaultBodyReadTimeout        = 10 * time.Second
	DefaultSweepPeriod            = time.Second
	DefaultHookTimeout            = 5 * time.Second
	DefaultMaxLazyTimeout         = 5 * time.Second
	DefaultMaxReplay              = 10_000
	DefaultReplayBuffer           = 4096
)

// positive sets *p to def unless it is positive.
func positive[T int | int64](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}

// withDefaults returns a copy of o with every zero field set to its default.
func (o Options) withDefaults() Options {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&o.Timeout, DefaultTimeout)
	set(&o.MaxInterval, DefaultMaxInterval)
	set(&o.MultiSessionInterval, DefaultMultiSessionInterval)
	set(&o.WriteTimeout, DefaultWriteTimeout)
	set(&o.PingInterval, DefaultPingInterval)
	set(&o.PingTimeout, DefaultPingTimeout)
	set(&o.BodyReadTimeout, DefaultBodyReadTimeout)
	set(&o.SweepPeriod, DefaultSweepPeriod)
	set(&o.HookTimeout, DefaultHookTimeout)
	set(&o.MaxLazyTimeout, DefaultMaxLazyTimeout)
	if o.Interval < 0 {
		o.Interval = 0
	}
	positive(&o.MaxMessageSize, DefaultMaxMessageSize)
	positive(&o.MaxQueue, DefaultMaxQueue)
	positive(&o.MaxSessions, DefaultMaxSessions)
	positive(&o.MaxMessagesPerRequest, DefaultMaxMessagesPerRequest)
	positive(&o.MaxSubscriptionsPerSession, DefaultMaxSubscriptions)
	positive(&o.MaxChannels, DefaultMaxChannels)
	positive(&o.MaxReplay, DefaultMaxReplay)
	positive(&o.JSONPCallbackMaxLength, DefaultJSONPCallbackMaxLength)
	if o.MaxSessionsPerClient == 0 {
		o.MaxSessionsPerClient = DefaultMaxSessionsPerClient
	}
	if o.ClientAddress == nil {
		o.ClientAddress = publicRemoteIP
	}
	switch {
	case o.ReplayBuffer == 0:
		o.ReplayBuffer = DefaultReplayBuffer
	case o.ReplayBuffer < 0:
		o.ReplayBuffer = 0
	}
	if o.MaxSessionsPerBrowser == 0 {
		o.MaxSessionsPerBrowser = DefaultMaxSessionsPerBrowser
	}
	if o.BrowserCookieName == "" {
		o.BrowserCookieName = DefaultBrowserCookieName
	}
	if o.DuplicateConnectStatus == 0 {
		o.DuplicateConnectStatus = DefaultDuplicateConnectStatus
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling, bayeux.TransportCallbackPolling}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
