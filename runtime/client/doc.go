// Package client is a Bayeux (CometD protocol) client for Go. It speaks to
// any Bayeux 1.0 server — cometgen's runtime, CometD, Faye — over the
// "websocket" or "long-polling" transport.
//
//	c := client.New("http://127.0.0.1:8080/cometd")
//	if err := c.Handshake(ctx); err != nil { … }
//	defer c.Disconnect(context.Background())
//	sub, err := c.Subscribe(ctx, "/chat/*", func(m *bayeux.Message) { … })
//	err = c.Publish(ctx, "/chat/lobby", map[string]string{"text": "hi"})
//
// # Session life cycle
//
// Handshake starts a session and a background connect loop that holds one
// /meta/connect at a time and follows the server's advice: "retry" after the
// advised interval (plus a backoff that grows by 1s per failure up to 60s,
// see WithBackoff, each wait drawn between half and one and a half times
// it, so that clients that lost their server together do not all come back
// in the same moment), "handshake" to get a new session, "none" to stop. When
// the server forgets the session (a 402 error or "handshake" advice), the
// Client handshakes again and re-subscribes every local subscription on its
// own, in one batch: an application does not lose its subscriptions. State
// and WithStateHandler show where the Client is. WithAck asks for the ack
// extension, with which the server sends again what a lost connection did
// not deliver.
//
// # Transports
//
// "websocket" keeps one connection, dialled at the server URL with the ws or
// wss scheme; every request is a text frame holding a JSON array, replies are
// correlated by message id, and the held /meta/connect is just one more
// message. A lost connection fails its pending requests and is dialled again
// by the next request. "long-polling" POSTs each batch to the server URL
// (with /handshake, /connect or /disconnect appended for those meta
// messages, as the CometD JavaScript client does) and keeps the server's
// cookies in a cookie jar of its own. Like that client it has at most two
// requests in flight: the held connect and one other; messages sent
// meanwhile queue and go out together in the next request, so a session's
// publishes reach the server in order. Its requests go through net/http (see
// WithHTTPClient), or, with WithDirectHTTP, through a minimal HTTP/1.1 client
// of the package's own that costs less CPU per request, for processes that
// hold many sessions (plain http:// only).
//
// # Concurrency contract
//
// A Client is safe for concurrent use by any number of goroutines. Methods
// that may block take a context.Context first.
//
//   - Subscription handlers run on one dispatcher goroutine per session, one
//     event at a time, in the order the events arrived. A handler may call the
//     Client, even Publish and wait for its reply, but while it runs no other
//     event is dispatched: handlers must not block for long. Events that
//     arrive faster than the handlers consume them are queued without bound.
//     WithInlineDispatch runs them on the receiving goroutine instead, still
//     one at a time; such handlers must not wait for the Client.
//   - The callback of PublishAsync runs on the transport's reading goroutine
//     (websocket), on the request-sending goroutine (long-polling), on a timer's
//     goroutine (no reply in time), or on the caller's goroutine when the
//     send fails at once. It must return quickly and must not block on the
//     Client.
//   - The state handler (WithStateHandler) runs on the goroutine that changed
//     the state and must return quickly.
//
// Messages given to handlers are never modified by the Client afterwards, so
// a handler may keep them; messages of one frame share one buffer.
//
// # Errors
//
// A reply with successful:false is returned as a *bayeux.Error; Publish
// returns it unwrapped, the other methods wrap it with context (use
// errors.As). Requests without a session fail with ErrNotConnected, and
// requests the server does not answer in time fail with ErrNoReply.
package client
