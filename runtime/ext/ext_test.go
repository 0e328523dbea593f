package ext_test

import (
	"context"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/ext"
)

func TestTimeSync(t *testing.T) {
	clock := time.UnixMilli(1_000_000)
	ts := &ext.TimeSync{Now: func() time.Time { return clock }}
	srv := runtime.New(runtime.Options{})
	defer srv.Shutdown(context.Background())
	local := srv.NewLocalSession("t")
	local.Handshake(context.Background())
	sess := local.Session()

	in := &bayeux.Message{Channel: bayeux.MetaConnect, ID: "5", Ext: map[string]any{
		"timesync": map[string]any{"tc": float64(999_900), "l": float64(20), "o": float64(50)},
	}}
	ts.Incoming(context.Background(), sess, in)
	clock = clock.Add(30 * time.Millisecond) // the server held the connect for 30 ms
	out := &bayeux.Message{Channel: bayeux.MetaConnect, ID: "5"}
	ts.Outgoing(context.Background(), sess, out)
	got, ok := out.Ext["timesync"].(map[string]any)
	if !ok {
		t.Fatalf("reply ext = %v", out.Ext)
	}
	want := map[string]int64{"tc": 999_900, "ts": 1_000_000, "p": 30, "a": 999_900 + 50 + 20 - 1_000_000}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("timesync.%s = %v, want %d", k, got[k], v)
		}
	}
	// A reply whose request had no timesync data is left alone, and a
	// sample is used once.
	again := &bayeux.Message{Channel: bayeux.MetaConnect, ID: "5"}
	ts.Outgoing(context.Background(), sess, again)
	if again.Ext != nil {
		t.Errorf("second reply got %v", again.Ext)
	}
	// Broadcast messages are not touched.
	ts.Incoming(context.Background(), sess, &bayeux.Message{Channel: "/chat", ID: "6", Ext: map[string]any{"timesync": map[string]any{"tc": float64(1)}}})
	pub := &bayeux.Message{Channel: "/chat", ID: "6"}
	ts.Outgoing(context.Background(), sess, pub)
	if pub.Ext != nil {
		t.Errorf("a broadcast reply got %v", pub.Ext)
	}
}

func TestTimestamp(t *testing.T) {
	m := &bayeux.Message{Channel: "/x"}
	ext.Timestamp{Now: func() time.Time { return time.Date(2026, 11, 25, 13, 1, 29, 0, time.UTC) }}.Outgoing(context.Background(), nil, m)
	if m.Timestamp != "Wed, 25 Nov 2026 13:01:29 GMT" {
		t.Errorf("timestamp = %q", m.Timestamp)
	}
}
