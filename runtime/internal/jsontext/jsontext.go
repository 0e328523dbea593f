// Package jsontext reads the simple cases of JSON text without decoding it
// into Go values: strings without escapes, numbers, literals and the
// punctuation between them. The fast paths of package validate and of the
// runtime's typed dispatch read messages with it and leave everything else
// (an escape, invalid UTF-8, anything that is not JSON) to encoding/json.
package jsontext

import "unicode/utf8"

// Reader reads JSON text from its current position.
type Reader struct {
	b []byte
	i int
}

// NewReader returns a Reader at the start of b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Bytes returns the text being read.
func (r *Reader) Bytes() []byte { return r.b }

// Pos returns the position of the next byte.
func (r *Reader) Pos() int { return r.i }

// AtEnd skips whitespace and reports whether the text ends there.
func (r *Reader) AtEnd() bool {
	r.Space()
	return r.i == len(r.b)
}

// Space skips whitespace.
func (r *Reader) Space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// Peek returns the next byte, or 0 at the end.
func (r *Reader) Peek() byte {
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// Next skips whitespace and reports whether the next byte is c; if so it
// is consumed.
func (r *Reader) Next(c byte) bool {
	r.Space()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// String reads a string without escapes, which is its own value, and
// returns the span of its contents, b[start:end] (valid UTF-8); ok is false
// for anything else (not a string, an escape, a control character, invalid
// UTF-8, which encoding/json would replace) and nothing is consumed then.
func (r *Reader) String() (start, end int, ok bool) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return 0, 0, false
	}
	start, ascii := r.i+1, true
	for j := start; j < len(r.b); j++ {
		c := r.b[j]
		if plain[c] {
			continue
		}
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(r.b[start:j]) {
				return 0, 0, false
			}
			r.i = j + 1
			return start, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, 0, false
}

// plain holds the bytes that stand for themselves in a string: printable
// ASCII but for '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Number reads a number as JSON writes it and returns its text; ok is false
// for anything else, and nothing is consumed then.
func (r *Reader) Number() (text []byte, ok bool) {
	b, i := r.b, r.i
	digits := func() bool {
		d := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i > d
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	text, r.i = b[r.i:i], i
	return text, true
}

// Word reads the literal w (true, false or null) and reports whether it
// was there.
func (r *Reader) Word(w string) bool {
	if len(r.b)-r.i < len(w) || string(r.b[r.i:r.i+len(w)]) != w {
		return false
	}
	r.i += len(w)
	return true
}
