package runtime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/validate"
)

// typedChat is a flat message, as cometgen generates it.
type typedChat struct {
	User string     `json:"user"`
	Text string     `json:"text"`
	Sent *time.Time `json:"sent,omitempty"`
}

type typedColor string

// typedFlat has every kind of field the direct decoder knows.
type typedFlat struct {
	Name   string     `json:"name"`
	Count  int64      `json:"count"`
	Small  int8       `json:"small,omitempty"`
	Ratio  float64    `json:"ratio"`
	OK     bool       `json:"ok"`
	Color  typedColor `json:"color,omitempty"`
	At     time.Time  `json:"at"`
	Opt    *string    `json:"opt,omitempty"`
	OptN   *int64     `json:"optN,omitempty"`
	OptB   *bool      `json:"optB,omitempty"`
	OptF   *float64   `json:"optF,omitempty"`
	OptAt  *time.Time `json:"optAt,omitempty"`
	Weird_ string     `json:"we/ird"`
}

// typedNested is not flat: encoding/json decodes it.
type typedNested struct {
	Tags []string  `json:"tags"`
	Chat typedChat `json:"chat"`
}

// typedTexts are message data for the differential tests: flat messages
// written in every way, and what the direct decoder leaves to
// encoding/json.
var typedTexts = []string{
	`{"user":"alice","text":"hello, world","sent":"2026-11-25T13:00:00Z"}`,
	` { "user" : "alice" , "text":"<b>héllo</b> & 日本" } `,
	`{"user":"alice","text":"a\nb"}`,
	`{"user":"alice","text":"\u00e9"}`,
	`{"USER":"alice","text":"x"}`,
	`{"user":"alice","user":"bob","text":"x"}`,
	`{"user":"alice","text":"x","extra":1}`,
	`{"sent":"2026-11-25T13:00:00Z","text":"hello","user":"alice"}`,
	`{"text":"hello","user":"alice","text":"again"}`,
	`{"user":"alice","text":"x","sent":null}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.000Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00+01:00"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.123456789-07:30"}`,
	`{"user":"alice","text":"x","sent":"yesterday"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.123456789Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.1234567891Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.5Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.50Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25t13:00:00z"}`,
	`{"user":"alice","text":"x","sent":"2024-02-29T00:00:00Z"}`,
	`{"user":"alice","text":"x","sent":"2026-02-29T00:00:00Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T23:59:60Z"}`,
	`{"user":"alice","text":"x","sent":"0000-01-01T00:00:00Z"}`,
	`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00+00:00"}`,
	`{"user":"alice","text":1}`,
	`{"user":"alice","text":"x"} x`,
	`{"user":"alice","text":"x",}`,
	"{\"user\":\"al\xffice\",\"text\":\"x\"}",
	`{}`,
	`[]`,
	`null`,
	`"x"`,
	``,
	`{"name":"n","count":12,"small":-3,"ratio":1.5,"ok":true,"color":"red","at":"2026-11-25T13:00:00Z","we/ird":"w"}`,
	`{"name":"n","count":12,"ratio":1.50,"ok":false,"at":"2026-11-25T13:00:00Z","opt":"o","optN":7,"optB":false,"optF":2e3,"optAt":"2026-01-02T03:04:05.5Z"}`,
	`{"count":1.0}`,
	`{"count":1e2}`,
	`{"count":-0}`,
	`{"count":9223372036854775808}`,
	`{"small":300}`,
	`{"ratio":1e400}`,
	`{"ok":"true"}`,
	`{"ok":tru}`,
	`{"optN":null}`,
	`{"Name":"n"}`,
	`{"tags":["a","b"],"chat":{"user":"u","text":"t"}}`,
	// Texts as long as the rooms of the blocks (runtime/typed_decode.go)
	// and longer than the last.
	`{"user":"alice","text":"` + strings.Repeat("y", 64-len(`{"user":"alice","text":""}`)) + `"}`,
	`{"user":"alice","text":"` + strings.Repeat("y", 65-len(`{"user":"alice","text":""}`)) + `"}`,
	`{"user":"alice","text":"` + strings.Repeat("y", 4096-len(`{"user":"alice","text":""}`)) + `"}`,
	`{"user":"alice","text":"` + strings.Repeat("y", 5000) + `","sent":"2026-11-25T13:00:00Z"}`,
}

// dispatchAs publishes data through TypedData[T] with a handler that
// applies change, and returns the value the handler saw and m's data
// after.
func dispatchAs[T any](t *testing.T, schema *validate.Schema, data string, change func(*T)) (*T, json.RawMessage, error) {
	t.Helper()
	td := runtime.NewTypedData[T](schema, "Message")
	m := &bayeux.Message{Channel: "/chat/lobby", Data: json.RawMessage(data)}
	var seen *T
	err := td.Dispatch(m, func(v *T) error {
		seen = v
		if change != nil {
			change(v)
		}
		return nil
	})
	return seen, m.Data, err
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// checkTyped compares TypedData[T] with what generated code did before it:
// json.Unmarshal, the handler, json.Marshal. The handler sees the same
// value, the publisher gets an error for the same data, and the data
// delivered is the JSON of the value after the handler when it changed
// the value, and the data as published when it did not.
func checkTyped[T any](t *testing.T, data string, change func(*T)) {
	t.Helper()
	var want T
	wantErr := json.Unmarshal([]byte(data), &want)
	changed := false // the change made a difference
	seen, got, err := dispatchAs(t, nil, data, func(v *T) {
		if !reflect.DeepEqual(*v, want) {
			t.Errorf("%s: the handler sees %+v, encoding/json decodes %+v", data, *v, want)
		}
		if change != nil {
			before, _ := json.Marshal(&want)
			change(v)
			change(&want)
			after, _ := json.Marshal(&want)
			changed = !bytes.Equal(before, after)
		}
	})
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, encoding/json's %v", data, err, wantErr)
	}
	if err != nil {
		var be *bayeux.Error
		if !errors.As(err, &be) || be.Error() != "400:data is not a Message:invalid_message" {
			t.Errorf("%s: error %v", data, err)
		}
		return
	}
	if !changed {
		// Unchanged: the data as published, even what T has no field for.
		if string(got) != data {
			t.Errorf("%s: delivers %s, want the data as published", data, got)
		}
	} else {
		wantData, err := json.Marshal(&want)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, got, wantData) {
			t.Errorf("%s: delivers %s, want %s", data, got, wantData)
		}
	}
	if seen == nil {
		t.Errorf("%s: the handler was not called", data)
	}
}

// TestTypedDataAsEncodingJSON: TypedData decodes and re-encodes as
// encoding/json, for flat types (decoded directly) and others.
func TestTypedDataAsEncodingJSON(t *testing.T) {
	for _, data := range typedTexts {
		checkTyped[typedChat](t, data, nil)
		checkTyped[typedFlat](t, data, nil)
		checkTyped[typedNested](t, data, nil)
	}
}

// typedFlatText is a typedFlat that is decoded directly.
const typedFlatText = `{"name":"n","count":12,"ratio":1.5,"ok":true,"color":"red","at":"2026-11-25T13:00:00Z","opt":"o","optN":7,"optAt":"2026-01-02T03:04:05.5Z","we/ird":"w"}`

// TestTypedDataChanges: what the handler changes is delivered, however it
// changes it.
func TestTypedDataChanges(t *testing.T) {
	other := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, change := range map[string]func(*typedFlat){
		"string":            func(v *typedFlat) { v.Name += "!" },
		"int":               func(v *typedFlat) { v.Count++ },
		"float":             func(v *typedFlat) { v.Ratio *= 2 },
		"negative zero":     func(v *typedFlat) { v.Ratio = -v.Ratio * 0 },
		"bool":              func(v *typedFlat) { v.OK = !v.OK },
		"named":             func(v *typedFlat) { v.Color = "blue" },
		"time":              func(v *typedFlat) { v.At = v.At.Add(time.Second) },
		"time location":     func(v *typedFlat) { v.At = v.At.In(time.FixedZone("x", 3600)) },
		"pointer target":    func(v *typedFlat) { *v.OptAt = other },
		"pointer int":       func(v *typedFlat) { *v.OptN = 8 },
		"pointer to nil":    func(v *typedFlat) { v.Opt = nil },
		"pointer from nil":  func(v *typedFlat) { s := "new"; v.Opt = &s },
		"same pointee":      func(v *typedFlat) { x := *v.OptAt; v.OptAt = &x },
		"nothing":           func(*typedFlat) {},
		"everything zeroed": func(v *typedFlat) { *v = typedFlat{} },
	} {
		t.Run(name, func(t *testing.T) {
			checkTyped(t, typedFlatText, change)
		})
	}
}

// TestTypedDataUnchanged: a message the handler leaves alone is delivered
// as published, without being encoded again.
func TestTypedDataUnchanged(t *testing.T) {
	data := `{"user":"alice","text":"<b>hi</b>","sent":"2026-11-25T13:00:00Z"}`
	_, got, err := dispatchAs[typedChat](t, nil, data, nil)
	if err != nil || string(got) != data {
		t.Errorf("delivers %s, %v; want the data as published", got, err)
	}
	if _, got, err := dispatchAs[typedFlat](t, nil, typedFlatText, nil); err != nil || string(got) != typedFlatText {
		t.Errorf("delivers %s, %v; want the data as published", got, err)
	}
	// Through encoding/json (an absent field, a time written otherwise, a
	// property the type lacks, a value that is not flat): still delivered
	// as published, nothing of it lost.
	for _, data := range []string{
		`{"user":"alice"}`,
		`{"user":"alice","text":"x","sent":"2026-11-25T13:00:00.0Z"}`,
		`{"user":"alice","text":"x","room":"lobby","extra":{"a":[1,2]}}`,
	} {
		if _, got, err := dispatchAs[typedChat](t, nil, data, nil); err != nil || string(got) != data {
			t.Errorf("%s: delivers %s, %v; want the data as published", data, got, err)
		}
	}
	if data := strings.Replace(typedFlatText, `"ok":true`, `"ok":true,"small":0`, 1); true {
		if _, got, err := dispatchAs[typedFlat](t, nil, data, nil); err != nil || string(got) != data {
			t.Errorf("%s: delivers %s, %v; want the data as published", data, got, err)
		}
	}
	if _, got, err := dispatchAs[typedNested](t, nil, `{"tags": ["a"]}`, nil); err != nil || string(got) != `{"tags": ["a"]}` {
		t.Errorf("delivers %s, %v; want the data as published", got, err)
	}
}

// TestTypedDataOwnsItsValue: the value a handler keeps stays what it was
// when the published data's buffer is used again (as a request body's
// is), whatever the length of the text; and every message has a value of
// its own.
func TestTypedDataOwnsItsValue(t *testing.T) {
	for _, n := range []int{1, 40, 100, 5000} {
		data := `{"user":"alice","text":"` + strings.Repeat("y", n) + `","sent":"2026-11-25T13:00:00Z"}`
		buf := []byte(data)
		td := runtime.NewTypedData[typedChat](nil, "Message")
		var kept []*typedChat
		for range 2 {
			if err := td.Dispatch(&bayeux.Message{Data: buf}, func(v *typedChat) error {
				kept = append(kept, v)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range buf {
			buf[i] = 'z'
		}
		*kept[1].Sent = kept[1].Sent.Add(time.Hour)
		kept[1].User = "bob"
		if v := kept[0]; v == kept[1] || v.User != "alice" || v.Text != strings.Repeat("y", n) || !v.Sent.Equal(time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)) {
			t.Errorf("text of %d bytes: the value kept is now %+v", len(data), *v)
		}
	}
}

// typedManyPointers has more pointer fields of a kind than the decoder
// holds on the stack (flatHeldBuf).
type typedManyPointers struct {
	A *string  `json:"a,omitempty"`
	B *string  `json:"b,omitempty"`
	C *string  `json:"c,omitempty"`
	D *string  `json:"d,omitempty"`
	E *string  `json:"e,omitempty"`
	N *int32   `json:"n,omitempty"`
	O *int64   `json:"o,omitempty"`
	P *bool    `json:"p,omitempty"`
	Q *float64 `json:"q,omitempty"`
	R *int8    `json:"r,omitempty"`
	S string   `json:"s"`
}

// TestTypedDataManyPointers: a message with more pointer fields of a kind
// than the decoder holds on its stack decodes, and tells changes, as
// encoding/json.
func TestTypedDataManyPointers(t *testing.T) {
	texts := []string{
		`{"a":"1","b":"22","c":"333","d":"4444","e":"55555","n":-7,"o":8,"p":true,"q":1.5,"r":-9,"s":"s"}`,
		`{"e":"5","a":"1","s":"","r":1}`,
		`{"s":"x"}`,
	}
	for _, data := range texts {
		checkTyped[typedManyPointers](t, data, nil)
		checkTyped(t, data, func(v *typedManyPointers) {
			if v.E != nil {
				*v.E += "!"
			}
			if v.R != nil {
				*v.R++
			}
		})
		checkTyped(t, data, func(v *typedManyPointers) { v.A, v.B = v.B, v.A })
		if _, got, err := dispatchAs[typedManyPointers](t, nil, data, nil); err != nil || string(got) != data {
			t.Errorf("%s: delivers %s, %v; want the data as published", data, got, err)
		}
	}
}

// TestTypedDataSchema: data that breaks the schema is refused with the
// violations, before the handler.
func TestTypedDataSchema(t *testing.T) {
	sch := validate.MustCompile(`{"type":"object","required":["user","text"],"additionalProperties":false,"properties":{"user":{"type":"string","minLength":1},"text":{"type":"string","maxLength":5},"sent":{"type":"string","format":"date-time"}}}`)
	for _, data := range []string{`{"user":"","text":"x"}`, `{"user":"a","text":"toolong"}`, `{"user":"a"}`, `{"user":"a","text":"x","sent":"x"}`, `nope`} {
		called := false
		_, _, err := dispatchAs(t, sch, data, func(*typedChat) { called = true })
		want := validate.Error(sch.ValidateJSON(json.RawMessage(data)))
		if want == nil || err == nil || err.Error() != want.Error() || called {
			t.Errorf("%s: error %v (handler called: %v), want %v", data, err, called, want)
		}
	}
	if _, got, err := dispatchAs[typedChat](t, sch, `{"user":"a","text":"x"}`, nil); err != nil || string(got) != `{"user":"a","text":"x"}` {
		t.Errorf("a valid message: %s, %v", got, err)
	}
}

// TestTypedDataHandlerError: the handler's error is the publisher's, and
// the data is left alone.
func TestTypedDataHandlerError(t *testing.T) {
	td := runtime.NewTypedData[typedChat](nil, "ChatMessage")
	m := &bayeux.Message{Data: json.RawMessage(`{"user":"a","text":"x"}`)}
	refused := bayeux.NewError(403, "nope")
	err := td.Dispatch(m, func(v *typedChat) error {
		v.Text = "changed"
		return refused
	})
	if err != refused || string(m.Data) != `{"user":"a","text":"x"}` {
		t.Errorf("error %v, data %s", err, m.Data)
	}
	err = runtime.NewTypedData[typedChat](nil, "ChatMessage").Dispatch(&bayeux.Message{Data: json.RawMessage(`[]`)}, func(*typedChat) error { return nil })
	if err == nil || err.Error() != "400:data is not a ChatMessage:invalid_message" {
		t.Errorf("error %v", err)
	}
}

// TestTypedDataAllocs: the direct path of a chat message allocates once:
// the value, its pristine copy, the copy of the text its strings share and
// the targets of its pointers are one block.
func TestTypedDataAllocs(t *testing.T) {
	td := runtime.NewTypedData[typedChat](nil, "ChatMessage")
	m := &bayeux.Message{Data: json.RawMessage(`{"user":"alice","text":"hello","sent":"2026-11-25T13:00:00Z"}`)}
	handle := func(*typedChat) error { return nil }
	if n := testing.AllocsPerRun(100, func() {
		if err := td.Dispatch(m, handle); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("%v allocations per dispatch, want 1", n)
	}
}

// FuzzTypedData: whatever the data, TypedData decodes it as encoding/json
// does and delivers the JSON of what the handler left.
func FuzzTypedData(f *testing.F) {
	for _, data := range typedTexts {
		f.Add(data, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data string, change uint8) {
		checkTyped(t, data, func(v *typedFlat) {
			switch change % 4 {
			case 1:
				v.Name = strings.ToUpper(v.Name)
			case 2:
				if v.OptAt != nil {
					*v.OptAt = v.OptAt.Add(time.Hour)
				}
			case 3:
				v.Count++
			}
		})
		checkTyped[typedChat](t, data, nil)
	})
}

// typedSchemas are schemas of typedChat and typedFlat whose checks the
// direct decoder makes in its walk (validate.Flat), and some it must leave
// to the schema's own check.
var typedSchemas = []string{
	`{"type":"object","required":["user","text"],"additionalProperties":false,"properties":{"user":{"type":"string","minLength":1,"maxLength":8},"text":{"type":"string","pattern":"^[a-z, ]*$"},"sent":{"type":"string","format":"date-time"}}}`,
	`{"type":"object","required":["name","count","at"],"properties":{"name":{"enum":["n","m"]},"count":{"type":"integer","minimum":0,"maximum":100,"multipleOf":3},"small":{"type":"integer","exclusiveMaximum":0},"ratio":{"type":"number","exclusiveMinimum":1},"ok":{"const":true},"color":{"type":"string","enum":["red","blue"]},"at":{"type":"string","format":"date-time"},"opt":{"type":"string","maxLength":1},"optN":{"type":"integer","maximum":5},"optB":{"type":"boolean"},"optF":{"type":"number","maximum":1000},"optAt":{"type":"string","format":"date-time"},"we/ird":{"type":"string","minLength":2}}}`,
	`{"type":"object","properties":{"name":{"type":"integer"},"count":{"type":"string"},"ok":{"type":"number"}}}`,
	`{"type":"object","required":["missing"],"properties":{"name":{"type":"string"}}}`,
	`{"type":"object","minProperties":3,"properties":{"user":{"type":"string"}}}`,
	`{"properties":{"user":{"type":["string","null"]},"text":{}}}`,
	`{"type":"object","additionalProperties":false,"properties":{"user":{"type":"string"}}}`,
	`{"type":"object","properties":{"user":{"type":"object","properties":{"a":{}}},"text":{"type":"array","items":{}},"name":{"minLength":2,"maximum":1},"count":{"minLength":5},"ok":{"enum":[1,true]}}}`,
}

// checkTypedSchema dispatches data with schema and requires exactly the
// schema's own verdict: its violations refuse the message, and valid data
// is never refused for the schema.
func checkTypedSchema[T any](t *testing.T, schema, data string) {
	t.Helper()
	sch := validate.MustCompile(schema)
	want := validate.Error(sch.ValidateJSON(json.RawMessage(data)))
	called := false
	_, _, err := dispatchAs(t, sch, data, func(*T) { called = true })
	if want != nil {
		if err == nil || sameViolations(err.Error()) != sameViolations(want.Error()) || called {
			t.Errorf("%s with %s: error %v (handler called: %v), want %v", data, schema, err, called, want)
		}
		return
	}
	if err != nil && err.Error() != "400:data is not a Message:invalid_message" {
		t.Errorf("%s with %s: valid data refused: %v", data, schema, err)
	}
}

// additionalRE matches the library's list of undeclared properties, whose
// order varies from one validation to the next.
var additionalRE = regexp.MustCompile(`additionalProperties .* not allowed`)

// sameViolations returns an error text with that list left out.
func sameViolations(s string) string {
	return additionalRE.ReplaceAllString(s, "additionalProperties … not allowed")
}

// TestTypedDataFlatSchema checks the walk that decodes and validates at
// once against the schema's own check, for every text and schema.
func TestTypedDataFlatSchema(t *testing.T) {
	extra := []string{
		`{"user":"alice","text":"hello, world"}`,
		`{"user":"","text":"x"}`,
		`{"user":"alice-and-bob","text":"x"}`,
		`{"user":"a","text":"X"}`,
		`{"user":"a","text":"x","sent":"2026-13-25T13:00:00Z"}`,
		`{"name":"n","count":3,"ratio":1.5,"ok":true,"at":"2026-11-25T13:00:00Z","we/ird":"ww"}`,
		`{"name":"n","count":4,"ratio":1.5,"ok":true,"at":"2026-11-25T13:00:00Z","we/ird":"ww"}`,
		`{"name":"x","count":3,"ratio":1,"ok":false,"at":"2026-11-25T13:00:00Z","we/ird":"w","color":"green","small":1,"opt":"oo","optN":6,"optF":1001}`,
		`{"name":"n","count":102,"at":"2026-11-25T13:00:00Z"}`,
		`{"name":"n","count":-3,"at":"2026-11-25T13:00:00Z"}`,
		`{"name":"m","count":9007199254740993,"at":"2026-11-25T13:00:00Z"}`,
	}
	for _, schema := range typedSchemas {
		for _, data := range append(slices.Clone(typedTexts), extra...) {
			checkTypedSchema[typedChat](t, schema, data)
			checkTypedSchema[typedFlat](t, schema, data)
		}
	}
}

func FuzzTypedDataFlatSchema(f *testing.F) {
	for i, data := range typedTexts {
		f.Add(data, uint8(i))
	}
	f.Fuzz(func(t *testing.T, data string, which uint8) {
		schema := typedSchemas[int(which)%len(typedSchemas)]
		checkTypedSchema[typedChat](t, schema, data)
		checkTypedSchema[typedFlat](t, schema, data)
	})
}

// TestTypedDataWithoutStringBytes: a value whose strings are all empty
// gets the block with no room for them, without an address past its end
// (go test -race checks pointers).
func TestTypedDataWithoutStringBytes(t *testing.T) {
	for _, data := range []string{`{"user":"","text":""}`, `{"user":""}`} {
		var seen typedChat
		_, got, err := dispatchAs(t, nil, data, func(v *typedChat) { seen = *v })
		if err != nil || string(got) != data {
			t.Errorf("%s: delivers %s, %v", data, got, err)
		}
		if seen.User != "" || seen.Text != "" {
			t.Errorf("%s: the handler sees %+v", data, seen)
		}
	}
}
