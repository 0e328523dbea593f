package runtime

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
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
