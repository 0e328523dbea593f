package natsbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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

func TestSplitUsers(t *testing.T) {
	users := []string{"alice", "bob", `quote"d`, "back\\slash", "<tag>&", "\x01ctl", "émile", "\xff\xfe", strings.Repeat("x", 40)}
	for range 200 {
		users = append(users, fmt.Sprintf("user-%d", len(users)))
	}
	for _, u := range users {
		enc, _ := json.Marshal(u)
		if b := jsonSizeBound(u); b < len(enc) {
			t.Errorf("jsonSizeBound(%q) = %d, but it encodes to %d bytes", u, b, len(enc))
		}
	}
	for _, limit := range []int{64, 100, 1000, 1 << 20} {
		parts := splitUsers(users, limit)
		var joined []string
		for _, p := range parts {
			enc, _ := json.Marshal(p)
			if len(enc) > limit {
				t.Errorf("limit %d: a part encodes to %d bytes", limit, len(enc))
			}
			joined = append(joined, p...)
		}
		if !slices.Equal(joined, users) {
			t.Errorf("limit %d: the parts do not make the list", limit)
		}
		if limit == 1<<20 && len(parts) != 1 {
			t.Errorf("limit %d: %d parts, want 1", limit, len(parts))
		}
	}
	if parts := splitUsers(nil, 100); len(parts) != 1 || len(parts[0]) != 0 {
		t.Errorf("no users: %v, want one empty part", parts)
	}
	if parts := splitUsers([]string{strings.Repeat("y", 500)}, 100); len(parts) != 1 {
		t.Errorf("a user longer than the limit: %d parts, want 1", len(parts))
	}
}

// TestHeartbeatInParts: a heartbeat in parts brings users online part by
// part and takes offline only those that no part of a complete heartbeat
// named; a heartbeat with a part missing takes no one offline.
func TestHeartbeatInParts(t *testing.T) {
	p := newPresence(time.Minute)
	var events []string
	p.emit = func(user string, online bool) { events = append(events, fmt.Sprint(user, "=", online)) }
	drain := func() []string {
		p.mu.Lock()
		evs := p.pending
		p.pending = nil
		p.mu.Unlock()
		for _, e := range evs {
			p.emit(e.user, e.online)
		}
		out := events
		events = nil
		return out
	}
	p.beat("n", 1, 2, []string{"a", "b"})
	p.beat("n", 1, 2, []string{"c"})
	if got := drain(); !slices.Equal(got, []string{"a=true", "b=true", "c=true"}) {
		t.Errorf("first heartbeat: %v", got)
	}
	p.beat("n", 2, 2, []string{"a"}) // its second part is lost
	p.beat("n", 3, 2, []string{"a"})
	if got := drain(); len(got) != 0 {
		t.Errorf("incomplete heartbeats changed presence: %v", got)
	}
	p.beat("n", 3, 2, []string{"d"})
	if got := drain(); !slices.Equal(got, []string{"d=true", "b=false", "c=false"}) && !slices.Equal(got, []string{"d=true", "c=false", "b=false"}) {
		t.Errorf("complete heartbeat: %v", got)
	}
	p.beat("n", 0, 0, []string{"a"}) // one message, as older nodes send it
	if got := drain(); !slices.Equal(got, []string{"d=false"}) {
		t.Errorf("single-message heartbeat: %v", got)
	}
}

func TestHistoryBroken(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	info := func(last uint64) *jetstream.StreamInfo {
		return &jetstream.StreamInfo{Created: created, State: jetstream.StreamState{LastSeq: last}}
	}
	recreated := info(15)
	recreated.Created = created.Add(time.Second)
	tests := []struct {
		name string
		pos  uint64
		info *jetstream.StreamInfo
		err  error
		want string // in the error; "" for none
	}{
		{"in step", 10, info(10), nil, ""},
		{"stream ahead", 10, info(15), nil, ""},
		{"empty stream, nothing delivered", 0, info(0), nil, ""},
		{"reset", 10, info(3), nil, "was reset while this node ran (it ends at 3, this node delivered 10)"},
		{"deleted", 10, nil, jetstream.ErrStreamNotFound, "was deleted while this node ran"},
		{"created again, past the node's position", 10, recreated, nil, "was created again while this node ran"},
		{"no answer", 10, nil, context.DeadlineExceeded, ""},
	}
	for _, tt := range tests {
		err := historyBroken("c-history", created, tt.pos, tt.info, tt.err)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}
