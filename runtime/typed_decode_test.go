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
