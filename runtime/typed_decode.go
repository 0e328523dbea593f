package runtime

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cometgen/cometgen/runtime/internal/jsontext"
)

// The direct decoder of TypedData.
//
// Most messages are flat: an object of strings, numbers, booleans and
// date-times, such as a chat message. For a struct of only such fields
// (and pointers to them), flatPlan decodes the JSON text directly, in one
// walk, without encoding/json's reflection and its check of the whole text
// beforehand, and keeps a pristine copy of what it decoded, so that
// TypedData can tell whether the handler changed the value.
//
// It decodes only what encoding/json would decode into the same value and
// re-encode to the same JSON but for whitespace, the order of the
// properties, the escaping of <, > and &, and how a float is written
// (1.50 for 1.5): every key must be a field's exact JSON name, seen once;
// strings without escapes; integers and date-times as encoding/json writes
// them; no null. Anything else gives up, and TypedData decodes with
// encoding/json and re-encodes after the handler, as it always did.

// flatKind is the kind of a flat field (or of what its pointer points to).
type flatKind uint8

const (
	flatString flatKind = iota
	flatBool
	flatInt
	flatFloat
	flatTime
)

// flatField is a field of a flat struct.
type flatField struct {
	name  string       // the JSON name
	index int          // the field's index in the struct
	kind  flatKind     // the kind of the field, or of its pointer's target
	elem  reflect.Type // the pointer's target, or nil for a field that is no pointer
	pair  reflect.Type // [2]elem: the targets of the value's pointer and its pristine copy's
	omit  string       // "omitempty", "omitzero" or ""
}

// flatPlan decodes a flat struct type.
type flatPlan struct {
	fields []flatField
	always uint64 // the fields encoding/json always writes, by index
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// newFlatPlan returns the plan of the struct *v points to, or nil when it
// is not flat.
func newFlatPlan(v any) *flatPlan {
	t := reflect.TypeOf(v).Elem()
	if t.Kind() != reflect.Struct || customJSON(t) || t.NumField() > 64 {
		return nil
	}
	p := &flatPlan{}
	names := make(map[string]bool)
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("json")
		if !f.IsExported() || f.Anonymous || !ok {
			return nil
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !validTagName(name) || names[name] {
			return nil
		}
		names[name] = true
		ff := flatField{name: name, index: i}
		switch opts {
		case "":
			p.always |= 1 << len(p.fields)
		case "omitempty", "omitzero":
			ff.omit = opts
		default:
			return nil // ",string", or both: encoded otherwise
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
			ff.elem, ff.pair = ft, reflect.ArrayOf(2, ft)
		}
		if ff.kind, ok = flatKindOf(ft); !ok {
			return nil
		}
		p.fields = append(p.fields, ff)
	}
	return p
}

// flatKindOf returns the kind of a flat field's type.
func flatKindOf(t reflect.Type) (flatKind, bool) {
	if t == timeType {
		return flatTime, true
	}
	if customJSON(t) {
		return 0, false
	}
	switch t.Kind() {
	case reflect.String:
		return flatString, true
	case reflect.Bool:
		return flatBool, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return flatInt, true
	case reflect.Float64:
		return flatFloat, true
	}
	return 0, false
}

// customJSON reports whether t or *t encodes or decodes itself.
func customJSON(t reflect.Type) bool {
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		if x.Implements(jsonMarshaler) || x.Implements(jsonUnmarshaler) ||
			x.Implements(textMarshaler) || x.Implements(textUnmarshaler) {
			return true
		}
	}
	return false
}

// validTagName reports whether encoding/json takes name from a tag as the
// field's JSON name (rather than the field's Go name).
func validTagName(name string) bool {
	if name == "" || name == "-" {
		return false
	}
	for _, c := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		default:
			return false // letters of other scripts too: encoding/json's business
		}
	}
	return true
}

// decode decodes data into *v (a zero value of the plan's struct) and the
// same into *pristine, with pointers of its own; false means: use
// encoding/json (v and pristine may be partly set).
func (p *flatPlan) decode(data []byte, v, pristine any) bool {
	rv, pv := reflect.ValueOf(v).Elem(), reflect.ValueOf(pristine).Elem()
	r := jsontext.NewReader(data)
	if !r.Next('{') {
		return false
	}
	var text string // data as a string, shared by the string fields
	var seen uint64
	if !r.Next('}') {
		for {
			r.Space()
			start, end, ok := r.String()
			if !ok || !r.Next(':') {
				return false
			}
			i := p.index(data[start:end])
			if i < 0 || seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			r.Space()
			if !p.fields[i].decode(&r, &text, rv, pv) {
				return false
			}
			if r.Next('}') {
				break
			}
			if !r.Next(',') {
				return false
			}
		}
	}
	if seen&p.always != p.always || !r.AtEnd() {
		return false // a field missing, which encoding/json writes
	}
	for i := range p.fields {
		if f := &p.fields[i]; seen&(1<<i) != 0 && f.omitted(rv.Field(f.index)) {
			return false // there, but encoding/json leaves it out
		}
	}
	return true
}

// omitted reports whether encoding/json leaves the field v out.
func (f *flatField) omitted(v reflect.Value) bool {
	switch {
	case f.omit == "" || f.elem != nil:
		return false // a pointer decoded is not nil
	case f.kind == flatTime:
		return f.omit == "omitzero" && v.Interface().(time.Time).IsZero()
	case f.omit == "omitzero":
		return v.IsZero()
	}
	switch f.kind { // omitempty
	case flatString:
		return v.Len() == 0
	case flatBool:
		return !v.Bool()
	case flatInt:
		return v.Int() == 0
	case flatFloat:
		return v.Float() == 0
	}
	return false
}

// index returns the index in p.fields of the field named name, or -1.
func (p *flatPlan) index(name []byte) int {
	for i := range p.fields {
		if p.fields[i].name == string(name) {
			return i
		}
	}
	return -1
}

// decode reads the field's value into v's field and pristine's.
func (f *flatField) decode(r *jsontext.Reader, text *string, v, pristine reflect.Value) bool {
	dst, cp := v.Field(f.index), pristine.Field(f.index)
	if f.elem != nil {
		if r.Peek() == 'n' {
			return false // null: encoding/json's business
		}
		pair := reflect.New(f.pair).Elem() // one allocation for both
		dst.Set(pair.Index(0).Addr())
		cp.Set(pair.Index(1).Addr())
		dst, cp = pair.Index(0), pair.Index(1)
	}
	switch f.kind {
	case flatString:
		start, end, ok := r.String()
		if !ok {
			return false
		}
		if *text == "" {
			*text = string(r.Bytes())
		}
		dst.SetString((*text)[start:end])
	case flatBool:
		switch {
		case r.Word("true"):
			dst.SetBool(true)
		case r.Word("false"):
		default:
			return false
		}
	case flatInt:
		num, ok := r.Number()
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(string(num), 10, 64)
		var buf [24]byte
		if err != nil || dst.OverflowInt(n) || string(strconv.AppendInt(buf[:0], n, 10)) != string(num) {
			return false // "-0" is written "0"
		}
		dst.SetInt(n)
	case flatFloat:
		num, ok := r.Number()
		if !ok {
			return false
		}
		x, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return false
		}
		dst.SetFloat(x)
	case flatTime:
		start, end, ok := r.String()
		if !ok {
			return false
		}
		// As encoding/json does: the time decodes the JSON string itself.
		t := dst.Addr().Interface().(*time.Time)
		if err := t.UnmarshalJSON(r.Bytes()[start-1 : end+1]); err != nil {
			return false
		}
		var buf [64]byte
		if string(t.AppendFormat(buf[:0], time.RFC3339Nano)) != string(r.Bytes()[start:end]) {
			return false // written otherwise (".000", "-00:00"): re-encode it as before
		}
	}
	cp.Set(dst)
	return true
}

// equal reports whether *v holds what *pristine holds, field by field
// (what pointers point to, not the pointers).
func (p *flatPlan) equal(v, pristine any) bool {
	rv, pv := reflect.ValueOf(v).Elem(), reflect.ValueOf(pristine).Elem()
	for i := range p.fields {
		f := &p.fields[i]
		a, b := rv.Field(f.index), pv.Field(f.index)
		if f.elem != nil {
			if a.IsNil() || b.IsNil() {
				if a.IsNil() != b.IsNil() {
					return false
				}
				continue
			}
			a, b = a.Elem(), b.Elem()
		}
		switch f.kind {
		case flatString:
			if a.String() != b.String() {
				return false
			}
		case flatBool:
			if a.Bool() != b.Bool() {
				return false
			}
		case flatInt:
			if a.Int() != b.Int() {
				return false
			}
		case flatFloat:
			if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
				return false
			}
		case flatTime:
			if *a.Addr().Interface().(*time.Time) != *b.Addr().Interface().(*time.Time) {
				return false
			}
		}
	}
	return true
}
