package runtime

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cometgen/cometgen/runtime/internal/jsontext"
	"github.com/cometgen/cometgen/runtime/internal/rfc3339"
	"github.com/cometgen/cometgen/runtime/validate"
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
// The walk decodes into the pristine copy, on Dispatch's stack, with its
// strings in the message's data and the values of its pointer fields held
// apart (flatHeld); then one block (flatBlock) is allocated for the value
// the handler gets, sized for what was decoded: the value, what its
// pointers point to, and one copy of the bytes of its strings.
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

// flatField is a field of a flat struct. It is small, so that the plan
// of a message stays in few cache lines.
type flatField struct {
	name   string  // the JSON name
	word   uint64  // a name of at most 8 bytes as a word (nameWord), which a key is compared with
	offset uintptr // the field's offset in the struct
	// A pointer field's value is held in slot of the flatHeld slice of
	// its kind while decoding, and its target is at offset target in the
	// block.
	target  uintptr
	slot    uint8
	kind    flatKind // the kind of the field, or of its pointer's target
	size    uint8    // the size of an integer
	pointer bool     // a pointer to the kind
	omit    flatOmit
}

// flatOmit is the option of a field that encoding/json may leave out.
type flatOmit uint8

const (
	omitNever flatOmit = iota
	omitEmpty          // "omitempty"
	omitZero           // "omitzero"
)

// flatPlan decodes a flat struct type.
type flatPlan struct {
	fields []flatField
	always uint64 // the fields encoding/json always writes, by index
	omits  uint64 // the fields, not pointers, that encoding/json may leave out
	// held is the number of pointer fields whose values are held as
	// strings, date-times and words (see flatHeld).
	held [3]int
	// blocks are the types of a decoded value's memory, without room for
	// strings first, then with room for ever more bytes (see flatBlock).
	blocks []flatBlock
	text   uintptr // the offset of the room for the strings in a block
	// names finds a field by its name's hash (nameHash): the index of
	// the one field with that hash, noField for none, or sameHash when
	// several have it.
	names [64]int8
}

const (
	noField  = -1
	sameHash = -2
)

// nameWord returns the first n bytes of b (n <= 8, len(b) >= n) as a
// little-endian word.
func nameWord(b []byte, n int) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b) & (1<<(8*n) - 1) // for n == 8, 1<<64 is 0 and 0-1 all ones
	}
	var w uint64
	for i := n - 1; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	return w
}

// nameHash is the slot of a field name in flatPlan.names (name is not
// empty).
func nameHash(name []byte) int {
	return (len(name)*7 + int(name[0]) + int(name[len(name)-1])*3) & 63
}

// A flatBlock is a type whose one allocation holds the value a handler
// gets: the value, the targets of its pointer fields, and the bytes of its
// strings:
//
//	struct {
//		V    T       // the value
//		F3   E3      // the target of pointer field 3 (a *E3)
//		Text [n]byte // the bytes of the strings (only with string fields)
//	}
//
// Built with reflect.StructOf, so that the garbage collector knows where
// its pointers are. Whoever keeps any part of the value (a string, a
// pointer field's target) keeps the whole block.
type flatBlock struct {
	typ  reflect.Type
	room int // the length of Text
}

// flatRooms are the lengths of Text of a plan's blocks: a value's strings
// are copied into the first that holds them, and more bytes than the last
// into memory of their own.
var flatRooms = [...]int{8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096}

// flatHeld holds the values of a message's pointer fields while it is
// decoded, and then as the pristine copy's targets (whose own pointer
// fields stay nil), so that the value can be compared with them after the
// handler. Dispatch keeps it, and its memory, on its stack.
type flatHeld struct {
	strs  []string
	times []time.Time
	words []uint64 // a bool, an integer or a float64, stored as the field's type at its start
}

// The kinds of held values, as indexes of flatPlan.held.
const (
	heldString = iota
	heldTime
	heldWord
)

// heldKind returns the slice of flatHeld that holds the target of a
// pointer field of kind k.
func heldKind(k flatKind) int {
	switch k {
	case flatString:
		return heldString
	case flatTime:
		return heldTime
	}
	return heldWord
}

// flatHeldBuf is the memory of a flatHeld for a plan with at most four
// pointer fields of each held kind.
type flatHeldBuf struct {
	strs  [4]string
	times [4]time.Time
	words [4]uint64
}

// newHeld returns the flatHeld of a decode, in buf's memory when it is
// enough.
func (p *flatPlan) newHeld(buf *flatHeldBuf) flatHeld {
	h := flatHeld{strs: buf.strs[:], times: buf.times[:], words: buf.words[:]}
	if n := p.held[heldString]; n > len(buf.strs) {
		h.strs = make([]string, n)
	}
	if n := p.held[heldTime]; n > len(buf.times) {
		h.times = make([]time.Time, n)
	}
	if n := p.held[heldWord]; n > len(buf.words) {
		h.words = make([]uint64, n)
	}
	return h
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	byteType        = reflect.TypeFor[byte]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// newFlatPlan returns the plan of the struct type t, or nil when it is not
// flat.
func newFlatPlan(t reflect.Type) *flatPlan {
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
		ff := flatField{name: name, offset: f.Offset}
		switch opts {
		case "":
			p.always |= 1 << len(p.fields)
		case "omitempty":
			ff.omit = omitEmpty
		case "omitzero":
			ff.omit = omitZero
		default:
			return nil // ",string", or both: encoded otherwise
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft, ff.pointer = ft.Elem(), true
		}
		if ff.kind, ok = flatKindOf(ft); !ok {
			return nil
		}
		ff.size = uint8(ft.Size()) // an integer's, when it matters
		if ff.omit != omitNever && !ff.pointer {
			p.omits |= 1 << len(p.fields)
		}
		p.fields = append(p.fields, ff)
	}
	for i := range p.names {
		p.names[i] = noField
	}
	for i := range p.fields {
		name := []byte(p.fields[i].name)
		if len(name) <= 8 {
			p.fields[i].word = nameWord(name, len(name))
		}
		switch h := nameHash(name); p.names[h] {
		case noField:
			p.names[h] = int8(i)
		default:
			p.names[h] = sameHash
		}
	}
	p.buildBlocks(t)
	return p
}

// buildBlocks makes the plan's block types for its struct type t, and
// gives every pointer field its held slot and its target.
func (p *flatPlan) buildBlocks(t reflect.Type) {
	fields := []reflect.StructField{{Name: "V", Type: t}}
	hasStrings := false
	var targets []int // the pointer fields, in the order of their targets
	for i := range p.fields {
		f := &p.fields[i]
		hasStrings = hasStrings || f.kind == flatString
		if !f.pointer {
			continue
		}
		k := heldKind(f.kind)
		f.slot = uint8(p.held[k])
		p.held[k]++
		targets = append(targets, i)
		fields = append(fields, reflect.StructField{Name: "F" + strconv.Itoa(i), Type: t.Field(i).Type.Elem()})
	}
	base := reflect.StructOf(fields)
	for j, i := range targets {
		p.fields[i].target = base.Field(1 + j).Offset
	}
	p.blocks = []flatBlock{{typ: base}}
	if !hasStrings {
		return
	}
	for _, n := range flatRooms {
		typ := reflect.StructOf(append(fields, reflect.StructField{Name: "Text", Type: reflect.ArrayOf(n, byteType)}))
		// The same in every block: the fields before it are the same and
		// a [n]byte is aligned on bytes.
		p.text = typ.Field(len(fields)).Offset
		p.blocks = append(p.blocks, flatBlock{typ: typ, room: n})
	}
}

// alloc allocates a zeroed block with room for n bytes of strings: it
// returns the value's address and the room, which is memory of its own
// when no block has enough.
func (p *flatPlan) alloc(n int) (unsafe.Pointer, []byte) {
	b := &p.blocks[0]
	if n > 0 {
		for i := 1; i < len(p.blocks); i++ {
			if p.blocks[i].room >= n {
				b = &p.blocks[i]
				break
			}
		}
	}
	base := reflect.New(b.typ).UnsafePointer()
	switch {
	case b.room < n:
		return base, make([]byte, n)
	case b.room == 0:
		// No room: its address would be past the end of the block.
		return base, nil
	}
	return base, unsafe.Slice((*byte)(unsafe.Add(base, p.text)), b.room)
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

// decode decodes data into *pristine (a zero value of the plan's struct)
// and held (newHeld's, for the values of its pointer fields, whose
// pointers it leaves nil), with strings in data; it returns the fields it
// saw, by index, and the bytes of their strings. decoded false means: use
// encoding/json.
//
// With flat (the schema's check of such an object, or nil), valid reports
// whether the schema holds for what was decoded; false means: ask the
// schema's ValidateJSON.
func (p *flatPlan) decode(data []byte, pristine unsafe.Pointer, held *flatHeld, flat *validate.Flat) (seen uint64, strs int, decoded, valid bool) {
	d := flatDecoding{
		r:    jsontext.NewReader(data),
		text: unsafe.String(unsafe.SliceData(data), len(data)),
		flat: flat,
	}
	if !d.r.Next('{') {
		return 0, 0, false, false
	}
	valid = flat != nil
	next := 0 // the field after the one decoded: keys usually come in the struct's order
	if !d.r.Next('}') {
		for {
			d.r.Space()
			start, end, ok := d.r.String()
			if !ok || !d.r.Next(':') {
				return 0, 0, false, false
			}
			i := next
			if i >= len(p.fields) || !p.fields[i].is(data[start:], end-start) {
				i = p.index(data[start:], end-start)
			}
			next = i + 1
			if i < 0 || seen&(1<<i) != 0 {
				return 0, 0, false, false
			}
			seen |= 1 << i
			d.r.Space()
			ok, fieldValid := p.fields[i].decode(&d, pristine, held, i)
			if !ok {
				return 0, 0, false, false
			}
			valid = valid && fieldValid
			if d.r.Next('}') {
				break
			}
			if !d.r.Next(',') {
				return 0, 0, false, false
			}
		}
	}
	if seen&p.always != p.always || !d.r.AtEnd() {
		return 0, 0, false, false // a field missing, which encoding/json writes
	}
	if seen&p.omits != 0 {
		for i := range p.fields {
			if f := &p.fields[i]; seen&(1<<i) != 0 && f.omitted(pristine) {
				return 0, 0, false, false // there, but encoding/json leaves it out
			}
		}
	}
	return seen, d.strs, true, valid && seen&flat.Required() == flat.Required()
}

// flatDecoding is the state of one decode.
type flatDecoding struct {
	r    jsontext.Reader
	text string // the data as a string (the decoded strings are in it)
	strs int    // the bytes of the strings decoded
	flat *validate.Flat
}

// fill allocates the block of the value the handler gets and sets the
// value to what decode left in pristine and held for the fields seen, with
// its strings copied into the block.
func (p *flatPlan) fill(pristine unsafe.Pointer, held *flatHeld, seen uint64, strs int) unsafe.Pointer {
	base, room := p.alloc(strs)
	used := 0
	own := func(s string) string { // s copied into the room
		if s == "" {
			return ""
		}
		n := copy(room[used:], s)
		s = unsafe.String(&room[used], n)
		used += n
		return s
	}
	for i := range p.fields {
		f := &p.fields[i]
		if seen&(1<<i) == 0 {
			continue // zero in both
		}
		var src, dst unsafe.Pointer
		if f.pointer {
			src, dst = f.heldAt(held), unsafe.Add(base, f.target)
			*(*unsafe.Pointer)(unsafe.Add(base, f.offset)) = dst
		} else {
			src, dst = unsafe.Add(pristine, f.offset), unsafe.Add(base, f.offset)
		}
		switch f.kind {
		case flatString:
			*(*string)(dst) = own(*(*string)(src))
		case flatBool:
			*(*bool)(dst) = *(*bool)(src)
		case flatInt:
			f.setInt(dst, f.int(src))
		case flatFloat:
			*(*float64)(dst) = *(*float64)(src)
		case flatTime:
			*(*time.Time)(dst) = *(*time.Time)(src)
		}
	}
	return base
}

// heldAt returns the address of the held value of the pointer field f.
func (f *flatField) heldAt(held *flatHeld) unsafe.Pointer {
	switch heldKind(f.kind) {
	case heldString:
		return unsafe.Pointer(&held.strs[f.slot])
	case heldTime:
		return unsafe.Pointer(&held.times[f.slot])
	}
	return unsafe.Pointer(&held.words[f.slot])
}

// index returns the index in p.fields of the field named b[:n] (b goes on
// with the rest of the text), or -1.
func (p *flatPlan) index(b []byte, n int) int {
	if n == 0 {
		return -1 // no field's name is empty
	}
	name := b[:n]
	switch i := p.names[nameHash(name)]; i {
	case noField:
		return -1
	case sameHash:
	default:
		if p.fields[i].is(b, n) {
			return int(i)
		}
		return -1
	}
	for i := range p.fields {
		// The first byte tells most names apart before a full compare.
		if n := p.fields[i].name; len(n) == len(name) && n[0] == name[0] && n == string(name) {
			return i
		}
	}
	return -1
}

// is reports whether the field is named b[:n] (b goes on with the rest of
// the text).
func (f *flatField) is(b []byte, n int) bool {
	switch {
	case len(f.name) != n:
		return false
	case n <= 8:
		return nameWord(b, n) == f.word
	}
	return f.name == string(b[:n])
}

// The fields are read and written through their offsets in the struct,
// as the types the plan found there (the layout of a named type is that of
// its underlying type): reflect costs more than the rest of the decoding.

// at returns the address of the field in the struct at base, or of what it
// points to (nil for a nil pointer).
func (f *flatField) at(base unsafe.Pointer) unsafe.Pointer {
	a := unsafe.Add(base, f.offset)
	if f.pointer {
		return *(*unsafe.Pointer)(a)
	}
	return a
}

// decode reads the field's value into pristine's field, or held for a
// pointer field; with d.flat, valid reports whether the value holds to the
// schema of field i.
func (f *flatField) decode(d *flatDecoding, pristine unsafe.Pointer, held *flatHeld, i int) (ok, valid bool) {
	r, text, flat := &d.r, d.text, d.flat
	dst := unsafe.Add(pristine, f.offset)
	if f.pointer {
		if r.Peek() == 'n' {
			return false, false // null: encoding/json's business
		}
		dst = f.heldAt(held)
	}
	switch f.kind {
	case flatString:
		start, end, ok := r.String()
		if !ok {
			return false, false
		}
		*(*string)(dst) = text[start:end] // copied into the block by fill
		d.strs += end - start
		valid = flat != nil && flat.String(i, text[start:end])
	case flatBool:
		b := r.Word("true")
		if !b && !r.Word("false") {
			return false, false
		}
		*(*bool)(dst) = b
		valid = flat != nil && flat.Bool(i, b)
	case flatInt:
		num, ok := r.Number()
		if !ok {
			return false, false
		}
		n, err := strconv.ParseInt(string(num), 10, int(f.size)*8)
		var buf [24]byte
		if err != nil || string(strconv.AppendInt(buf[:0], n, 10)) != string(num) {
			return false, false // out of range, or written otherwise ("-0", "1.0")
		}
		f.setInt(dst, n)
		// Beyond 2^53 a float64 is not the number: let the schema decide.
		valid = flat != nil && n >= -1<<53 && n <= 1<<53 && flat.Number(i, float64(n))
	case flatFloat:
		num, ok := r.Number()
		if !ok {
			return false, false
		}
		x, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return false, false
		}
		*(*float64)(dst) = x
		valid = flat != nil && flat.Number(i, x)
	case flatTime:
		start, end, ok := r.String()
		if !ok {
			return false, false
		}
		rfc, ok := decodeTime((*time.Time)(dst), r.Bytes()[start-1:end+1])
		if !ok {
			return false, false
		}
		if rfc {
			valid = flat != nil && flat.DateTime(i, text[start:end])
		} else {
			valid = flat != nil && flat.String(i, text[start:end])
		}
	}
	return true, valid
}

// decodeTime decodes the JSON string quoted into *t as encoding/json does,
// and reports whether encoding/json writes *t back the same (ok) and
// whether the text is an RFC 3339 date-time as rfc3339.Parse reads one
// (rfc: the date-time format holds).
func decodeTime(t *time.Time, quoted []byte) (rfc, ok bool) {
	text := quoted[1 : len(quoted)-1]
	if u, ok := decodeUTC(text); ok {
		*t = u
		return true, true
	}
	// A UTC time as Go writes it (no trailing zero in the fraction) is
	// the time.Date of its fields, as time.Time.UnmarshalJSON has it.
	dt, rfc := rfc3339.Parse(text)
	if rfc && dt.Z && dt.Upper && (dt.FracDigits == 0 || dt.FracDigits <= 9 && text[len(text)-2] != '0') {
		*t = time.Date(dt.Year, time.Month(dt.Month), dt.Day, dt.Hour, dt.Minute, dt.Second, dt.Nanosecond, time.UTC)
		return true, true
	}
	// Any other: the time decodes the JSON string itself.
	if err := t.UnmarshalJSON(quoted); err != nil {
		return rfc, false
	}
	var buf [64]byte
	return rfc, string(t.AppendFormat(buf[:0], time.RFC3339Nano)) == string(text) // not ".000", "-00:00"
}

// decodeUTC reads a date-time in the form Go writes a UTC time in
// (2006-01-02T15:04:05.999999999Z: T and Z upper case, a fraction of 1 to 9
// digits without a trailing zero) into the time time.Date makes of it in
// UTC, without rfc3339.Parse's record and time.Date's normalization: the
// usual date-time of a message. ok is false for any other text, which
// decodeTime reads the general way.
func decodeUTC(b []byte) (t time.Time, ok bool) {
	n := len(b)
	if n < 20 || n == 21 || n > 30 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[n-1] != 'Z' {
		return t, false
	}
	var nsec int64
	if n > 20 {
		if b[19] != '.' || b[n-2] == '0' {
			return t, false
		}
		for _, c := range b[20 : n-1] {
			if c < '0' || c > '9' {
				return t, false
			}
			nsec = nsec*10 + int64(c-'0')
		}
		for range 30 - n { // to nanoseconds: 9 digits
			nsec *= 10
		}
	}
	d := func(i int) int { // the two digits at i, or -1
		if b[i] < '0' || b[i] > '9' || b[i+1] < '0' || b[i+1] > '9' {
			return -1
		}
		return int(b[i]-'0')*10 + int(b[i+1]-'0')
	}
	century, year := d(0), d(2)
	month, day, hour, minute, second := d(5), d(8), d(11), d(14), d(17)
	year += century * 100
	if century < 0 || year < century*100 || month < 1 || month > 12 || day < 1 || day > rfc3339.DaysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 {
		return t, false
	}
	sec := rfc3339.DaysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+second)
	return time.Unix(sec, nsec).UTC(), true
}

// setInt stores n at a, an integer of the field's size.
func (f *flatField) setInt(a unsafe.Pointer, n int64) {
	switch f.size {
	case 1:
		*(*int8)(a) = int8(n)
	case 2:
		*(*int16)(a) = int16(n)
	case 4:
		*(*int32)(a) = int32(n)
	default:
		*(*int64)(a) = n
	}
}

// int loads the integer of the field's size at a.
func (f *flatField) int(a unsafe.Pointer) int64 {
	switch f.size {
	case 1:
		return int64(*(*int8)(a))
	case 2:
		return int64(*(*int16)(a))
	case 4:
		return int64(*(*int32)(a))
	}
	return *(*int64)(a)
}

// omitted reports whether encoding/json leaves the field of the struct at
// base out.
func (f *flatField) omitted(base unsafe.Pointer) bool {
	if f.omit == omitNever || f.pointer {
		return false // a pointer decoded is not nil
	}
	a := f.at(base)
	switch f.kind {
	case flatString:
		return len(*(*string)(a)) == 0
	case flatBool:
		return !*(*bool)(a)
	case flatInt:
		return f.int(a) == 0
	case flatFloat:
		if f.omit == omitZero {
			return math.Float64bits(*(*float64)(a)) == 0 // -0 is not zero
		}
		return *(*float64)(a) == 0
	case flatTime:
		return f.omit == omitZero && (*time.Time)(a).IsZero() // omitempty keeps structs
	}
	return false
}

// equal reports whether the value at v (from fill) holds what decode
// left in pristine and held for the fields seen, field by field (what
// pointers point to, not the pointers).
func (p *flatPlan) equal(v, pristine unsafe.Pointer, held *flatHeld, seen uint64) bool {
	for i := range p.fields {
		f := &p.fields[i]
		var a, b unsafe.Pointer
		if f.pointer {
			a = *(*unsafe.Pointer)(unsafe.Add(v, f.offset))
			if seen&(1<<i) == 0 || a == nil {
				if (seen&(1<<i) == 0) != (a == nil) {
					return false
				}
				continue
			}
			b = f.heldAt(held)
		} else {
			a, b = unsafe.Add(v, f.offset), unsafe.Add(pristine, f.offset)
		}
		switch f.kind {
		case flatString:
			if *(*string)(a) != *(*string)(b) {
				return false
			}
		case flatBool:
			if *(*bool)(a) != *(*bool)(b) {
				return false
			}
		case flatInt:
			if f.int(a) != f.int(b) {
				return false
			}
		case flatFloat:
			if math.Float64bits(*(*float64)(a)) != math.Float64bits(*(*float64)(b)) {
				return false
			}
		case flatTime:
			if *(*time.Time)(a) != *(*time.Time)(b) {
				return false
			}
		}
	}
	return true
}
