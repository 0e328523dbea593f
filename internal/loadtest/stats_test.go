package loadtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, pad := range []int{0, 1, 100} {
		b := appendPayload(nil, 42, 3, 1732537200123456789, pad)
		seq, pub, ts, ok := parsePayload(b)
		if !ok || seq != 42 || pub != 3 || ts != 1732537200123456789 {
			t.Errorf("pad %d: parsePayload(%s) = %d %d %d %v", pad, b, seq, pub, ts, ok)
		}
	}
}

func TestParsePayload(t *testing.T) {
	tests := []struct {
		in      string
		seq, ts int64
		pub     int
		ok      bool
	}{
		{`{"ts":5,"pad":"x","pub":1,"seq":2}`, 2, 5, 1, true},
		{` { "seq" : 7 , "extra" : {"a":[1,"}"]} , "pub" : 0 , "ts" : -3 } `, 7, -3, 0, true},
		{`{"seq":1,"pub":0,"ts":1,"pad":"a\"b"}`, 1, 1, 0, true},
		{`{"seq":1,"pub":0}`, 0, 0, 0, false},
		{`{"seq":"1","pub":0,"ts":1}`, 0, 0, 0, false},
		{`{"seq":1,"pub":-1,"ts":1}`, 0, 0, 0, false},
		{`{"seq":99999999999999999999,"pub":0,"ts":1}`, 0, 0, 0, false},
		{`[1,2]`, 0, 0, 0, false},
		{`"text"`, 0, 0, 0, false},
		{`{"seq":1,"pub":0,"ts":1`, 1, 1, 0, true}, // the rest is not read
		{`{"seq":1,"pub":0`, 0, 0, 0, false},
		{``, 0, 0, 0, false},
	}
	for _, tt := range tests {
		seq, pub, ts, ok := parsePayload([]byte(tt.in))
		if ok != tt.ok || ok && (seq != tt.seq || pub != tt.pub || ts != tt.ts) {
			t.Errorf("parsePayload(%s) = %d %d %d %v, want %d %d %d %v", tt.in, seq, pub, ts, ok, tt.seq, tt.pub, tt.ts, tt.ok)
		}
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"seq":1,"pub":0,"ts":1,"pad":"xx"}`))
	f.Add([]byte(`{"a":[{"b":"]"}],"seq":1,"pub":0,"ts":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parsePayload(b) // must not panic
	})
}

func TestPairStats(t *testing.T) {
	tests := []struct {
		name             string
		seqs             []int64
		unique, dup, ooo int64
	}{
		{"in order", []int64{1, 2, 3, 4}, 4, 0, 0},
		{"gap then late", []int64{1, 3, 2, 4}, 4, 0, 1},
		{"duplicate", []int64{1, 2, 2, 3, 1}, 3, 2, 0},
		{"late then duplicate of it", []int64{1, 5, 3, 3}, 3, 1, 1},
		{"loss is not disorder", []int64{1, 2, 5, 6}, 4, 0, 0},
		{"start above one", []int64{1000, 1001}, 2, 0, 0},
		{"jump beyond the window", []int64{1, windowBits + 10, 2}, 3, 0, 1},
		{"late beyond the window", []int64{windowBits + 10, 5}, 2, 0, 1},
		{"bits reused after the ring wraps", []int64{1, 2, windowBits + 1, windowBits + 2, 2 + windowBits}, 4, 1, 0},
	}
	for _, tt := range tests {
		var p pairStats
		for _, s := range tt.seqs {
			p.record(s)
		}
		if p.unique != tt.unique || p.dup != tt.dup || p.ooo != tt.ooo {
			t.Errorf("%s: unique %d dup %d ooo %d, want %d %d %d", tt.name, p.unique, p.dup, p.ooo, tt.unique, tt.dup, tt.ooo)
		}
	}
}

func TestPairStatsShuffledWindow(t *testing.T) {
	// Messages reordered within a small window: every one counted once,
	// no duplicates, and out-of-order matches a direct count.
	r := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	seqs := make([]int64, n)
	for i := range seqs {
		seqs[i] = int64(i + 1)
	}
	for i := 0; i+8 <= n; i += 8 {
		r.Shuffle(8, func(a, b int) { seqs[i+a], seqs[i+b] = seqs[i+b], seqs[i+a] })
	}
	var wantOOO int64
	var highest int64
	for _, s := range seqs {
		if s < highest {
			wantOOO++
		}
		highest = max(highest, s)
	}
	var p pairStats
	for _, s := range seqs {
		p.record(s)
	}
	for _, s := range seqs[n-100:] {
		p.record(s) // late duplicates, still within the window
	}
	if p.unique != n || p.dup != 100 || p.ooo != wantOOO {
		t.Errorf("unique %d dup %d ooo %d, want %d 100 %d", p.unique, p.dup, p.ooo, n, wantOOO)
	}
}

func TestBuckets(t *testing.T) {
	// Every value falls in a bucket whose range contains it, buckets are
	// monotonic, and their relative width stays under 1%.
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 12345, 1 << 20, 1<<32 - 1} {
		i := bucketOf(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, i, prev, histBuckets)
		}
		prev = i
		hi := bucketHigh(i)
		lo := int64(0)
		if i > 0 {
			lo = bucketHigh(i-1) + 1
		}
		if int64(v) < lo || int64(v) > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if v >= 128 && float64(hi-lo+1)/float64(lo) > 0.01 {
			t.Errorf("bucket %d = [%d, %d] is wider than 1%%", i, lo, hi)
		}
	}
}

func TestPercentiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h histogram
	var exact []int64
	for range 200_000 {
		us := int64(r.ExpFloat64() * 2000) // a long tail around 2ms
		exact = append(exact, us)
		h.record(time.Duration(us) * time.Microsecond)
	}
	slices.Sort(exact)
	for _, p := range []float64{50, 95, 99, 99.9, 100} {
		rank := int(float64(len(exact))*p/100+0.999999) - 1
		want := time.Duration(exact[max(rank, 0)]) * time.Microsecond
		got := h.percentile(p)
		if got < want || float64(got-want) > 0.01*float64(want)+float64(time.Microsecond) {
			t.Errorf("p%g = %v, exact %v", p, got, want)
		}
	}
	if h.max != exact[len(exact)-1] {
		t.Errorf("max %d, want %d", h.max, exact[len(exact)-1])
	}
	// Small values are exact, and merging adds up.
	var a, b histogram
	for _, us := range []int64{1, 2, 3, 4} {
		a.record(time.Duration(us) * time.Microsecond)
	}
	b.record(100 * time.Microsecond)
	a.merge(&b)
	if a.total != 5 || a.percentile(50) != 3*time.Microsecond || a.percentile(100) != 100*time.Microsecond {
		t.Errorf("merged: total %d p50 %v p100 %v", a.total, a.percentile(50), a.percentile(100))
	}
	var empty histogram
	if empty.percentile(99) != 0 || empty.mean() != 0 {
		t.Error("empty histogram has non-zero statistics")
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{URL: "ftp://x"},
		{URL: "http://"},
		{Transport: "callback-polling"},
		{Channel: "/meta/x"},
		{Channel: "/a/*"},
		{Channel: "nope"},
		{Subscribers: -1},
		{Rate: -1},
		{PayloadSize: -5},
		{Duration: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", c)
		}
	}
	var c Config
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.URL != DefaultURL || c.Transport != "websocket" || c.Subscribers != DefaultSubscribers || c.Window != DefaultWindow ||
		c.Duration != DefaultDuration || c.Channel != DefaultChannel || c.Drain != DefaultDrain {
		t.Errorf("defaults not filled in: %+v", c)
	}
}
