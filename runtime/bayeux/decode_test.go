package bayeux

import (
	"encoding/json"
	"reflect"
	"testing"
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
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decode(%q): error %v, encoding/json: %v", in, err, wantErr)
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("decode(%q): %d messages, want %d", in, len(got), len(want))
	}
	for i := range got {
		// Raw fields keep the sender's spacing in both decoders; compare
		// their compacted forms and the rest field by field.
		g, w := got[i], want[i]
		if !sameJSON(g.Data, w.Data) || !sameJSON(g.Subscription, w.Subscription) {
			t.Fatalf("decode(%q)[%d]: raw fields %s %s, want %s %s", in, i, g.Data, g.Subscription, w.Data, w.Subscription)
		}
		g.Data, w.Data, g.Subscription, w.Subscription = nil, nil, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("decode(%q)[%d]:\n got %+v\nwant %+v", in, i, g, w)
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
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func FuzzDecode(f *testing.F) {
	for _, in := range decodeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in)
	})
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
