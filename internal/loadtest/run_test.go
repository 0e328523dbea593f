package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/bayeuxtest"
)

// TestRunSmoke runs a short load test against the in-memory fake server over
// both transports (long-polling with either HTTP client) and checks the
// accounting adds up.
func TestRunSmoke(t *testing.T) {
	for _, tc := range []struct {
		name, transport string
		netHTTP         bool
	}{
		{"websocket", "websocket", false},
		{"long-polling", "long-polling", false},
		{"long-polling net/http", "long-polling", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := bayeuxtest.NewServer(500 * time.Millisecond)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Run(ctx, Config{
				URL:         srv.URL(),
				Transport:   tc.transport,
				NetHTTP:     tc.netHTTP,
				Subscribers: 5,
				Publishers:  2,
				Messages:    400,
				PayloadSize: 16,
				Warmup:      50 * time.Millisecond,
				Drain:       5 * time.Second,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if rep.Published != 400 || rep.Acked != 400 || rep.Failed != 0 {
				t.Errorf("published %d, acked %d, failed %d (%s)", rep.Published, rep.Acked, rep.Failed, rep.FirstError)
			}
			if rep.Expected != 2000 || rep.Delivered != 2000 || rep.Lost != 0 || rep.Duplicated != 0 || rep.OutOfOrder != 0 || rep.Invalid != 0 {
				t.Errorf("expected %d delivered %d lost %d dup %d ooo %d invalid %d",
					rep.Expected, rep.Delivered, rep.Lost, rep.Duplicated, rep.OutOfOrder, rep.Invalid)
			}
			if rep.Latency.Count != 2000 || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Latency.Max < rep.Latency.P99 {
				t.Errorf("latency %+v", rep.Latency)
			}
			if rep.DeliveriesPerSec <= 0 || rep.CPU <= 0 {
				t.Errorf("deliveries/s %v, CPU %v", rep.DeliveriesPerSec, rep.CPU)
			}
			if n := srv.Sessions(); n != 0 {
				t.Errorf("%d sessions left on the server", n)
			}

			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"deliveries/s", "lost", "p99", "bench CPU"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text report lacks %q:\n%s", want, text.String())
				}
			}
			var js bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(js.Bytes(), &m); err != nil || m["delivered"] != float64(2000) {
				t.Errorf("JSON report %s: %v", js.String(), err)
			}
		})
	}
}

// TestRunRateAndDuration checks the rate limit and the duration bound.
func TestRunRateAndDuration(t *testing.T) {
	srv := bayeuxtest.NewServer(500 * time.Millisecond)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{URL: srv.URL(), Subscribers: 2, Rate: 200, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// 200/s for 0.3s is about 60 publishes; allow for timer slack.
	if rep.Published < 40 || rep.Published > 80 {
		t.Errorf("published %d at 200/s in 300ms", rep.Published)
	}
	if rep.Lost != 0 || rep.Delivered != 2*rep.Acked {
		t.Errorf("delivered %d of %d, lost %d", rep.Delivered, 2*rep.Acked, rep.Lost)
	}
}

func TestRunSetupFailure(t *testing.T) {
	srv := bayeuxtest.NewServer(time.Second)
	url := srv.URL()
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Run(ctx, Config{URL: url, Subscribers: 2, Messages: 1}); err == nil || !strings.Contains(err.Error(), "setup") {
		t.Errorf("Run against a closed server: %v", err)
	}
	if _, err := Run(ctx, Config{URL: url, Channel: "/meta/x"}); err == nil {
		t.Error("Run with a meta channel accepted")
	}
}
