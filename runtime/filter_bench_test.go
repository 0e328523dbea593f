package runtime_test

import (
	"testing"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/filter"
)

// BenchmarkFanOutFiltered is BenchmarkFanOut/subscribers=100 with a
// schema-sized filter chain (trim, no-markup, max-length on the text and
// user of a chat message) installed on the channel.
func BenchmarkFanOutFiltered(b *testing.B) {
	srv := runtime.New(runtime.Options{MaxQueue: 1 << 20})
	defer srv.Shutdown(b.Context())
	c, _, _ := srv.CreateChannel("/bench/room")
	c.AddFilter(filter.Chain(
		filter.Must(filter.Trim("text", "user")),
		filter.Must(filter.NoMarkup("text")),
		filter.Must(filter.MaxLength(500, "text", "user")),
	))
	pub, drain := runtime.BenchSubscribers(b, srv, 100, "/bench/room")
	body := []byte(`[{"channel":"/bench/room","clientId":"` + pub + `","id":"1","data":{"seq":1,"ts":1732500000000000000,"user":"alice","text":"hello, <b>world</b>  "}}]`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := runtime.BenchPublish(srv, body); err != nil {
			b.Fatal(err)
		}
		if i++; i%256 == 0 {
			drain()
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "deliveries/s")
}
