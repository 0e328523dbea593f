package bayeux

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdDecode is the reference: encoding/json into []Message, accepting
// a single object as well as an array.
func stdDecode(b []byte) ([]Message, error) {
	var msgs []Message
	if err := json.Unmarshal(b, &msgs); err == nil {
		return msgs, nil
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return []Message{m}, nil
}

var decodeCases = []string{
	`[]`,
	`[{}]`,
	` [ { "channel" : "/a/b" , "data" : { "x" : [1, 2.5e3, -0, true, false, null, "s\"\u00e9"] } } ] `,
	`{"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":0,"timeout":20000},"id":"7","clientId":"abc"}`,
	`[{"channel":"/meta/handshake","version":"1.0","minimumVersion":"1.0","supportedConnectionTypes":["websocket","long-polling"],"clientId":"x1","successful":true,"authSuccessful":true,"ext":{"ack":true}}]`,
	`[{"channel":"/meta/subscribe","subscription":["/a","/b/*"],"successful":false,"error":"403::subscribe_denied","id":12}]`,
	`[{"channel":"/x","data":"plain","timestamp":"2024","connectionType":"websocket","unknown":{"deep":[[[]]]}},{"channel":"/y","data":null,"subscription":null}]`,
	`[{"channel":"/esc\/aped","id":"a\nb","error":"\ud83d\ude00"}]`,
	`[{"channel":"/n","successful":null,"id":null}]`,
	// Invalid input.
	``,
	`[`,
	`[{]`,
	`[{"channel":}]`,
	`[{"channel":"/a"},]`,
	`[{"channel":"/a"}] x`,
	`[1]`,
	`[{"data":01}]`,
	`[{"data":1.}]`,
	`[{"data":"\x"}]`,
	`[{"data":"` + "\x01" + `"}]`,
	`[{"data":tru}]`,
	`[{"successful":"yes"}]`,
	`[{"channel":5}]`,
	`{"channel":"/a"}{"channel":"/b"}`,
	`[{"data":{"a" 1}}]`,
	`[{"data":[1 2]}]`,
	`[{"id":{}}]`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range decodeCases {
		checkDecode(t, []byte(in))
	}
}

func checkDecode(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := stdDecode(in)
	got, err := NewDecoder().Decode(in)
	var bad *InvalidUTF8Error
	if errors.As(err, &bad) {
		// encoding/json replaces invalid UTF-8; the decoder reports it
		// and returns the messages all the same.
		if utf8.Valid(in) {
			t.Fatalf("decode(%.200q): %v, but the input is valid UTF-8", in, err)
		}
		err = nil
	}
	if err != nil && wantErr == nil && strings.Contains(err.Error(), "nested too deeply") {
		return // encoding/json allows 10,000 levels; the decoder maxDepth
	}
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decode(%.200q): error %v, encoding/json: %v", in, err, wantErr)
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("decode(%.200q): %d messages, want %d", in, len(got), len(want))
	}
	for i := range got {
		// Raw fields keep the sender's spacing in both decoders; compare
		// their compacted forms and the rest field by field.
		g, w := got[i], want[i]
		if !sameJSON(g.Data, w.Data) || !sameJSON(g.Subscription, w.Subscription) {
			t.Fatalf("decode(%.200q)[%d]: raw fields %s %s, want %s %s", in, i, g.Data, g.Subscription, w.Data, w.Subscription)
		}
		g.Data, w.Data, g.Subscription, w.Subscription = nil, nil, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("decode(%.200q)[%d]:\n got %+v\nwant %+v", in, i, g, w)
		}
	}
}

func sameJSON(a, b json.RawMessage) bool {
	if string(a) == "null" {
		a = nil // encoding/json drops a null subscription
	}
	if string(b) == "null" {
		b = nil
	}
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		// A number out of float64's range: compare the texts.
		var ca, cb bytes.Buffer
		return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
	}
	return reflect.DeepEqual(x, y)
}

// FuzzDecode checks the decoder against encoding/json (checkDecode), that
// the messages it does not report as holding invalid UTF-8 hold none in
// their raw fields, and that MaxMessages refuses exactly the frames with
// more messages. The corpus in testdata/fuzz/FuzzDecode holds real
// clients' batches and hostile frames.
func FuzzDecode(f *testing.F) {
	for _, in := range decodeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in)
		msgs, err := NewDecoder().Decode(in)
		var bad *InvalidUTF8Error
		if err != nil && !errors.As(err, &bad) {
			return
		}
		for i, m := range msgs {
			if bad != nil && slices.Contains(bad.Messages, i) {
				continue
			}
			for _, raw := range []json.RawMessage{m.Data, m.Subscription} {
				if !utf8.Valid(raw) {
					t.Fatalf("decode(%.200q): message %d holds invalid UTF-8 %q, not reported (%v)", in, i, raw, err)
				}
			}
		}
		const max = 3
		d := NewDecoder()
		d.MaxMessages = max
		_, err = d.Decode(in)
		if tooMany := errors.Is(err, ErrTooManyMessages); tooMany != (len(msgs) > max) {
			t.Fatalf("decode(%.200q) with MaxMessages %d: %v, for %d messages", in, max, err, len(msgs))
		}
	})
}

func TestDecodeInvalidUTF8(t *testing.T) {
	tests := []struct {
		name string
		in   string
		bad  []int // nil: no error
	}{
		{"valid", `[{"channel":"/a","data":"été \u00e9"}]`, nil},
		{"in data", `[{"channel":"/a","data":"ok"},{"channel":"/a","data":{"t":"x` + "\xff\xfe" + `"}}]`, []int{1}},
		{"in an escaped string", `[{"channel":"/a","data":"\n` + "\xc3" + `"}]`, []int{0}},
		{"in a key", `{"channel":"/a","data":{"` + "\xed\xa0\x80" + `":1}}`, []int{0}},
		{"in subscription", `[{"channel":"/meta/subscribe","subscription":"/a` + "\xff" + `"},{"channel":"/b","data":1},{"channel":"/c","data":"` + "\x80" + `"}]`, []int{0, 2}},
		{"truncated sequence", `[{"channel":"/a","data":"` + "\xe2\x82" + `"}]`, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			msgs, err := NewDecoder().Decode(in)
			var bad *InvalidUTF8Error
			switch {
			case tt.bad == nil && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.bad == nil:
				return
			case !errors.As(err, &bad):
				t.Fatalf("Decode: error %v, want an *InvalidUTF8Error", err)
			case !slices.Equal(bad.Messages, tt.bad):
				t.Fatalf("invalid messages %v, want %v", bad.Messages, tt.bad)
			case len(msgs) != strings.Count(tt.in, `"channel"`):
				t.Fatalf("%d messages returned", len(msgs))
			}
		})
	}
}

func TestDecodeMaxMessages(t *testing.T) {
	frame := []byte("[" + strings.Repeat("{},", 99) + "{}]")
	tests := []struct {
		max  int
		fail bool
	}{{0, false}, {100, false}, {99, true}, {1, true}}
	for _, tt := range tests {
		d := NewDecoder()
		d.MaxMessages = tt.max
		msgs, err := d.Decode(frame)
		if tt.fail != errors.Is(err, ErrTooManyMessages) || !tt.fail && len(msgs) != 100 {
			t.Errorf("MaxMessages %d: %d messages, error %v", tt.max, len(msgs), err)
		}
	}
	// A refused frame costs at most MaxMessages messages.
	big := []byte("[" + strings.Repeat("{},", 300_000) + "{}]")
	d := NewDecoder()
	d.MaxMessages = 1000
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := d.Decode(big); !errors.Is(err, ErrTooManyMessages) {
			t.Fatal(err)
		}
	})
	if allocs > 10 {
		t.Errorf("refusing a frame of 300,001 messages takes %v allocations", allocs)
	}
}

func TestDecodeInterns(t *testing.T) {
	d := NewDecoder()
	frame := []byte(`[{"channel":"/bench/load","data":1},{"channel":"/bench/load","data":2}]`)
	a, err := d.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("decoding a frame of events takes %v allocations, want 1", allocs)
	}
	if len(a) != 2 || a[0].Channel != "/bench/load" || string(a[1].Data) != "2" {
		t.Errorf("decoded %+v", a)
	}
}

// TestDecodeSizesTheSlice checks that, once the decoder has seen a few,
// frames of one message get a slice of one, and that a frame of more
// messages than estimated is decoded whole.
func TestDecodeSizesTheSlice(t *testing.T) {
	d := NewDecoder()
	for i := range 5 {
		msgs, err := d.Decode([]byte(`[{"channel":"/a/b","data":{"n":1},"id":"7"}]`))
		if err != nil || len(msgs) != 1 || msgs[0].ID != "7" || string(msgs[0].Data) != `{"n":1}` {
			t.Fatalf("Decode: %+v, %v", msgs, err)
		}
		if i > 0 && cap(msgs) != 1 {
			t.Errorf("frame %d of one message: a slice of capacity %d", i, cap(msgs))
		}
	}
	msgs, err := d.Decode([]byte(`[{"channel":"/a","data":1},{"channel":"/b","data":2},{"channel":"/c","data":3}]`))
	if err != nil || len(msgs) != 3 || msgs[0].Channel != "/a" || msgs[2].Channel != "/c" || string(msgs[1].Data) != "2" {
		t.Fatalf("Decode of three: %+v, %v", msgs, err)
	}
}

func BenchmarkDecode(b *testing.B) {
	var frame []byte
	frame = append(frame, '[')
	for i := range 50 {
		if i > 0 {
			frame = append(frame, ',')
		}
		frame = append(frame, `{"channel":"/bench/load","data":{"seq":123456,"pub":0,"ts":1732537200123456789,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`...)
	}
	frame = append(frame, ']')
	b.Run("client", func(b *testing.B) {
		d := NewDecoder()
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decode(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	// One delivery a frame, as a subscriber of cometgen bench --broadcast
	// receives them.
	single := []byte(`[{"channel":"/bench/broadcast","data":{"seq":123,"pub":0,"ts":1767225600000000000,"pad":"` +
		strings.Repeat("x", 64) + `"},"id":"123"}]`)
	b.Run("single", func(b *testing.B) {
		d := NewDecoder()
		b.SetBytes(int64(len(single)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decode(single); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			var msgs []Message
			if err := json.Unmarshal(frame, &msgs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPlainString checks plainString against a byte-at-a-time reading for
// every byte value at every position of strings of up to 17 bytes.
func TestPlainString(t *testing.T) {
	naive := func(seg []byte) (plain, ascii bool) {
		plain, ascii = true, true
		for _, c := range seg {
			if c < 0x20 || c == '\\' {
				return false, false
			}
			if c >= 0x80 {
				ascii = false
			}
		}
		return plain, ascii
	}
	for n := range 18 {
		for pos := range n {
			for c := range 256 {
				for _, fill := range []byte{'x', 0x20, 0x7f, 0x5d, 0xc3} {
					seg := bytes.Repeat([]byte{fill}, n)
					seg[pos] = byte(c)
					p, a := plainString(seg)
					wp, wa := naive(seg)
					if p != wp || a != wa {
						t.Fatalf("plainString(%q) = %v, %v, want %v, %v", seg, p, a, wp, wa)
					}
				}
			}
		}
	}
}
