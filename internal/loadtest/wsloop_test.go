package loadtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/bayeuxtest"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

func TestParseFrame(t *testing.T) {
	frame := func(b0 byte, payload []byte, mask []byte) []byte {
		f := []byte{b0}
		m := byte(0)
		if mask != nil {
			m = 0x80
		}
		switch n := len(payload); {
		case n <= 125:
			f = append(f, m|byte(n))
		case n <= 0xffff:
			f = append(f, m|126, byte(n>>8), byte(n))
		default:
			f = append(f, m|127)
			f = binary.BigEndian.AppendUint64(f, uint64(n))
		}
		if mask != nil {
			f = append(f, mask...)
			for i, c := range payload {
				f = append(f, c^mask[i%4])
			}
			return f
		}
		return append(f, payload...)
	}
	for _, tc := range []struct {
		name string
		b0   byte
		n    int
		mask []byte
	}{
		{"empty text", 0x81, 0, nil},
		{"125 bytes", 0x81, 125, nil},
		{"126 bytes: 16-bit length", 0x81, 126, nil},
		{"65535 bytes", 0x81, 65535, nil},
		{"65536 bytes: 64-bit length", 0x81, 65536, nil},
		{"a fragment", 0x01, 10, nil},
		{"a ping", 0x89, 4, nil},
		{"masked", 0x81, 300, []byte{1, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte("abcdefg"), tc.n/7+1)[:tc.n]
			f := frame(tc.b0, payload, tc.mask)
			in := append(append([]byte(nil), f...), 0x81, 0) // and the next frame
			fin, op, got, size := parseFrame(in)
			if size != len(f) || fin != (tc.b0&0x80 != 0) || op != tc.b0&0x0f || !bytes.Equal(got, payload) {
				t.Errorf("parseFrame = fin %v op %x %d bytes, size %d; want size %d", fin, op, len(got), size, len(f))
			}
			for _, cut := range []int{0, 1, 2, 3, 4, 5, 9, 10, 13, len(f) - 1} {
				if cut < 0 || cut >= len(f) {
					continue
				}
				if _, _, _, size := parseFrame(append([]byte(nil), f[:cut]...)); size != 0 {
					t.Fatalf("the first %d of %d bytes parsed as a frame of %d", cut, len(f), size)
				}
			}
		})
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x03, 'a', 'b', 'c'})
	f.Add([]byte{0x81, 126, 0, 200})
	f.Add([]byte{0x01, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x89, 0x84, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, payload, size := parseFrame(b)
		if size < 0 || size > len(b) || len(payload) > size {
			t.Fatalf("size %d, payload %d of %d bytes", size, len(payload), len(b))
		}
	})
}

// loopRecorder collects what a loop's subscribers receive.
type loopRecorder struct {
	mu  sync.Mutex
	got map[int][]string
}

func (r *loopRecorder) receiver(i int) func([]byte, int64) {
	return func(data []byte, _ int64) {
		r.mu.Lock()
		r.got[i] = append(r.got[i], string(data))
		r.mu.Unlock()
	}
}

func (r *loopRecorder) count(i int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[i])
}

func startSubs(t *testing.T, url string, n int, rec *loopRecorder) ([]*wsSub, *wsLoop) {
	t.Helper()
	u := mustParseURL(t, url)
	subs := make([]*wsSub, n)
	for i := range subs {
		s, err := dialSub(t.Context(), u, "/loop", 5*time.Second, rec.receiver(i))
		if err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
		subs[i] = s
	}
	loop, err := startWSLoop(subs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		loop.close()
		closeSubs(subs, 4)
	})
	return subs, loop
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWSLoopSessions: the bench's own subscribers keep their sessions
// through many held-connect cycles, receive every message, and count the
// sessions the server drops.
func TestWSLoopSessions(t *testing.T) {
	if !wsLoopSupported {
		t.Skip("no event loop on this system: the broadcast mode uses clients")
	}
	srv := bayeuxtest.NewServer(50 * time.Millisecond)
	defer srv.Close()
	rec := &loopRecorder{got: make(map[int][]string)}
	_, loop := startSubs(t, srv.URL(), 5, rec)
	if n := srv.Subscribes("/loop"); n != 5 {
		t.Fatalf("%d subscriptions, want 5", n)
	}
	time.Sleep(600 * time.Millisecond)             // a dozen held connects answered and renewed
	big := `"` + strings.Repeat("x", 40<<10) + `"` // read in several reads
	msgs := []string{`{"n":1}`, big, `{"n":3}`}
	for _, m := range msgs {
		srv.Publish("/loop", json.RawMessage(m))
	}
	for i := range 5 {
		waitUntil(t, "the messages", func() bool { return rec.count(i) == len(msgs) })
		rec.mu.Lock()
		for j, m := range msgs {
			if rec.got[i][j] != m {
				t.Errorf("subscriber %d, message %d: %.40q, want %.40q", i, j, rec.got[i][j], m)
			}
		}
		rec.mu.Unlock()
	}
	if n := loop.lost.Load(); n != 0 {
		t.Fatalf("%d sessions lost while the server kept them", n)
	}
	srv.DropSessions() // the next connect reply advises a handshake
	waitUntil(t, "the lost sessions counted", func() bool { return loop.lost.Load() == 5 })
}

// TestWSLoopAnswersPings: against cometgen's server, which closes a
// websocket silent for PingInterval+PingTimeout, the subscribers answer
// its pings and stay.
func TestWSLoopAnswersPings(t *testing.T) {
	if !wsLoopSupported {
		t.Skip("no event loop on this system: the broadcast mode uses clients")
	}
	srv := runtime.New(runtime.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	rec := &loopRecorder{got: make(map[int][]string)}
	_, loop := startSubs(t, hs.URL, 3, rec)
	time.Sleep(800 * time.Millisecond) // sixteen pings
	if n := loop.lost.Load(); n != 0 {
		t.Fatalf("%d sessions lost: pings unanswered?", n)
	}
	if _, err := srv.Publish("/loop", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		waitUntil(t, "the message", func() bool { return rec.count(i) == 1 })
	}
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestWSSubInputFragments: a message sent in fragments, split across
// reads, is delivered whole, once.
func TestWSSubInputFragments(t *testing.T) {
	var got []string
	s := &wsSub{channel: "/loop", onData: func(data []byte, _ int64) { got = append(got, string(data)) }}
	msg := `[{"channel":"/loop","data":{"text":"` + strings.Repeat("y", 300) + `"}}]`
	parts := []string{msg[:100], msg[100:250], msg[250:]}
	var stream []byte
	for i, p := range parts {
		b0 := byte(0x00) // continuation
		if i == 0 {
			b0 = 0x01 // text
		}
		if i == len(parts)-1 {
			b0 |= 0x80
		}
		stream = append(stream, b0)
		if len(p) <= 125 {
			stream = append(stream, byte(len(p)))
		} else {
			stream = append(stream, 126, byte(len(p)>>8), byte(len(p)))
		}
		stream = append(stream, p...)
		if i == 0 {
			stream = append(stream, 0x8a, 0) // a pong between fragments
		}
	}
	dec := bayeux.NewDecoder()
	prev := 0
	var rest []byte
	for _, cut := range []int{1, 7, 101, 180, len(stream) - 2, len(stream)} {
		in := append(append([]byte(nil), rest...), stream[prev:cut]...)
		prev = cut
		var err error
		if rest, err = s.input(dec, in, 0); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"text":"` + strings.Repeat("y", 300) + `"}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %d messages %.40q, want one: %.40q", len(got), got, want)
	}
}

// TestWSSubInputBounded: a frame that announces more than wsSubMaxMessage
// ends the session once that much is pending, instead of being kept
// growing.
func TestWSSubInputBounded(t *testing.T) {
	s := &wsSub{channel: "/loop", onData: func([]byte, int64) { t.Error("delivered") }}
	header := []byte{0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0} // 4 GiB announced
	dec := bayeux.NewDecoder()
	rest, err := s.input(dec, append(header, make([]byte, 1000)...), 0)
	if err != nil || len(rest) != 1010 {
		t.Fatalf("a beginning: rest %d, %v; want it kept", len(rest), err)
	}
	big := append(rest, make([]byte, wsSubMaxMessage)...)
	if _, err := s.input(dec, big, 0); !errors.Is(err, errSessionLost) {
		t.Fatalf("past the bound: %v, want the session lost", err)
	}
}
