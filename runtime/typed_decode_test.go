package runtime

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime/internal/rfc3339"
)

type selfDecoding string

func (s *selfDecoding) UnmarshalJSON([]byte) error { return nil }

// TestFlatPlan: which types the direct decoder takes.
func TestFlatPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		flat bool
	}{
		{"flat", &struct {
			A string     `json:"a"`
			B *time.Time `json:"b,omitempty"`
			C int64      `json:"c,omitzero"`
			D *bool      `json:"d"`
			E float64    `json:"e/f"`
		}{}, true},
		{"no fields", &struct{}{}, true},
		{"slice", &struct {
			A []string `json:"a"`
		}{}, false},
		{"nested", &struct {
			A struct{} `json:"a"`
		}{}, false},
		{"string option", &struct {
			A int64 `json:"a,string"`
		}{}, false},
		{"untagged", &struct{ A string }{}, false},
		{"tag without name", &struct {
			A string `json:",omitempty"`
		}{}, false},
		{"ignored", &struct {
			A string `json:"-"`
		}{}, false},
		{"other script", &struct {
			A string `json:"é"`
		}{}, false},
		{"self-decoding field", &struct {
			A selfDecoding `json:"a"`
		}{}, false},
		{"float32", &struct {
			A float32 `json:"a"`
		}{}, false},
		{"raw", &json.RawMessage{}, false},
		{"map", &map[string]string{}, false},
	} {
		if got := newFlatPlan(reflect.TypeOf(tc.v).Elem()) != nil; got != tc.flat {
			t.Errorf("%s: flat %v, want %v", tc.name, got, tc.flat)
		}
	}
}

// TestFlatPlanIndex: the plan finds a field by its name as a search of
// every field does, for names whose hashes collide and names of no field.
func TestFlatPlanIndex(t *testing.T) {
	p := newFlatPlan(reflect.TypeFor[struct {
		A string `json:"ab"`
		B string `json:"ba"`
		C string `json:"a"`
		D string `json:"user"`
		E string `json:"text"`
		F string `json:"room"`
		G string `json:"sent"`
		H string `json:"u/r"`
		I string `json:"x"`
		J string `json:"eightchr"`
		K string `json:"ninechars"`
		L string `json:"a-much-longer-name"`
	}]())
	names := []string{"", "a", "b", "x", "y", "ab", "ba", "aa", "bb", "user", "usEr", "text", "room", "sent", "rent", "u/r", "uxr", "users", "sentx", "eightchr", "eightchx", "xightchr", "eightch", "ninechars", "ninecharx", "a-much-longer-name", "a-much-longer-namf", "b-much-longer-name"}
	for c := 'a'; c <= 'z'; c++ {
		names = append(names, string(c), string(c)+"b", "a"+string(c))
	}
	for _, name := range names {
		want := -1
		for i, f := range p.fields {
			if f.name == name {
				want = i
			}
		}
		// The name alone, and followed by the rest of a text.
		for _, b := range [][]byte{[]byte(name), []byte(name + `":"hello, world"}`)} {
			if got := p.index(b, len(name)); got != want {
				t.Errorf("index(%q, %d) = %d, want %d", b, len(name), got, want)
			}
		}
	}
	collide := false
	for _, i := range p.names {
		collide = collide || i == sameHash
	}
	if !collide {
		t.Errorf("no two names of the test share a hash: the search of several is not tested")
	}
}

// referenceUTC is what decodeTime did before decodeUTC: rfc3339.Parse,
// the test of Go's form of a UTC time, and time.Date.
func referenceUTC(b []byte) (time.Time, bool) {
	dt, rfc := rfc3339.Parse(b)
	if rfc && dt.Z && dt.Upper && (dt.FracDigits == 0 || dt.FracDigits <= 9 && b[len(b)-2] != '0') {
		return time.Date(dt.Year, time.Month(dt.Month), dt.Day, dt.Hour, dt.Minute, dt.Second, dt.Nanosecond, time.UTC), true
	}
	return time.Time{}, false
}

// checkUTC compares decodeUTC with referenceUTC for text.
func checkUTC(t *testing.T, text string) {
	t.Helper()
	got, ok := decodeUTC([]byte(text))
	want, wantOK := referenceUTC([]byte(text))
	if ok != wantOK || got != want {
		t.Errorf("decodeUTC(%q) = %v, %v; want %v, %v", text, got, ok, want, wantOK)
	}
}

// TestDecodeUTC: decodeUTC reads what the general way reads as Go's form of
// a UTC time, into the same time.Time (==, not only Equal), and nothing
// else: every date of a few years, every field out of range, a character
// other than a digit in every place, fractions of every length.
func TestDecodeUTC(t *testing.T) {
	for _, year := range []int{0, 1, 1969, 1970, 2000, 2024, 2026, 2100, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				checkUTC(t, fmt.Sprintf("%04d-%02d-%02dT12:34:56Z", year, month, day))
			}
		}
	}
	for _, hms := range []string{"00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "99:99:99"} {
		checkUTC(t, "2026-11-25T"+hms+"Z")
	}
	base := "2026-11-25T13:04:05.123456789Z"
	for i := range len(base) {
		for _, c := range []byte{'0', '9', '/', ':', 'a', 'T', 't', 'Z', 'z', '.', '-', '+', ' ', 0xff} {
			b := []byte(base)
			b[i] = c
			checkUTC(t, string(b))
		}
	}
	for n := 0; n <= 11; n++ {
		for _, last := range []string{"0", "5"} {
			frac := strings.Repeat("1", n)
			if n > 0 {
				frac = frac[:n-1] + last
			}
			checkUTC(t, "2026-11-25T13:04:05."+frac+"Z")
		}
	}
	for _, text := range []string{"", "2026-11-25T13:04:05", "2026-11-25T13:04:05+00:00", "2026-11-25t13:04:05Z", "2026-11-25T13:04:05z", "2026-11-25T13:04:05ZZ", "12026-11-25T13:04:05Z", "2026-2-25T13:04:05Z"} {
		checkUTC(t, text)
	}
}

func FuzzDecodeUTC(f *testing.F) {
	for _, s := range []string{"2026-11-25T13:04:05Z", "2026-11-25T13:04:05.5Z", "0000-02-29T00:00:00Z", "2024-02-29T23:59:59.999999999Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) { checkUTC(t, text) })
}
