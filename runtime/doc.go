// Package runtime is a Bayeux 1.0 server, wire-compatible with the CometD
// JavaScript client (npm cometd) and other Bayeux clients such as Faye's,
// over websocket, long-polling and callback-polling (JSONP).
//
// A [Server] is an [net/http.Handler]; mount it at one path:
//
//	srv := runtime.New(runtime.Options{})
//	http.Handle("/cometd", srv)
//	http.Handle("/cometd/", srv)
//
// # Protocol
//
// The server answers /meta/handshake, /meta/connect, /meta/disconnect,
// /meta/subscribe and /meta/unsubscribe, and replies to every publish. Its
// errors use CometD's "code:args:message" strings (402::session_unknown,
// 403:denied_by_security_policy:subscribe_denied, 405::channel_invalid …),
// and its advice follows CometD: reconnect "handshake" is only ever sent on
// an unsuccessful reply. Channels are broadcast (fanned out to subscribers,
// including "*" and "**" wildcard subscribers, each subscriber receiving a
// message at most once), service (/service/…: never broadcast; subscribing
// succeeds and does nothing) or meta (/meta/…: remote clients can neither
// subscribe to them nor publish on them).
//
// # Delivery
//
// Every session has one bounded, ordered queue. A published message is
// encoded once and the same bytes are queued for every subscriber. Whatever
// is queued when a connection can write goes out in one HTTP response or one
// websocket frame. Over HTTP, queued messages travel only on /meta/connect
// replies, so a client sees them in queue order; over websocket they are
// written as soon as they are queued.
//
// # Clustering
//
// With Options.Broker, several Servers act as one: broadcasts reach the
// subscribers of every node exactly once, in each publisher's order;
// Server.DeliverToUser reaches a user's sessions on every node;
// Server.OnUserPresence tells when users come and go anywhere in the
// cluster. Service channels, node-local channels (Channel.SetNodeLocal) and
// private deliveries stay on their node. A node that loses its broker is
// unhealthy (Server.Healthy): it removes its sessions, so that their clients
// handshake again on another node. runtime/natsbroker implements Broker on
// NATS; MemoryCluster links Servers of one process.
//
// # Concurrency
//
// All methods of Server are safe for concurrent use. Each websocket
// connection has one reader and one writer goroutine; each long poll is
// served on its request's goroutine. Publishing never takes a lock shared by
// all channels: channels are found in a concurrent map and their subscriber
// lists are read from snapshots that writers replace.
package runtime
