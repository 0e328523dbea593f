package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/validate"
)

// TypedData is the typed dispatch of the messages clients publish on a
// channel, for code that cometgen generates: it checks a message's data
// against the channel's schema, decodes it into a T for the application's
// handler, and re-encodes it after the handler only if the handler changed
// it. It is safe for concurrent use.
type TypedData[T any] struct {
	schema *validate.Schema // nil: no schema check
	name   string           // T's name, for the error of data that does not decode
	plan   *flatPlan        // the direct decoder of T (typed_decode.go), or nil
	// flat checks the schema in the direct decoder's walk (nil: the schema
	// is checked on its own, before decoding).
	flat *validate.Flat
}

// NewTypedData returns the typed dispatch of data of type T, named name in
// errors ("data is not a <name>"), checked against schema (nil for none).
func NewTypedData[T any](schema *validate.Schema, name string) *TypedData[T] {
	d := &TypedData[T]{schema: schema, name: name, plan: newFlatPlan(reflect.TypeFor[T]())}
	if d.plan != nil && schema != nil {
		names := make([]string, len(d.plan.fields))
		for i, f := range d.plan.fields {
			names[i] = f.name
		}
		d.flat = schema.Flat(names)
	}
	return d
}

// Dispatch checks m's data against the schema, decodes it into a new T and
// calls handle with it. If handle returns nil and changed the value, m's
// data becomes the value's encoding; if it left it as decoded, m's data
// stays what the client published.
//
// Data that breaks the schema is refused with validate.Error
// ("400:<violations>:invalid_message"), data that does not decode into a T
// with "400:data is not a <name>:invalid_message"; an error of handle is
// returned as it is.
func (d *TypedData[T]) Dispatch(m *bayeux.Message, handle func(*T) error) error {
	err := d.dispatch(m, false, handle)
	if se, ok := err.(*schemaError); ok {
		return se.err
	}
	return err
}

// dispatch is Dispatch; checked says m's data was checked against the
// schema already (by the contract, before its filters ran).
func (d *TypedData[T]) dispatch(m *bayeux.Message, checked bool, handle func(*T) error) error {
	var (
		v        *T
		pristine T // what was decoded, to tell after the handler whether it changed v
		buf      flatHeldBuf
		held     flatHeld // pristine's pointer targets (its pointers stay nil)
		seen     uint64   // the fields decoded
		strs     int      // the bytes of their strings
	)
	direct, valid := false, false
	if d.plan != nil {
		// The walk decodes into pristine, on the stack; with flat, it
		// checks the schema too.
		held = d.plan.newHeld(&buf)
		flat := d.flat
		if checked {
			flat = nil
		}
		seen, strs, direct, valid = d.plan.decode(m.Data, unsafe.Pointer(&pristine), &held, flat)
	}
	if d.schema != nil && !valid && !checked {
		if vs := d.schema.ValidateJSON(m.Data); len(vs) > 0 {
			return &schemaError{err: validate.Error(vs), vs: vs}
		}
	}
	if direct {
		// The value, the targets of its pointers and the bytes of its
		// strings, in one allocation.
		v = (*T)(d.plan.fill(unsafe.Pointer(&pristine), &held, seen, strs))
	}
	var decoded []byte // the slow path's value as encoded before the handler
	if !direct {
		v = new(T)
		if err := json.Unmarshal(m.Data, v); err != nil {
			return bayeux.NewError(400, "invalid_message", "data is not a "+d.name)
		}
		// The data may hold what T cannot (a property T has no field
		// for): it is delivered as published unless the handler changes
		// the value, which this encoding tells.
		var err error
		if decoded, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode the %s decoded: %w", d.name, err)
		}
	}
	if err := handle(v); err != nil {
		return err
	}
	if direct && d.plan.equal(unsafe.Pointer(v), unsafe.Pointer(&pristine), &held, seen) {
		return nil // unchanged: deliver the data as published
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the %s the handler changed: %w", d.name, err)
	}
	if !direct && bytes.Equal(data, decoded) {
		return nil // unchanged: deliver the data as published
	}
	m.Data = data
	return nil
}

// schemaError is the refusal of data that breaks a schema, with the
// violations, for the metrics and logs (see Server.refuse).
type schemaError struct {
	err *bayeux.Error
	vs  []validate.Violation
}

func (e *schemaError) Error() string { return e.err.Error() }
func (e *schemaError) Unwrap() error { return e.err }
