package client

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// TestConnectEncoder checks that the hand-encoded /meta/connect means what
// json.Marshal of the message would, across sessions and message ids.
func TestConnectEncoder(t *testing.T) {
	var enc connectEncoder
	tests := []struct {
		clientID string
		id       bayeux.ID
		first    bool
		ack      int64 // -1: no ack extension
	}{
		{"abc123", "1", true, -1},
		{"abc123", "2", false, -1},
		{"abc123", "1234567890", false, -1},
		{`we"ird\id<>&` + "\u2028", "7", true, -1}, // a new session, with characters to escape
		{"abc123", "8", false, -1},
		{"abc123", "9", true, 0},
		{"abc123", "10", false, 1234567},
	}
	for _, tt := range tests {
		got := enc.encode(tt.clientID, bayeux.TransportLongPolling, tt.id, tt.first, tt.ack)
		m := &bayeux.Message{Channel: bayeux.MetaConnect, ClientID: tt.clientID, ID: tt.id, ConnectionType: bayeux.TransportLongPolling}
		if tt.first {
			m.Advice = &bayeux.Advice{Timeout: bayeux.Int(0)}
		}
		if tt.ack >= 0 {
			m.Ext = map[string]any{"ack": tt.ack}
		}
		want, err := json.Marshal([]*bayeux.Message{m})
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("encode(%q, %q): %s: %v", tt.clientID, tt.id, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("encode(%q, %q, %v) = %s, want %s", tt.clientID, tt.id, tt.first, got, want)
		}
		if _, err := bayeux.NewDecoder().Decode(got); err != nil {
			t.Errorf("bayeux.Decoder refuses %s: %v", got, err)
		}
	}
}

// TestBackoffSpread: a backoff of d is drawn over [d/2, 3d/2), and a
// thousand clients failing together do not retry together.
func TestBackoffSpread(t *testing.T) {
	const d = time.Second
	seen := map[time.Duration]bool{}
	early, late := 0, 0
	for range 1000 {
		got := spread(d)
		if got < d/2 || got >= 3*d/2 {
			t.Fatalf("spread(%v) = %v, want [%v, %v)", d, got, d/2, 3*d/2)
		}
		seen[got/(10*time.Millisecond)] = true
		if got < d {
			early++
		} else {
			late++
		}
	}
	// 100 buckets of 10 ms: a draw that did not spread would fill one.
	if len(seen) < 90 || early < 400 || late < 400 {
		t.Fatalf("1000 draws in %d buckets of 10 ms, %d early, %d late", len(seen), early, late)
	}
	if spread(0) != 0 {
		t.Fatal("no backoff must stay none")
	}
}
