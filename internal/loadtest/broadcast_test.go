package loadtest

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/bayeuxtest"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// TestRunBroadcast broadcasts to a few subscribers of the fake server over
// both transports and checks the per-broadcast account.
func TestRunBroadcast(t *testing.T) {
	for _, transport := range []string{"websocket", "long-polling"} {
		t.Run(transport, func(t *testing.T) {
			srv := bayeuxtest.NewServer(500 * time.Millisecond)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := RunBroadcast(ctx, BroadcastConfig{
				URL:         srv.URL(),
				Transport:   transport,
				Subscribers: 15,
				Rate:        50,
				Duration:    400 * time.Millisecond,
				Drain:       5 * time.Second,
			})
			if err != nil {
				t.Fatalf("RunBroadcast: %v", err)
			}
			if rep.Broadcasts != 20 || rep.Failed != 0 || rep.Complete != 20 {
				t.Errorf("%d broadcasts, %d failed, %d complete; want 20, 0, 20", rep.Broadcasts, rep.Failed, rep.Complete)
			}
			if rep.Expected != 300 || rep.Delivered != 300 || rep.Lost != 0 || rep.Duplicates != 0 {
				t.Errorf("expected %d, delivered %d, lost %d, duplicates %d", rep.Expected, rep.Delivered, rep.Lost, rep.Duplicates)
			}
			if rep.LastP50 <= 0 || rep.LastP50 > rep.LastP99 || rep.LastP99 > rep.LastMax || rep.FirstP50 > rep.LastP50 {
				t.Errorf("latencies: last p50 %s p99 %s max %s, first p50 %s", rep.LastP50, rep.LastP99, rep.LastMax, rep.FirstP50)
			}
			if rep.DeliveriesPerSecond() <= 0 {
				t.Errorf("deliveries/s %f", rep.DeliveriesPerSecond())
			}
			var text, js bytes.Buffer
			if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "last subscriber") {
				t.Errorf("text: %v\n%s", err, text.String())
			}
			if err := rep.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"deliveries_per_second"`) {
				t.Errorf("json: %v\n%s", err, js.String())
			}
		})
	}
}

func TestBroadcastValidate(t *testing.T) {
	for _, c := range []BroadcastConfig{
		{Subscribers: 0},
		{Subscribers: 1, Rate: -1},
		{Subscribers: 1, Rate: 5000},
		{Subscribers: 1, Channel: "/a/*"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	c := BroadcastConfig{Subscribers: 3}
	if err := c.Validate(); err != nil || c.Rate != DefaultBroadcastRate || c.Channel != DefaultBroadcastChannel || c.Duration != DefaultDuration {
		t.Errorf("defaults: %v %+v", err, c)
	}
}

// TestBroadcastLog checks duplicates and the completion time of a
// broadcast: its last subscriber's receipt.
func TestBroadcastLog(t *testing.T) {
	l := newBroadcastLog(3)
	h1, h2 := l.subscriber(), l.subscriber()
	for seq := int64(1); seq <= 2; seq++ {
		l.published[seq].Store(time.Now().UnixNano())
		l.acked[seq].Store(1)
		m := msgWith(appendPayload(nil, seq, 0, 1, 0))
		h1(m)
		h1(m) // a duplicate
		if seq == 1 {
			time.Sleep(2 * time.Millisecond)
			h2(m)
		}
	}
	h1(msgWith([]byte(`{"seq":9,"pub":0,"ts":1}`))) // out of range
	if !l.allDelivered(1, 2) || l.allDelivered(2, 2) {
		t.Error("allDelivered")
	}
	rep := &BroadcastReport{}
	l.fill(rep, 2, 2, time.Now(), time.Now())
	if rep.Broadcasts != 2 || rep.Complete != 1 || rep.Delivered != 3 || rep.Lost != 1 || rep.Duplicates != 2 || l.invalid.Load() != 1 {
		t.Errorf("%+v, invalid %d", rep, l.invalid.Load())
	}
	if rep.LastP50 < 2*time.Millisecond || rep.FirstP50 >= rep.LastP50 {
		t.Errorf("last %s, first %s", rep.LastP50, rep.FirstP50)
	}
}

func TestRecoveryFigures(t *testing.T) {
	start := time.Unix(100, 0)
	back := make([]atomic.Int64, 10)
	for i := range 9 {
		back[i].Store(start.Add(time.Duration(i+1) * 300 * time.Millisecond).UnixNano())
	}
	rep := &StormReport{}
	recoveryFigures(rep, back, start)
	if rep.Recovered != 9 || rep.FirstBack != 300*time.Millisecond || rep.Recovery50 != 1500*time.Millisecond ||
		rep.Recovery90 != 2700*time.Millisecond || rep.Recovery99 != 0 || rep.Recovery100 != 0 {
		t.Errorf("%+v", rep)
	}
	want := []RecoveryBucket{{0, 3}, {1, 3}, {2, 3}}
	if len(rep.Histogram) != len(want) {
		t.Fatalf("histogram %v", rep.Histogram)
	}
	for i := range want {
		if rep.Histogram[i] != want[i] {
			t.Errorf("histogram %v, want %v", rep.Histogram, want)
		}
	}
}

// TestStormAccount: what each session received of the acknowledged
// messages of its channel: lost, duplicated, out of order, and deliveries
// of unacknowledged ones.
func TestStormAccount(t *testing.T) {
	channels := make([]channelLog, 2)
	channels[0].next, channels[1].next = 100, 3
	for seq := int64(1); seq <= 100; seq++ {
		if seq != 50 { // 50's publish failed
			channels[0].ack(seq)
		}
	}
	channels[1].ack(1)
	sessions := make([]sessionLog, 4) // 0 and 2 on channel 0, 1 and 3 on channel 1
	for seq := int64(1); seq <= 100; seq++ {
		sessions[0].record(seq) // all, 50 too
		if seq != 70 && seq != 71 {
			sessions[2].record(seq)
		}
	}
	sessions[2].record(70) // late
	sessions[2].record(70) // again
	sessions[1].record(1)
	if complete(channels, sessions) {
		t.Error("complete, with 71 and session 3's 1 missing")
	}
	d := account(channels, sessions)
	want := Deliveries{Published: 103, Acknowledged: 100, Expected: 2*99 + 2*1, Delivered: 99 + 98 + 1, Lost: 2, LosingSessions: 2,
		Unacknowledged: 2, Duplicated: 1, OutOfOrder: 1}
	if d != want {
		t.Errorf("account:\n%+v, want\n%+v", d, want)
	}
	sessions[2].record(71)
	sessions[3].record(1)
	if !complete(channels, sessions) {
		t.Error("not complete")
	}
}

func msgWith(data []byte) *bayeux.Message { return &bayeux.Message{Channel: "/b", Data: data} }

// BenchmarkBroadcastSubscriber measures the handler of a broadcast run's
// subscriber: one op is one delivery of a broadcast with 64 bytes of
// padding to one of 16 subscribers, each receiving every broadcast once.
func BenchmarkBroadcastSubscriber(b *testing.B) {
	const broadcasts = 1000
	const subscribers = 16
	msgs := make([]*bayeux.Message, broadcasts+1)
	for seq := 1; seq <= broadcasts; seq++ {
		msgs[seq] = msgWith(appendPayload(nil, int64(seq), 0, time.Now().UnixNano(), 64))
	}
	var l *broadcastLog
	hs := make([]func(*bayeux.Message), subscribers)
	b.ReportAllocs()
	for n := range b.N {
		if n%(broadcasts*subscribers) == 0 { // a new run: nothing seen yet
			b.StopTimer()
			l = newBroadcastLog(broadcasts)
			for i := range hs {
				hs[i] = l.subscriber()
			}
			b.StartTimer()
		}
		hs[n%subscribers](msgs[n/subscribers%broadcasts+1])
	}
	if l.dups.Load() != 0 || l.invalid.Load() != 0 {
		b.Fatalf("%d duplicates, %d invalid", l.dups.Load(), l.invalid.Load())
	}
}
