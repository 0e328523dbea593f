// Package loadtest drives a Bayeux server end to end and measures it:
// N subscriber sessions on one channel, publishers sending sequenced,
// timestamped messages, and an account of every delivery (lost, duplicated,
// out of order) with latency percentiles. It speaks plain Bayeux through
// runtime/client, so it can load any Bayeux server: cometgen, CometD, Faye.
//
// Run is what `cometgen bench` calls.
package loadtest

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

// Defaults of Config.
const (
	DefaultURL         = "http://127.0.0.1:8080/cometd"
	DefaultChannel     = "/bench/load"
	DefaultSubscribers = 10
	DefaultPublishers  = 1
	DefaultWindow      = 64
	DefaultDuration    = 10 * time.Second
	DefaultPayloadSize = 64 // the CLI default; a zero Config.PayloadSize means no padding
	DefaultDrain       = 2 * time.Second
	// DefaultSetupConcurrency bounds how many sessions are set up at once.
	DefaultSetupConcurrency = 64
)

// Config describes one load test. The zero value of a field selects its
// default; call Validate (Run does) to fill them in and check the rest.
type Config struct {
	// URL is the server's Bayeux endpoint (http:// or https://).
	URL string `json:"url"`
	// SubscriberURLs, when set, are the endpoints of the subscribers, taken
	// in turn (subscriber i uses SubscriberURLs[i mod len]): the nodes of a
	// cluster, with the publishers on URL. Default: URL.
	SubscriberURLs []string `json:"subscriber_urls,omitempty"`
	// Transport is "websocket" (default) or "long-polling", for every session.
	Transport string `json:"transport"`
	// Subscribers is the number of sessions subscribed to Channel.
	Subscribers int `json:"subscribers"`
	// Publishers is the number of publishing sessions (default 1). They are
	// not subscribed.
	Publishers int `json:"publishers"`
	// Rate is the total publish rate in messages per second, spread evenly
	// over the publishers. 0 publishes as fast as the server acknowledges,
	// limited by Window.
	Rate float64 `json:"rate"`
	// Window is the most unacknowledged publishes one publisher may have
	// outstanding (default 64).
	Window int `json:"window"`
	// Duration is how long to publish (default 10s when Messages is 0).
	Duration time.Duration `json:"duration_ns"`
	// Messages, when positive, stops publishing after that many publishes in
	// total (or at Duration, if that is set and comes first).
	Messages int64 `json:"messages"`
	// PayloadSize is the number of padding bytes in each message's data.
	PayloadSize int `json:"payload_size"`
	// Channel is the channel published and subscribed (default /bench/load).
	Channel string `json:"channel"`
	// Warmup publishes for this long before measuring; what it sends is not
	// counted.
	Warmup time.Duration `json:"warmup_ns"`
	// Drain is how long to wait after publishing for deliveries still in
	// flight (default 2s). The wait ends early once everything arrived.
	Drain time.Duration `json:"drain_ns"`
	// NetHTTP makes long-polling sessions use net/http's client instead of
	// the client's direct HTTP/1.1 connections (client.WithDirectHTTP),
	// which cost less CPU per request and so leave more of the machine to
	// the server under test. https URLs always use net/http.
	NetHTTP bool `json:"net_http"`
	// HeldOnly makes long-polling sessions close a connection of theirs
	// that has been idle for HeldOnlyIdle (net/http's client with that
	// IdleConnTimeout): once set up, a session keeps only the connection of
	// its held /meta/connect, and the server holds no idle connection
	// besides. A real long-polling client keeps a second connection for its
	// other requests (CometD's, through the browser); this measures the
	// held connect alone.
	HeldOnly bool `json:"held_only,omitempty"`
	// SetupConcurrency bounds how many sessions handshake at once (default 64).
	SetupConcurrency int `json:"setup_concurrency"`
	// Logger receives progress and client logs (default: none).
	Logger *slog.Logger `json:"-"`
}

// ValidationError reports a Config field with a bad value.
type ValidationError struct {
	Field string
	Value any
	Err   error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s %v: %v", e.Field, e.Value, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return &ValidationError{"url", c.URL, err}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ValidationError{"url", c.URL, errors.New("want an http:// or https:// URL with a host")}
	}
	for _, s := range c.SubscriberURLs {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &ValidationError{"subscriber url", s, errors.New("want an http:// or https:// URL with a host")}
		}
	}
	if c.Transport == "" {
		c.Transport = bayeux.TransportWebSocket
	}
	if !client.ValidTransport(c.Transport) {
		return &ValidationError{"transport", c.Transport, errors.New("want websocket or long-polling")}
	}
	if c.Channel == "" {
		c.Channel = DefaultChannel
	}
	if !bayeux.ValidChannel(c.Channel) || bayeux.IsWild(c.Channel) || bayeux.KindOf(c.Channel) != bayeux.Broadcast {
		return &ValidationError{"channel", c.Channel, errors.New("want a broadcast channel name without wildcards")}
	}
	checks := []struct {
		field string
		bad   bool
		value any
	}{
		{"subscribers", c.Subscribers < 0, c.Subscribers},
		{"publishers", c.Publishers < 0, c.Publishers},
		{"rate", c.Rate < 0, c.Rate},
		{"window", c.Window < 0, c.Window},
		{"duration", c.Duration < 0, c.Duration},
		{"messages", c.Messages < 0, c.Messages},
		{"payload", c.PayloadSize < 0 || c.PayloadSize > 16<<20, c.PayloadSize},
		{"warmup", c.Warmup < 0, c.Warmup},
		{"drain", c.Drain < 0, c.Drain},
		{"setup concurrency", c.SetupConcurrency < 0, c.SetupConcurrency},
	}
	for _, ch := range checks {
		if ch.bad {
			return &ValidationError{ch.field, ch.value, errors.New("out of range")}
		}
	}
	if c.Subscribers == 0 {
		c.Subscribers = DefaultSubscribers
	}
	if c.Publishers == 0 {
		c.Publishers = DefaultPublishers
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Duration == 0 && c.Messages == 0 {
		c.Duration = DefaultDuration
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.SetupConcurrency == 0 {
		c.SetupConcurrency = DefaultSetupConcurrency
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
