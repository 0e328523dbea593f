package runtime

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// encodeEvent returns the wire form of a broadcast event: channel, data and
// ext, without the publisher's id or clientId. It is encoded once and the
// same bytes are shared by every delivery.
func encodeEvent(channel string, data json.RawMessage, ext map[string]any) []byte {
	b := make([]byte, 0, len(channel)+len(data)+32)
	b = append(b, `{"channel":`...)
	b = appendString(b, channel)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	if len(ext) > 0 {
		if e, err := json.Marshal(ext); err == nil {
			b = append(b, `,"ext":`...)
			b = append(b, e...)
		}
	}
	return append(b, '}')
}

// encodeReply returns the wire form of a short reply: channel, id,
// successful and, on failure, error. It is the publish reply, sent at the
// publish rate, so it avoids reflection.
func encodeReply(channel string, id bayeux.ID, err *bayeux.Error) []byte {
	b := make([]byte, 0, 64+len(channel))
	b = append(b, `{"channel":`...)
	b = appendString(b, channel)
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, string(id))
	}
	if err == nil {
		return append(b, `,"successful":true}`...)
	}
	b = append(b, `,"successful":false,"error":`...)
	b = appendString(b, err.Error())
	return append(b, '}')
}

// encodeMessage returns the JSON of any message the server sends.
func encodeMessage(m *bayeux.Message) []byte {
	return appendMessage(make([]byte, 0, 96+len(m.Channel)+len(m.Data)), m)
}

// appendMessage appends the JSON of m without reflection (except for ext,
// whose values are the application's).
func appendMessage(b []byte, m *bayeux.Message) []byte {
	b = append(b, `{"channel":`...)
	b = appendString(b, m.Channel)
	if m.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, string(m.ID))
	}
	if m.ClientID != "" {
		b = append(b, `,"clientId":`...)
		b = appendString(b, m.ClientID)
	}
	if m.Successful != nil {
		if *m.Successful {
			b = append(b, `,"successful":true`...)
		} else {
			b = append(b, `,"successful":false`...)
		}
	}
	if m.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, m.Error)
	}
	if len(m.Subscription) > 0 {
		b = append(b, `,"subscription":`...)
		b = append(b, m.Subscription...)
	}
	if a := m.Advice; a != nil {
		b = appendAdvice(b, a)
	}
	if m.Data != nil {
		b = append(b, `,"data":`...)
		b = append(b, m.Data...)
	}
	if len(m.Ext) > 0 {
		if e, err := json.Marshal(m.Ext); err == nil {
			b = append(b, `,"ext":`...)
			b = append(b, e...)
		}
	}
	if m.Version != "" {
		b = append(b, `,"version":`...)
		b = appendString(b, m.Version)
	}
	if m.MinimumVersion != "" {
		b = append(b, `,"minimumVersion":`...)
		b = appendString(b, m.MinimumVersion)
	}
	if m.SupportedConnectionTypes != nil {
		b = append(b, `,"supportedConnectionTypes":[`...)
		for i, t := range m.SupportedConnectionTypes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	if m.ConnectionType != "" {
		b = append(b, `,"connectionType":`...)
		b = appendString(b, m.ConnectionType)
	}
	if m.Timestamp != "" {
		b = append(b, `,"timestamp":`...)
		b = appendString(b, m.Timestamp)
	}
	if m.AuthSuccessful != nil {
		b = append(b, `,"authSuccessful":`...)
		b = strconv.AppendBool(b, *m.AuthSuccessful)
	}
	return append(b, '}')
}

func appendAdvice(b []byte, a *bayeux.Advice) []byte {
	b = append(b, `,"advice":{`...)
	n := len(b)
	field := func(name string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if a.Reconnect != "" {
		field("reconnect")
		b = appendString(b, a.Reconnect)
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"interval", a.Interval}, {"timeout", a.Timeout}, {"maxInterval", a.MaxInterval}} {
		if f.v != nil {
			field(f.name)
			b = strconv.AppendInt(b, *f.v, 10)
		}
	}
	if a.MultipleClients {
		field("multiple-clients")
		b = append(b, "true"...)
	}
	if len(a.Hosts) > 0 {
		field("hosts")
		b = append(b, '[')
		for i, h := range a.Hosts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, h)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped so the output is also valid JavaScript (for
// callback-polling).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
