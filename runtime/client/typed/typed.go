// Package typed is the run-time part of the typed Go clients that cometgen
// generates (the spec's go: {client: true}, or cometgen generate
// --go-client): channels whose Subscribe, Publish and Call take and give
// the spec's message types, over a runtime/client Client and any of its
// transports.
//
// Generated code builds the channels (NewBroadcast, NewSubscribable,
// NewPublishable, NewWildcard, NewService); applications use them through
// the generated Client's methods:
//
//	c := channels.NewClient(client.New(url, client.WithResume()))
//	if err := c.Handshake(ctx); err != nil { … }
//	sub, err := c.ChatRoom("lobby").Subscribe(ctx, func(ch channels.ChatRoom, msg *channels.ChatMessage) { … })
//	err = c.ChatRoom("lobby").Publish(ctx, &channels.ChatMessage{User: "ann", Text: "hi"})
//	var refused *typed.Refusal
//	if errors.As(err, &refused) && refused.Field() == "/text" { … }
//
// What the typed layer adds to runtime/client: each outgoing message is
// encoded once, checked against its channel's schema (runtime/validate)
// before it is sent unless validation is turned off, and sent as the
// encoded text; each delivery is decoded into the message type and handed
// to the handler with the channel's parameters; a refusal of the server
// becomes a *Refusal that names the failing fields. Subscriptions are the
// runtime client's: it subscribes them again after a new handshake, and,
// created with client.WithResume, asks the node it reaches for what it
// missed.
package typed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/runtime/validate"
)

// DefaultCallTimeout bounds a remote call whose context has no deadline.
const DefaultCallTimeout = 10 * time.Second

// Client is a runtime/client Client with the settings of the typed layer.
// Generated clients embed it, so Handshake, Disconnect, State and the other
// methods of the runtime client are theirs.
type Client struct {
	*client.Client
	validate bool
	onError  func(error)
}

// An Option configures a Client.
type Option func(*Client)

// WithoutValidation sends messages without checking them against their
// schemas first; the server still checks them.
func WithoutValidation() Option {
	return func(c *Client) { c.validate = false }
}

// WithErrorHandler sets the function that receives the errors no call
// returns: a delivery that does not decode into its channel's message type
// (a *DecodeError). It runs on the goroutine that runs the handlers. The
// default logs the error with slog.
func WithErrorHandler(f func(error)) Option {
	return func(c *Client) {
		if f != nil {
			c.onError = f
		}
	}
}

// New returns the typed layer over c. Outgoing messages are validated
// unless WithoutValidation is given.
func New(c *client.Client, opts ...Option) *Client {
	tc := &Client{Client: c, validate: true, onError: func(err error) {
		slog.Warn("typed client: delivery dropped", "err", err)
	}}
	for _, opt := range opts {
		opt(tc)
	}
	return tc
}

// Validates reports whether outgoing messages are checked before they are
// sent.
func (c *Client) Validates() bool { return c.validate }

// Schema is the JSON Schema of what a channel's clients send, compiled on
// first use. It is safe for concurrent use.
type Schema struct {
	doc    string
	once   sync.Once
	schema *validate.Schema
}

// NewSchema returns the schema of the JSON document doc, which must be
// valid (generated code embeds the schemas the spec loader checked); it is
// compiled when a message is first checked against it.
func NewSchema(doc string) *Schema { return &Schema{doc: doc} }

// check returns the violations of data.
func (s *Schema) check(data []byte) []validate.Violation {
	s.once.Do(func() { s.schema = validate.MustCompile(s.doc) })
	return s.schema.ValidateJSON(data)
}

// channel is what every kind of channel holds: its name (or pattern), the
// error of its parameters, and the client.
type channel struct {
	c    *Client
	name string
	err  error // the parameters' check failed: every operation returns it
}

// Name returns the channel's name: the concrete name, or the pattern of a
// wildcard channel.
func (ch channel) Name() string { return ch.name }

// Err returns the error of the channel's parameters, or nil when they
// passed their checks. Every operation on a channel with such an error
// returns it without sending anything.
func (ch channel) Err() error { return ch.err }

// encode returns msg as JSON checked against schema (nil: no check).
func (ch channel) encode(what string, msg any, schema *Schema) (json.RawMessage, error) {
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode: %w", what, ch.name, err)
	}
	if schema != nil && ch.c.validate {
		if vs := schema.check(data); len(vs) > 0 {
			return nil, &ValidationError{Op: what, Channel: ch.name, Violations: vs}
		}
	}
	return data, nil
}

// publish sends msg on name.
func (ch channel) publish(ctx context.Context, name string, msg any, schema *Schema) error {
	if ch.err != nil {
		return ch.err
	}
	data, err := ch.encode("publish", msg, schema)
	if err != nil {
		return err
	}
	return refusal("publish", name, ch.c.Client.Publish(ctx, name, data))
}

// subscribe subscribes to the channel, decoding each delivery into a new M
// and handing it to h with the parameters params returns for its channel.
func subscribe[P, M any](ctx context.Context, ch channel, params func(name string) P, h func(P, *M)) (*Subscription, error) {
	if ch.err != nil {
		return nil, ch.err
	}
	if h == nil {
		return nil, fmt.Errorf("subscribe %s: nil handler", ch.name)
	}
	onError := ch.c.onError
	sub, err := ch.c.Client.Subscribe(ctx, ch.name, func(m *bayeux.Message) {
		msg := new(M)
		if err := json.Unmarshal(m.Data, msg); err != nil {
			onError(&DecodeError{Channel: m.Channel, Data: m.Data, Err: err})
			return
		}
		h(params(m.Channel), msg)
	})
	if err != nil {
		return nil, refusal("subscribe", ch.name, err)
	}
	return &Subscription{c: ch.c.Client, sub: sub}, nil
}

// Subscription is a subscription of a typed channel. It lasts until
// Unsubscribe, across new handshakes.
type Subscription struct {
	c   *client.Client
	sub *client.Subscription
}

// Channel returns the subscribed channel's name or pattern.
func (s *Subscription) Channel() string { return s.sub.Channel() }

// Unsubscribe ends the subscription (see client.Client.Unsubscribe).
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	return s.c.Unsubscribe(ctx, s.sub)
}

// Broadcast is a channel clients both subscribe to and publish on. P is
// its parameters (the generated type of a channel with parameters, else
// its name), M its message type.
type Broadcast[P, M any] struct {
	channel
	params P
	schema *Schema
}

// NewBroadcast returns the broadcast channel name with its parameters and
// their check's error; schema checks what is published (nil: nothing).
func NewBroadcast[P, M any](c *Client, name string, params P, err error, schema *Schema) Broadcast[P, M] {
	return Broadcast[P, M]{channel{c, name, err}, params, schema}
}

// Subscribe subscribes to the channel; h receives every message, decoded,
// with the channel's parameters. It returns once the server agreed; a
// refusal is a *Refusal.
func (b Broadcast[P, M]) Subscribe(ctx context.Context, h func(ch P, msg *M)) (*Subscription, error) {
	return subscribe(ctx, b.channel, func(string) P { return b.params }, h)
}

// Publish sends msg and waits for the server's reply. A message that breaks
// the channel's schema is not sent (a *ValidationError); one the server
// refuses returns a *Refusal.
func (b Broadcast[P, M]) Publish(ctx context.Context, msg *M) error {
	return b.publish(ctx, b.name, msg, b.schema)
}

// Subscribable is a channel clients subscribe to and only the server
// publishes on, or a wildcard channel (P is then the name of each
// message's channel).
type Subscribable[P, M any] struct {
	channel
	params func(name string) P
}

// NewSubscribable returns the channel name with its parameters and their
// check's error.
func NewSubscribable[P, M any](c *Client, name string, params P, err error) Subscribable[P, M] {
	return Subscribable[P, M]{channel{c, name, err}, func(string) P { return params }}
}

// NewSubscribableWildcard returns the wildcard channel pattern, on whose
// channels only the server publishes; handlers get each message's channel.
func NewSubscribableWildcard[M any](c *Client, pattern string) Subscribable[string, M] {
	return Subscribable[string, M]{channel{c: c, name: pattern}, channelName}
}

// Subscribe subscribes to the channel, as Broadcast.Subscribe does.
func (s Subscribable[P, M]) Subscribe(ctx context.Context, h func(ch P, msg *M)) (*Subscription, error) {
	return subscribe(ctx, s.channel, s.params, h)
}

// Publishable is a channel clients publish on and only the server
// subscribes to.
type Publishable[M any] struct {
	channel
	schema *Schema
}

// NewPublishable returns the channel name with its parameters' check's
// error; schema checks what is published (nil: nothing).
func NewPublishable[M any](c *Client, name string, err error, schema *Schema) Publishable[M] {
	return Publishable[M]{channel{c, name, err}, schema}
}

// Publish sends msg, as Broadcast.Publish does.
func (p Publishable[M]) Publish(ctx context.Context, msg *M) error {
	return p.publish(ctx, p.name, msg, p.schema)
}

// Wildcard is a wildcard channel ("/news/*", "/news/**"): clients subscribe
// to it as a whole, and handlers get each message's channel name. Clients
// publish on the channels it matches with PublishOn.
type Wildcard[M any] struct {
	channel
	schema *Schema
}

// NewWildcard returns the wildcard channel pattern; schema checks what is
// published on the channels it matches (nil: nothing).
func NewWildcard[M any](c *Client, pattern string, schema *Schema) Wildcard[M] {
	return Wildcard[M]{channel{c: c, name: pattern}, schema}
}

// Subscribe subscribes to every channel the pattern matches; h receives
// each message with the name of its channel.
func (w Wildcard[M]) Subscribe(ctx context.Context, h func(channel string, msg *M)) (*Subscription, error) {
	return subscribe(ctx, w.channel, channelName, h)
}

// PublishOn sends msg on channel, which the pattern must match, as
// Broadcast.Publish does.
func (w Wildcard[M]) PublishOn(ctx context.Context, channel string, msg *M) error {
	if !bayeux.Match(w.name, channel) || bayeux.IsWild(channel) {
		return fmt.Errorf("publish %s: not a channel of %s", channel, w.name)
	}
	return w.publish(ctx, channel, msg, w.schema)
}

func channelName(name string) string { return name }

// Service is a service channel: remote calls with a request of type Req
// answered by a reply of type Rep.
type Service[Req, Rep any] struct {
	channel
	schema *Schema
}

// NewService returns the service channel name with its parameters' check's
// error; schema checks the requests (nil: nothing).
func NewService[Req, Rep any](c *Client, name string, err error, schema *Schema) Service[Req, Rep] {
	return Service[Req, Rep]{channel{c, name, err}, schema}
}

// Call sends req and waits for the reply, decoded. ctx bounds the wait;
// without a deadline the call fails after DefaultCallTimeout. A request
// that breaks the schema is not sent (a *ValidationError), one the server
// refuses returns a *Refusal, and a failure of the server's handler a
// *CallError.
func (s Service[Req, Rep]) Call(ctx context.Context, req *Req) (Rep, error) {
	var reply Rep
	if s.err != nil {
		return reply, s.err
	}
	data, err := s.encode("call", req, s.schema)
	if err != nil {
		return reply, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	m, err := s.c.RemoteCall(ctx, s.name, data)
	if errors.Is(err, client.ErrCallFailed) && m != nil {
		return reply, &CallError{Channel: s.name, Data: m.Data}
	}
	if err != nil {
		return reply, refusal("call", s.name, err)
	}
	if err := json.Unmarshal(m.Data, &reply); err != nil {
		return reply, &DecodeError{Channel: s.name, Data: m.Data, Err: err}
	}
	return reply, nil
}

// Refusal is the server's refusal of a publish, a subscription or a call:
// its Bayeux error, and for a message that broke the channel's schema
// (400:…:invalid_message) each violation with the path of its field.
type Refusal struct {
	Op      string // "publish", "subscribe" or "call"
	Channel string
	// Code is the error's code: 400 for a message or channel name the
	// server refused, 403 for a rule that does not allow the operation.
	Code int
	// Reason is the error's last part: "invalid_message",
	// "invalid_channel", "data_rejected", "publish_denied",
	// "subscribe_denied", …
	Reason string
	// Args are the error's arguments as sent: the violations, the
	// rule's name, a filter's reason.
	Args []string
	// Violations are the schema violations of an invalid_message refusal,
	// in the server's words (on the wire ": " became " " and ", " "; ").
	Violations []validate.Violation
	// More counts the violations the server left out ("and N more").
	More int
}

// Error returns "publish /chat/x: refused: 400:/text maxLength got 612; want at most 500:invalid_message".
func (r *Refusal) Error() string {
	return r.Op + " " + r.Channel + ": refused: " + r.Unwrap().Error()
}

// Unwrap returns the Bayeux error the server sent.
func (r *Refusal) Unwrap() error {
	return &bayeux.Error{Code: r.Code, Args: r.Args, Message: r.Reason}
}

// Field returns the JSON pointer of the first field a schema violation
// names ("/text"; "" for the whole message or another refusal).
func (r *Refusal) Field() string {
	if len(r.Violations) == 0 {
		return ""
	}
	return r.Violations[0].Path
}

// refusal turns a *bayeux.Error in err into a *Refusal; other errors are
// returned as they are.
func refusal(op, channel string, err error) error {
	var be *bayeux.Error
	if !errors.As(err, &be) {
		return err
	}
	r := &Refusal{Op: op, Channel: channel, Code: be.Code, Reason: be.Message, Args: be.Args}
	if be.Message == "invalid_message" {
		r.Violations, r.More = ParseViolations(be.Args)
	}
	return r
}

// ParseViolations reads the arguments of an invalid_message error (as
// validate.Error writes them: "path rule", "(root) rule", at most five then
// "and N more") back into violations.
func ParseViolations(args []string) (vs []validate.Violation, more int) {
	for _, a := range args {
		if n, err := fmt.Sscanf(a, "and %d more", &more); err == nil && n == 1 {
			continue
		}
		path, msg, _ := strings.Cut(a, " ")
		switch {
		case path == "(root)":
			path = ""
		case !strings.HasPrefix(path, "/"):
			// Not a violation of the schema: a decoding failure
			// ("data is not a Bid").
			path, msg = "", a
		}
		vs = append(vs, validate.Violation{Path: path, Message: msg})
	}
	return vs, more
}

// ValidationError is an outgoing message that breaks its channel's schema:
// the client did not send it.
type ValidationError struct {
	Op, Channel string
	Violations  []validate.Violation
}

// Error returns "publish /chat/x: invalid message: /text: maxLength: …".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	what := "message"
	if e.Op == "call" {
		what = "request"
	}
	return e.Op + " " + e.Channel + ": invalid " + what + ": " + strings.Join(parts, "; ")
}

// Field returns the JSON pointer of the first violation's field.
func (e *ValidationError) Field() string {
	if len(e.Violations) == 0 {
		return ""
	}
	return e.Violations[0].Path
}

// CallError is a remote call the server's handler failed: Data is what it
// answered (the text of its error, or the data of a runtime.CallError).
type CallError struct {
	Channel string
	Data    json.RawMessage
}

// Error returns "call /service/x failed: <data>".
func (e *CallError) Error() string { return "call " + e.Channel + " failed: " + string(e.Data) }

// DecodeError is a delivery or a reply that does not decode into its
// channel's type: a server of another version of the spec, or a server
// that does not check what it delivers.
type DecodeError struct {
	Channel string
	Data    json.RawMessage
	Err     error
}

// Error returns "/chat/x: cannot decode …".
func (e *DecodeError) Error() string { return e.Channel + ": cannot decode: " + e.Err.Error() }

// Unwrap returns the decoding error.
func (e *DecodeError) Unwrap() error { return e.Err }
