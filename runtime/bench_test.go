package runtime

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/prometheus/client_golang/prometheus"
)

// benchSessions handshakes n sessions straight into srv and subscribes each
// to channel.
func benchSessions(b *testing.B, srv *Server, n int, channel string) []*ServerSession {
	b.Helper()
	out := make([]*ServerSession, n)
	for i := range out {
		s := newSession(srv, "")
		srv.sessions.put(s)
		srv.nsessions.Add(1)
		if !srv.channels.subscribe(s, channel) {
			b.Fatal("subscribe failed")
		}
		out[i] = s
	}
	return out
}

// BenchmarkFanOut measures the publish path: decode, validate, encode once,
// and queue the same bytes for every subscriber. One op is one publish; the
// deliveries/s metric counts queued copies.
//
// subscribers=100,metrics=on is subscribers=100 with Options.Metrics, for
// what the metrics cost (docs/performance.md).
func BenchmarkFanOut(b *testing.B) {
	for _, c := range []struct {
		subs    int
		metrics bool
	}{{1, false}, {100, false}, {100, true}, {1000, false}} {
		subs := c.subs
		name := fmt.Sprintf("subscribers=%d", subs)
		if c.metrics {
			name += ",metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			opts := Options{Logger: discardLogger(), MaxQueue: 1 << 20}
			if c.metrics {
				opts.Metrics = prometheus.NewRegistry()
			}
			srv := New(opts)
			defer srv.Shutdown(b.Context())
			sessions := benchSessions(b, srv, subs, "/bench/room")
			pub := sessions[0]
			body := []byte(`[{"channel":"/bench/room","clientId":"` + pub.id + `","id":"1","data":{"seq":1,"ts":1732500000000000000,"text":"hello, world"}}]`)
			o := &origin{transport: bayeux.TransportWebSocket}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				msgs, _, err := decodeMessages(body, 0)
				if err != nil {
					b.Fatal(err)
				}
				srv.process(o, msgs, nil)
				if i++; i%256 == 0 {
					for _, s := range sessions {
						q, _ := s.takeQueue(nil)
						s.returnQueue(q)
					}
				}
			}
			b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkFanOutWildcards publishes to a channel that subscribers reach
// through several patterns, which needs the at-most-once set.
func BenchmarkFanOutWildcards(b *testing.B) {
	srv := New(Options{Logger: discardLogger(), MaxQueue: 1 << 20})
	defer srv.Shutdown(b.Context())
	sessions := benchSessions(b, srv, 100, "/bench/room")
	for _, s := range sessions {
		srv.channels.subscribe(s, "/bench/*")
		srv.channels.subscribe(s, "/**")
	}
	m := &bayeux.Message{Channel: "/bench/room", Data: json.RawMessage(`{"seq":1}`)}
	hc := &hookContext{parent: b.Context(), timeout: time.Second}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		srv.fanOut(hc, srv.channels.route(nil, m.Channel), nil, m, nil, nil, true, 0)
		if i++; i%256 == 0 {
			for _, s := range sessions {
				q, _ := s.takeQueue(nil)
				s.returnQueue(q)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(sessions))/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkEncodeEvent measures encoding a broadcast once.
func BenchmarkEncodeEvent(b *testing.B) {
	data := json.RawMessage(`{"seq":1,"ts":1732500000000000000,"text":"hello, world"}`)
	b.ReportAllocs()
	for b.Loop() {
		encodeEvent("/bench/room", data, nil)
	}
}
