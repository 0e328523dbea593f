package natsbroker

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{6, 3200 * time.Millisecond},
		{7, 5 * time.Second},
		{1000, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, DefaultReconnectWait, DefaultMaxReconnectWait); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestEscapes(t *testing.T) {
	tests := []struct {
		in, subject string
	}{
		{"/chat/room", "chat.room"},
		{"/a b/c.d/*", "a%20b.c%2Ed.%2A"},
		{"/ü/>", "%C3%BC.%3E"},
	}
	for _, tt := range tests {
		if got := channelSubject(tt.in); got != tt.subject {
			t.Errorf("channelSubject(%q) = %q, want %q", tt.in, got, tt.subject)
		}
	}
	for _, k := range []string{"", "plain", "/chat/lobby/ann", "dots.and spaces", "=41 literally", "ünï", "trailing."} {
		e := escapeKey(k)
		if unescapeKey(e) != k {
			t.Errorf("unescapeKey(escapeKey(%q)) = %q (escaped %q)", k, unescapeKey(e), e)
		}
		for i := 0; i < len(e); i++ {
			c := e[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '/' || c == '=') {
				t.Errorf("escapeKey(%q) = %q: byte %q outside the key alphabet", k, e, c)
			}
		}
	}
}
