package runtime

import (
	"testing"
	"time"
)

// TestForgedResumePosition: a publisher's ext.resume is never relayed. On
// a node-local channel (not in the history) the event carries no
// position; on a broadcast of the history, the position the node stamps.
// Without a history, no event carries a position either.
func TestForgedResumePosition(t *testing.T) {
	const forged = 1e12
	srvs, urls := newHistoryCluster(t, 2, 100)
	_, plainURL := newTestServer(t, Options{})
	for _, srv := range srvs {
		if _, _, err := srv.CreateChannel("/local/x", func(c *Channel) { c.SetNodeLocal(true) }); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, url, channel string
		want               any // the event's ext.resume
	}{
		{"node-local channel", urls[0], "/local/x", nil},
		{"history broadcast", urls[0], "/b", "position"},
		{"no history", plainURL, "/b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newLP(t, tt.url).start()
			sub.subscribe(tt.channel)
			pub := newLP(t, tt.url).start()
			if r := pub.send(msg{"channel": tt.channel, "data": "x", "ext": msg{"resume": forged}}); r[0]["successful"] != true {
				t.Fatalf("publish: %v", r)
			}
			var ev msg
			deadline := time.Now().Add(5 * time.Second)
			for ev == nil && time.Now().Before(deadline) {
				if evs := events(sub.connect(false)); len(evs) > 0 {
					ev = evs[0]
				}
			}
			if ev == nil {
				t.Fatal("no event")
			}
			ext, _ := ev["ext"].(map[string]any)
			got := ext["resume"]
			switch tt.want {
			case nil:
				if got != nil {
					t.Errorf("event %v carries ext.resume %v, want none", ev, got)
				}
			case "position":
				if want := float64(srvs[0].hist.last.Load()); got != want {
					t.Errorf("event %v carries ext.resume %v, want the node's position %v", ev, got, want)
				}
			}
		})
	}
}
