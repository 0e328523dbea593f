package bayeux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Well-known meta channels.
const (
	MetaHandshake   = "/meta/handshake"
	MetaConnect     = "/meta/connect"
	MetaDisconnect  = "/meta/disconnect"
	MetaSubscribe   = "/meta/subscribe"
	MetaUnsubscribe = "/meta/unsubscribe"
)

// Connection types (transport names) negotiated at handshake.
const (
	TransportWebSocket       = "websocket"
	TransportLongPolling     = "long-polling"
	TransportCallbackPolling = "callback-polling"
)

// Values of Advice.Reconnect.
const (
	ReconnectRetry     = "retry"
	ReconnectHandshake = "handshake"
	ReconnectNone      = "none"
)

// Version is the protocol version this package speaks.
const Version = "1.0"

// Message is one Bayeux message: a request from a client, a reply from the
// server, or an event delivered to a subscriber. Fields that the protocol
// carries verbatim (data, subscription) stay raw JSON, so they are neither
// re-encoded nor changed on their way through a server.
type Message struct {
	Channel                  string          `json:"channel"`
	ID                       ID              `json:"id,omitempty"`
	ClientID                 string          `json:"clientId,omitempty"`
	Data                     json.RawMessage `json:"data,omitempty"`
	Ext                      map[string]any  `json:"ext,omitempty"`
	Advice                   *Advice         `json:"advice,omitempty"`
	Successful               *bool           `json:"successful,omitempty"`
	Error                    string          `json:"error,omitempty"`
	Subscription             json.RawMessage `json:"subscription,omitempty"`
	Version                  string          `json:"version,omitempty"`
	MinimumVersion           string          `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	ConnectionType           string          `json:"connectionType,omitempty"`
	Timestamp                string          `json:"timestamp,omitempty"`
	AuthSuccessful           *bool           `json:"authSuccessful,omitempty"`
}

// IsSuccessful reports whether the message is a reply with successful:true.
func (m *Message) IsSuccessful() bool { return m.Successful != nil && *m.Successful }

// IsReply reports whether the message carries a successful field, which makes
// it a reply rather than an event.
func (m *Message) IsReply() bool { return m.Successful != nil }

// Subscriptions returns the channel names of a subscribe or unsubscribe
// message, whose subscription field may be a string or an array of strings.
func (m *Message) Subscriptions() ([]string, error) {
	raw := bytes.TrimSpace(m.Subscription)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("subscription: %w", err)
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("subscription: want a channel name or an array of channel names")
	}
	return list, nil
}

// Bool returns a pointer to v, for the optional boolean fields of Message.
func Bool(v bool) *bool { return &v }

// Int returns a pointer to v, for the optional numeric fields of Advice.
func Int(v int64) *int64 { return &v }

// ID is a message id. Clients send it as a string (the CometD and Faye clients
// do), but a number is accepted too and kept as its decimal text.
type ID string

// UnmarshalJSON accepts a JSON string or number.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("id: want a string or a number")
	}
	*id = ID(n.String())
	return nil
}

// Advice tells a client how to reconnect. Numeric fields are in
// milliseconds; nil means absent.
type Advice struct {
	Reconnect       string   `json:"reconnect,omitempty"`
	Interval        *int64   `json:"interval,omitempty"`
	Timeout         *int64   `json:"timeout,omitempty"`
	MaxInterval     *int64   `json:"maxInterval,omitempty"`
	MultipleClients bool     `json:"multiple-clients,omitempty"`
	Hosts           []string `json:"hosts,omitempty"`
}

// Error is a Bayeux error in the wire form "code:args:message", for example
// "402::session_unknown" or "403:denied_by_security_policy:subscribe_denied".
// The codes and messages are the ones CometD emits, because clients key on
// them.
type Error struct {
	Code    int
	Args    []string
	Message string
}

// NewError returns an Error with the given code, message and arguments.
func NewError(code int, message string, args ...string) *Error {
	return &Error{Code: code, Args: args, Message: message}
}

// Error returns the wire form "code:args:message".
func (e *Error) Error() string {
	var b []byte
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, ':')
	for i, a := range e.Args {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	b = append(b, ':')
	b = append(b, e.Message...)
	return string(b)
}

// ParseError parses the wire form of an error. A string that is not in
// "code:args:message" form becomes an Error with code 0 and the whole string
// as its message.
func ParseError(s string) *Error {
	codeText, rest, ok := strings.Cut(s, ":")
	if !ok {
		return &Error{Message: s}
	}
	code, err := strconv.Atoi(codeText)
	if err != nil {
		return &Error{Message: s}
	}
	args, msg, ok := strings.Cut(rest, ":")
	if !ok {
		return &Error{Code: code, Message: rest}
	}
	e := &Error{Code: code, Message: msg}
	if args != "" {
		e.Args = strings.Split(args, ",")
	}
	return e
}

// ErrorArg returns s fit to be an argument of an error's wire form: the
// characters that would break "code:args:message" (':' and ',') become a
// space and ';' (": " and ", " one space and "; "), and line breaks spaces.
func ErrorArg(s string) string {
	if !strings.ContainsAny(s, ":,\n") {
		return s
	}
	return errorArgReplacer.Replace(s)
}

var errorArgReplacer = strings.NewReplacer(": ", " ", ":", " ", ", ", "; ", ",", ";", "\n", " ")

// The errors a server sends, named after CometD's messages.
var (
	ErrChannelMissing      = NewError(400, "channel_missing")
	ErrSessionUnknown      = NewError(402, "session_unknown")
	ErrHandshakeDenied     = NewError(403, "handshake_denied")
	ErrHandshakeFailed     = NewError(403, "handshake_failed")
	ErrSubscriptionMissing = NewError(403, "subscription_missing")
	ErrSubscriptionInvalid = NewError(403, "subscription_invalid")
	ErrMessageDeleted      = NewError(404, "message_deleted")
	ErrChannelInvalid      = NewError(405, "channel_invalid")
	ErrMessageIDInvalid    = NewError(405, "message_id_invalid")
)
