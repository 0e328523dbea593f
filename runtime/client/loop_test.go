package client

import (
	"encoding/json"
	"reflect"
	"testing"

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
