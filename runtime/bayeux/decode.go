package bayeux

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON values the decoder accepts, so a
// hostile frame cannot exhaust the stack.
const maxDepth = 1000

// maxInterned bounds the channel-name cache of one decoder.
const maxInterned = 4096

// errSyntax is wrapped by every decoding error of the JSON grammar.
var errSyntax = errors.New("invalid JSON")

// ErrTooManyMessages is wrapped by the error of Decode for a frame holding
// more messages than Decoder.MaxMessages.
var ErrTooManyMessages = errors.New("too many messages")

// InvalidUTF8Error is the error of Decode for a frame that is valid JSON
// but for strings holding invalid UTF-8. Decode returns the frame's
// messages with it, so that a server can refuse those messages alone and
// process the others; their raw fields still hold the invalid bytes.
// JSON text must be UTF-8 (RFC 8259), and a websocket peer closes the
// connection on a text frame that is not, so such bytes must never be
// passed on.
type InvalidUTF8Error struct {
	// Messages are the indexes, in the slice Decode returned, of the
	// messages holding invalid UTF-8, in increasing order.
	Messages []int
}

func (e *InvalidUTF8Error) Error() string {
	return fmt.Sprintf("decode messages: invalid UTF-8 in %d of the messages (the first: message %d)", len(e.Messages), e.Messages[0])
}

// Decoder turns a frame (a JSON array of Bayeux messages, or a single message
// object) into []Message with few allocations: the raw fields (data,
// subscription) alias the frame, and channel names are interned.
//
// It validates the whole frame against the JSON grammar. A Decoder is not
// safe for concurrent use; each transport connection owns one.
type Decoder struct {
	// MaxMessages, when positive, bounds the messages of one frame: Decode
	// fails with an error wrapping ErrTooManyMessages as soon as it meets
	// the first message beyond it, before decoding it, so a frame of many
	// small messages costs no more than MaxMessages of them.
	MaxMessages int

	names map[string]string
	avg   float64 // bytes per message in recent frames
}

// NewDecoder returns a Decoder with an empty channel-name cache.
func NewDecoder() *Decoder { return &Decoder{names: make(map[string]string)} }

// Decode parses frame: a JSON array of messages or a single message
// object. The returned messages alias frame, so the caller must not modify
// frame afterwards. A frame whose only fault is invalid UTF-8 in strings
// gives its messages and an *InvalidUTF8Error.
func (d *Decoder) Decode(frame []byte) ([]Message, error) {
	s := scanner{b: frame}
	s.ws()
	if s.i >= len(s.b) {
		return nil, fmt.Errorf("decode messages: %w: empty input", errSyntax)
	}
	var msgs []Message
	var bad []int // messages holding invalid UTF-8
	switch s.b[s.i] {
	case '{':
		msgs = make([]Message, 1)
		if err := d.message(&s, &msgs[0]); err != nil {
			return nil, fmt.Errorf("decode messages: %w", err)
		}
		if s.badUTF8 {
			bad = append(bad, 0)
		}
	case '[':
		s.i++
		s.ws()
		msgs = make([]Message, 0, d.capHint(len(frame)))
		if s.peek() == ']' {
			s.i++
			break
		}
		for {
			s.ws()
			if s.peek() != '{' {
				return nil, fmt.Errorf("decode messages: %w: want a message object at offset %d", errSyntax, s.i)
			}
			if d.MaxMessages > 0 && len(msgs) == d.MaxMessages {
				return nil, fmt.Errorf("decode messages: %w: more than %d in one request", ErrTooManyMessages, d.MaxMessages)
			}
			msgs = append(msgs, Message{})
			s.badUTF8 = false
			if err := d.message(&s, &msgs[len(msgs)-1]); err != nil {
				return nil, fmt.Errorf("decode messages: %w", err)
			}
			if s.badUTF8 {
				bad = append(bad, len(msgs)-1)
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, fmt.Errorf("decode messages: %w: want ',' or ']' at offset %d", errSyntax, s.i-1)
			}
		}
	default:
		return nil, fmt.Errorf("decode messages: %w: want '[' or '{' at offset %d", errSyntax, s.i)
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, fmt.Errorf("decode messages: %w: trailing data at offset %d", errSyntax, s.i)
	}
	d.learn(len(frame), len(msgs))
	if bad != nil {
		return msgs, &InvalidUTF8Error{Messages: bad}
	}
	return msgs, nil
}

// capHint estimates the number of messages in a frame from the average
// message size seen so far, so the message slice is usually allocated once
// and no larger than needed: the estimate is rounded, not rounded up, so
// that a stream of frames of one message each (deliveries, publishes) gets
// slices of one.
func (d *Decoder) capHint(n int) int {
	if d.avg <= 0 {
		d.avg = 128
	}
	h := max(int(float64(n)/d.avg*1.1+0.5), 1)
	if d.MaxMessages > 0 && h > d.MaxMessages {
		h = d.MaxMessages
	}
	return h
}

// learn updates the average message size with a decoded frame.
func (d *Decoder) learn(n, msgs int) {
	if msgs > 0 {
		d.avg = 0.8*d.avg + 0.2*float64(n)/float64(msgs)
	}
}

// message parses one message object into m; s is at '{'.
func (d *Decoder) message(s *scanner, m *Message) error {
	s.i++ // '{'
	s.ws()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.peek() != '"' {
			return fmt.Errorf("%w: want a field name at offset %d", errSyntax, s.i)
		}
		key, esc, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.peek() != ':' {
			return fmt.Errorf("%w: want ':' at offset %d", errSyntax, s.i)
		}
		s.i++
		s.ws()
		if esc {
			key = nil // no Bayeux field name needs escapes
		}
		if err := d.field(s, m, key); err != nil {
			return err
		}
		s.ws()
		c := s.peek()
		s.i++
		if c == '}' {
			return nil
		}
		if c != ',' {
			return fmt.Errorf("%w: want ',' or '}' at offset %d", errSyntax, s.i-1)
		}
	}
}

// field parses the value of the field key into m.
func (d *Decoder) field(s *scanner, m *Message, key []byte) error {
	start := s.i
	switch string(key) {
	case "channel":
		v, err := d.stringValue(s, true)
		m.Channel = v
		return err
	case "id":
		if c := s.peek(); c != '"' && c != 'n' {
			if err := s.value(0); err != nil {
				return err
			}
			var id ID
			if err := id.UnmarshalJSON(s.b[start:s.i]); err != nil {
				return fmt.Errorf("field id: %w", err)
			}
			m.ID = id
			return nil
		}
		v, err := d.stringValue(s, false)
		m.ID = ID(v)
		return err
	case "clientId":
		v, err := d.stringValue(s, false)
		m.ClientID = v
		return err
	case "error":
		v, err := d.stringValue(s, false)
		m.Error = v
		return err
	case "version":
		v, err := d.stringValue(s, true)
		m.Version = v
		return err
	case "minimumVersion":
		v, err := d.stringValue(s, true)
		m.MinimumVersion = v
		return err
	case "connectionType":
		v, err := d.stringValue(s, true)
		m.ConnectionType = v
		return err
	case "timestamp":
		v, err := d.stringValue(s, false)
		m.Timestamp = v
		return err
	case "successful":
		v, err := s.boolValue()
		m.Successful = v
		return err
	case "authSuccessful":
		v, err := s.boolValue()
		m.AuthSuccessful = v
		return err
	case "data":
		if err := s.value(0); err != nil {
			return err
		}
		m.Data = json.RawMessage(s.b[start:s.i:s.i])
		return nil
	case "subscription":
		if err := s.value(0); err != nil {
			return err
		}
		if raw := s.b[start:s.i:s.i]; string(raw) != "null" {
			m.Subscription = json.RawMessage(raw)
		}
		return nil
	case "advice", "ext", "supportedConnectionTypes":
		if err := s.value(0); err != nil {
			return err
		}
		raw := s.b[start:s.i]
		var err error
		switch string(key) {
		case "advice":
			err = json.Unmarshal(raw, &m.Advice)
		case "ext":
			err = json.Unmarshal(raw, &m.Ext)
		default:
			err = json.Unmarshal(raw, &m.SupportedConnectionTypes)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", key, err)
		}
		return nil
	}
	// encoding/json matches field names case-insensitively; so do we, off
	// the fast path.
	for _, name := range fieldNames {
		if bytes.EqualFold(key, []byte(name)) {
			return d.field(s, m, []byte(name))
		}
	}
	return s.value(0)
}

var fieldNames = []string{
	"channel", "id", "clientId", "error", "version", "minimumVersion", "connectionType", "timestamp",
	"successful", "authSuccessful", "data", "subscription", "advice", "ext", "supportedConnectionTypes",
}

// stringValue parses a JSON string or null. Interned strings come from a
// bounded cache, so a stream of events on a few channels allocates nothing.
func (d *Decoder) stringValue(s *scanner, intern bool) (string, error) {
	if s.peek() == 'n' {
		return "", s.literal("null")
	}
	if s.peek() != '"' {
		return "", fmt.Errorf("%w: want a string at offset %d", errSyntax, s.i)
	}
	start := s.i
	raw, esc, err := s.str()
	if err != nil {
		return "", err
	}
	if esc || !utf8.Valid(raw) { // encoding/json's rules: unescape, replace bad UTF-8
		var v string
		if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
			return "", fmt.Errorf("%w: %w", errSyntax, err)
		}
		return v, nil
	}
	if !intern {
		return string(raw), nil
	}
	if v, ok := d.names[string(raw)]; ok {
		return v, nil
	}
	v := string(raw)
	if len(d.names) < maxInterned {
		d.names[v] = v
	}
	return v, nil
}

// scanner walks a JSON text, validating it as it goes.
type scanner struct {
	b []byte
	i int
	// badUTF8 is set when a string scanned holds invalid UTF-8; the
	// scanner carries on, so that the caller can tell which message it
	// was in.
	badUTF8 bool
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one JSON value, validating it.
func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested too deeply at offset %d", errSyntax, s.i)
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if s.peek() != '"' {
				return fmt.Errorf("%w: want a field name at offset %d", errSyntax, s.i)
			}
			if _, _, err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.peek() != ':' {
				return fmt.Errorf("%w: want ':' at offset %d", errSyntax, s.i)
			}
			s.i++
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == '}' {
				return nil
			}
			if c != ',' {
				return fmt.Errorf("%w: want ',' or '}' at offset %d", errSyntax, s.i-1)
			}
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ']' {
				return nil
			}
			if c != ',' {
				return fmt.Errorf("%w: want ',' or ']' at offset %d", errSyntax, s.i-1)
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return fmt.Errorf("%w: want a value at offset %d", errSyntax, s.i)
}

// str scans a string at s.i (a '"') and returns its contents between the
// quotes and whether it holds escapes.
func (s *scanner) str() (raw []byte, esc bool, err error) {
	start := s.i + 1
	// Fast path: no escape or control character before the closing quote.
	if n := bytes.IndexByte(s.b[start:], '"'); n >= 0 {
		seg := s.b[start : start+n]
		if plain, ascii := plainString(seg); plain {
			if !ascii && !utf8.Valid(seg) {
				s.badUTF8 = true
			}
			s.i = start + n + 1
			return seg, false, nil
		}
	}
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			if !utf8.Valid(s.b[start:i]) { // escapes are ASCII
				s.badUTF8 = true
			}
			return s.b[start:i], esc, nil
		case c == '\\':
			esc = true
			i++
			if i >= len(s.b) {
				break
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) {
					return nil, false, fmt.Errorf("%w: short \\u escape at offset %d", errSyntax, i)
				}
				for _, h := range s.b[i+1 : i+5] {
					if !isHex(h) {
						return nil, false, fmt.Errorf("%w: bad \\u escape at offset %d", errSyntax, i)
					}
				}
				i += 4
			default:
				return nil, false, fmt.Errorf("%w: bad escape at offset %d", errSyntax, i)
			}
		case c < 0x20:
			return nil, false, fmt.Errorf("%w: control character in string at offset %d", errSyntax, i)
		}
	}
	return nil, false, fmt.Errorf("%w: unterminated string at offset %d", errSyntax, s.i)
}

// Bytes repeated in a word, for plainString.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainString reports whether seg, the contents of a string, holds neither
// an escape nor a control character, and whether it is all ASCII. It reads
// eight bytes at a time: a byte below 0x20 or a backslash (0x5c, a zero
// byte after XOR with it) is found with the "has a byte less than n" test
// on the word, which is exact, and a byte of 0x80 or more by ORing words.
func plainString(seg []byte) (plain, ascii bool) {
	var all uint64
	i := 0
	for ; i+8 <= len(seg); i += 8 {
		w := binary.LittleEndian.Uint64(seg[i:])
		x := w ^ (0x5c * ones)
		if ((w-0x20*ones)&^w|(x-ones)&^x)&highs != 0 {
			return false, false
		}
		all |= w
	}
	for _, c := range seg[i:] {
		if c < 0x20 || c == '\\' {
			return false, false
		}
		all |= uint64(c)
	}
	return true, all&highs == 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number scans a JSON number.
func (s *scanner) number() error {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch {
	case s.peek() == '0':
		s.i++
	case isDigit(s.peek()):
		for isDigit(s.peek()) {
			s.i++
		}
	default:
		return fmt.Errorf("%w: bad number at offset %d", errSyntax, start)
	}
	if s.peek() == '.' {
		s.i++
		if !isDigit(s.peek()) {
			return fmt.Errorf("%w: bad number at offset %d", errSyntax, start)
		}
		for isDigit(s.peek()) {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !isDigit(s.peek()) {
			return fmt.Errorf("%w: bad number at offset %d", errSyntax, start)
		}
		for isDigit(s.peek()) {
			s.i++
		}
	}
	return nil
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return fmt.Errorf("%w: want %s at offset %d", errSyntax, lit, s.i)
	}
	s.i += len(lit)
	return nil
}

// boolValue parses true, false or null (nil).
func (s *scanner) boolValue() (*bool, error) {
	switch s.peek() {
	case 't':
		return Bool(true), s.literal("true")
	case 'f':
		return Bool(false), s.literal("false")
	case 'n':
		return nil, s.literal("null")
	}
	return nil, fmt.Errorf("%w: want a boolean at offset %d", errSyntax, s.i)
}
