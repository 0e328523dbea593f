package runtime

import (
	"encoding/json"
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

// encodeMessage returns the JSON of a reply that has more fields than
// encodeReply handles.
func encodeMessage(m *bayeux.Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Every field of a reply the server builds is encodable; the only
		// source of an error would be an application-supplied ext value.
		m.Ext = nil
		b, _ = json.Marshal(m)
	}
	return b
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
