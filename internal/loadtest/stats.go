package loadtest

import (
	"math"
	"math/bits"
	"strconv"
	"time"
)

// The payload of every published message:
//
//	{"seq":n,"pub":id,"ts":unix-nanos,"pad":"xxx…"}
//
// appendPayload writes it; parsePayload reads it back without a general JSON
// decode, accepting the fields in any order (servers may re-encode data).
func appendPayload(dst []byte, seq int64, pub int, ts int64, pad int) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"pub":`...)
	dst = strconv.AppendInt(dst, int64(pub), 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"pad":"`...)
	for range pad {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// parsePayload extracts seq, pub and ts from a payload. Other fields are
// skipped, and nothing after the three is read; ok is false when the payload
// is not an object holding all three as integers.
func parsePayload(b []byte) (seq int64, pub int, ts int64, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, 0, false
	}
	i++
	var have int
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return 0, 0, 0, false
		}
		end := stringEnd(b, i)
		if end < 0 {
			return 0, 0, 0, false
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, 0, false
		}
		i = skipWS(b, i+1)
		var n int64
		var isNum bool
		switch string(key) {
		case "seq", "pub", "ts":
			n, i, isNum = parseInt(b, i)
			if !isNum {
				return 0, 0, 0, false
			}
			switch string(key) {
			case "seq":
				seq, have = n, have|1
			case "pub":
				if n < 0 || n > math.MaxInt32 {
					return 0, 0, 0, false
				}
				pub, have = int(n), have|2
			default:
				ts, have = n, have|4
			}
		default:
			if i = skipValue(b, i); i < 0 {
				return 0, 0, 0, false
			}
		}
		if have == 7 {
			// All found: the rest (the padding, usually) is not read. The
			// client has validated the JSON already.
			return seq, pub, ts, true
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, 0, 0, false
		}
		if b[i] == '}' {
			return seq, pub, ts, have == 7
		}
		if b[i] != ',' {
			return 0, 0, 0, false
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] ('"'), or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// parseInt parses a JSON integer at b[i].
func parseInt(b []byte, i int) (n int64, next int, ok bool) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	// Eighteen digits cannot overflow; a timestamp in nanoseconds has
	// nineteen, and only the digits from the nineteenth on are checked.
	for i < len(b) && i-start < 18 && '0' <= b[i] && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		d := int64(b[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, i, false
		}
		n = n*10 + d
		i++
	}
	if i == start {
		return 0, i, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}

// skipValue skips a JSON value at b[i] and returns the index after it, or
// -1. It checks structure only as far as needed to find the end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// windowBits is how far behind the highest sequence number a late message
// can be told apart from a duplicate.
const windowBits = 1 << 15

// pairStats follows the messages of one publisher seen by one subscriber.
type pairStats struct {
	max    int64 // highest sequence number seen; 0 before the first
	unique int64
	dup    int64
	ooo    int64
	seen   []uint64 // ring of windowBits bits: seq s at bit s%windowBits
}

// record accounts for sequence number seq (> 0).
func (p *pairStats) record(seq int64) {
	if p.seen == nil {
		p.seen = make([]uint64, windowBits/64)
	}
	switch {
	case seq > p.max:
		if seq-p.max >= windowBits {
			clear(p.seen)
		} else {
			for s := p.max + 1; s < seq; s++ {
				p.clearBit(s)
			}
		}
		p.setBit(seq)
		p.max = seq
		p.unique++
	case seq <= p.max-windowBits:
		// Too late to tell: count it as a late, new message.
		p.unique++
		p.ooo++
	case p.bit(seq):
		p.dup++
	default:
		p.setBit(seq)
		p.unique++
		p.ooo++
	}
}

func (p *pairStats) bit(s int64) bool {
	k := uint64(s) % windowBits
	return p.seen[k/64]&(1<<(k%64)) != 0
}

func (p *pairStats) setBit(s int64) {
	k := uint64(s) % windowBits
	p.seen[k/64] |= 1 << (k % 64)
}

func (p *pairStats) clearBit(s int64) {
	k := uint64(s) % windowBits
	p.seen[k/64] &^= 1 << (k % 64)
}

// histogram is a log-linear histogram of microseconds in the manner of
// HdrHistogram: values below 2^subBits are exact, larger ones fall in
// buckets of relative width below 2^-subBits (under 0.8%). Its memory is
// fixed (13 KiB).
type histogram struct {
	counts [histBuckets]uint32
	total  int64
	max    int64 // microseconds
	sum    float64
}

const (
	subBits     = 7
	subCount    = 1 << subBits
	maxValueLog = 32 // values are clamped below 2^32 µs (71 minutes)
	histBuckets = (maxValueLog - subBits + 1) * subCount
)

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketHigh is the highest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	top := int64(i%subCount + subCount)
	return (top+1)<<shift - 1
}

// record adds a latency.
func (h *histogram) record(d time.Duration) {
	us := max(int64(d/time.Microsecond), 0)
	us = min(us, 1<<maxValueLog-1)
	h.counts[bucketOf(uint64(us))]++
	h.total++
	h.sum += float64(us)
	h.max = max(h.max, us)
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.total += o.total
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// percentile returns the latency at or below which p percent of the values
// lie (the highest value of that bucket, capped at the maximum).
func (h *histogram) percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := int64(math.Ceil(p / 100 * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var cum int64
	for i, n := range h.counts {
		cum += int64(n)
		if cum >= rank {
			return time.Duration(min(bucketHigh(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// mean returns the mean latency.
func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.total)) * time.Microsecond
}
