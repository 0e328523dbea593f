// Package validate checks message data against a compiled JSON Schema and
// reports every violation with its JSON pointer, in the words cometgen uses
// everywhere: the spec loader (package schema), the gateway (`cometgen serve
// --spec`) and the code it generates.
//
// Schemas in a common subset (type, enum/const, required, properties,
// additionalProperties, string, number, array and object bounds, pattern,
// format) are decided "valid" by a fast path of its own, without the JSON
// Schema library (github.com/santhosh-tekuri/jsonschema/v5); any violation
// is reported by the library, so the messages are the same either way.
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// MaxDepth bounds the nesting of the data Validate checks: deeper data is
// one violation, without recursive validation.
var MaxDepth = 1000

// Violation is one way a message breaks its schema.
type Violation struct {
	// Path is the JSON pointer of the offending value ("" for the whole
	// message, "/text", "/items/2/name").
	Path string
	// Message says which rule the value breaks ("maxLength: got 612, want at most 500").
	Message string
}

// String returns "path: message", with "(root)" for the whole message.
func (v Violation) String() string {
	p := v.Path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + v.Message
}

// Schema is a compiled JSON Schema. It is safe for concurrent use.
type Schema struct {
	doc  []byte // the schema document
	s    *jsonschema.Schema
	fast *fastNode // the fast path (fastpath.go), nil when the schema is outside it
}

// schemaURL is the base URL of every compiled schema. Nothing is ever
// loaded from it: external $refs are inlined before compiling.
const schemaURL = "file:///cometgen/schema.json"

// Compile compiles a JSON Schema document (draft 2020-12 unless its
// $schema says otherwise). It loads nothing from URLs or files: external
// references must already be inlined (the spec loader does that).
func Compile(doc []byte) (*Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("%s cannot be loaded: cometgen loads no schema from URLs (write a $ref to a file of the project instead)", u)
	}
	compiled, err := safeCompile(c, doc)
	if err != nil {
		return nil, err
	}
	return New(compiled, doc), nil
}

// MustCompile is Compile for documents known to be valid, such as those
// cometgen embeds in generated code; it panics otherwise.
func MustCompile(doc string) *Schema {
	s, err := Compile([]byte(doc))
	if err != nil {
		panic("validate: " + err.Error())
	}
	return s
}

// New wraps a schema the caller compiled from doc with the library.
func New(compiled *jsonschema.Schema, doc []byte) *Schema {
	return &Schema{doc: doc, s: compiled, fast: newFastPath(doc)}
}

// safeCompile compiles data, turning a panic of the compiler into an error.
func safeCompile(c *jsonschema.Compiler, data []byte) (s *jsonschema.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("the JSON Schema compiler failed: %v", r)
		}
	}()
	if err := c.AddResource(schemaURL, bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

// ValidateJSON decodes data and validates it; data that is not JSON is one
// violation at the root.
func (s *Schema) ValidateJSON(data json.RawMessage) []Violation {
	if s.fast.acceptsJSON(data) {
		return nil // valid JSON, and the library would find nothing
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return []Violation{{Message: "not JSON: " + err.Error()}}
	}
	return s.Validate(v)
}

// Error returns the error a publisher of data with these violations
// receives: "400:<violations>:invalid_message", each violation
// "path rule" (at most five, then "and N more"), or nil for none.
func Error(vs []Violation) *bayeux.Error {
	if len(vs) == 0 {
		return nil
	}
	parts := make([]string, 0, min(len(vs), 6))
	for i, v := range vs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-5))
			break
		}
		parts = append(parts, bayeux.ErrorArg(v.String()))
	}
	return &bayeux.Error{Code: 400, Args: parts, Message: "invalid_message"}
}

// Leaves returns the leaf causes of a library validation error as
// violations, without repeating one.
func Leaves(e *jsonschema.ValidationError) []Violation { return leaves(e, nil) }

// Validate checks data decoded by encoding/json (nil, bool, float64,
// string, []any, map[string]any) and returns every violation, sorted by
// path; none means valid.
func (v *Schema) Validate(data any) (out []Violation) {
	if bad := checkData(data, 0); bad != nil {
		return []Violation{*bad}
	}
	if v.fast.accepts(data) {
		return nil // the library would find nothing either
	}
	defer func() {
		if r := recover(); r != nil {
			out = []Violation{{Message: fmt.Sprintf("cannot be validated: %v", r)}}
		}
	}()
	err := v.s.Validate(data)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		out = leaves(ve, nil)
		// The library walks properties in map order.
		slices.SortStableFunc(out, func(a, b Violation) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			return strings.Compare(a.Message, b.Message)
		})
		return out
	}
	return []Violation{{Message: strings.TrimPrefix(err.Error(), "jsonschema: ")}}
}

// checkData returns the violation of data that is nested deeper than
// MaxDepth or holds a value of a type JSON has not, or nil. It spares
// the recursive validation deep data, and a schema that does not look at
// some value the question of its type.
func checkData(v any, depth int) *Violation {
	switch v := v.(type) {
	case nil, bool, string, json.Number, float64, float32,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return nil
	case []any:
		if depth >= MaxDepth {
			return &Violation{Message: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		for i, e := range v {
			if bad := checkData(e, depth+1); bad != nil {
				if !strings.HasPrefix(bad.Message, "nested") {
					bad.Path = "/" + strconv.Itoa(i) + bad.Path
				}
				return bad
			}
		}
		return nil
	case map[string]any:
		if depth >= MaxDepth {
			return &Violation{Message: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		for k, e := range v {
			if bad := checkData(e, depth+1); bad != nil {
				if !strings.HasPrefix(bad.Message, "nested") {
					bad.Path = "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1") + bad.Path
				}
				return bad
			}
		}
		return nil
	}
	return &Violation{Message: fmt.Sprintf("not a JSON value (%T)", v)}
}

// leaves appends the leaf causes of e to out, as violations, without
// repeating one.
func leaves(e *jsonschema.ValidationError, out []Violation) []Violation {
	if len(e.Causes) == 0 {
		if e.Message == "" {
			return out
		}
		v := Violation{Path: e.InstanceLocation, Message: violationMessage(e)}
		for _, o := range out {
			if o == v {
				return out
			}
		}
		return append(out, v)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// validationKeywords are the keywords a violation message is prefixed with.
var validationKeywords = map[string]bool{
	"type": true, "enum": true, "const": true, "format": true,
	"minProperties": true, "maxProperties": true, "required": true,
	"additionalProperties": true, "dependencies": true, "dependentRequired": true,
	"minItems": true, "maxItems": true, "uniqueItems": true, "additionalItems": true,
	"minContains": true, "maxContains": true, "minLength": true, "maxLength": true,
	"pattern": true, "contentEncoding": true, "contentMediaType": true,
	"contentSchema": true, "minimum": true, "maximum": true,
	"exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
	"not": true, "anyOf": true, "oneOf": true, "then": true, "else": true,
	"propertyNames": true, "unevaluatedProperties": true, "unevaluatedItems": true,
	"false": true,
}

// comparisons rewrite the library's messages that compare a value with a
// limit as "got X, want Y".
var comparisons = []struct {
	keyword, format, want string
}{
	{"maxLength", "length must be <= %s but got %s", "at most %s"},
	{"minLength", "length must be >= %s but got %s", "at least %s"},
	{"maxItems", "maximum %s items required but found %s items", "at most %s items"},
	{"minItems", "minimum %s items required but found %s items", "at least %s items"},
	{"maxProperties", "maximum %s properties allowed but found %s properties", "at most %s properties"},
	{"minProperties", "minimum %s properties allowed but found %s properties", "at least %s properties"},
	{"maximum", "must be <= %s but found %s", "at most %s"},
	{"minimum", "must be >= %s but found %s", "at least %s"},
	{"exclusiveMaximum", "must be < %s but found %s", "less than %s"},
	{"exclusiveMinimum", "must be > %s but found %s", "more than %s"},
}

// number writes a bound as a person would: an integer as one (100000000,
// not the validator's 1e+08), any other number as the validator wrote it.
func number(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
		return s
	}
	return strconv.FormatInt(int64(f), 10)
}

// violationMessage returns "keyword: message" for a leaf error.
func violationMessage(e *jsonschema.ValidationError) string {
	keyword := ""
	toks := strings.Split(e.KeywordLocation, "/")
	for i := len(toks) - 1; i >= 0; i-- {
		if validationKeywords[toks[i]] {
			keyword = toks[i]
			break
		}
	}
	msg := strings.TrimPrefix(e.Message, keyword+" ")
	if keyword == "type" && strings.HasPrefix(msg, "expected ") {
		if i := strings.LastIndex(msg, ", but got "); i > 0 {
			return "type: got " + msg[i+len(", but got "):] + ", want " + msg[len("expected "):i]
		}
	}
	for _, c := range comparisons {
		if c.keyword != keyword {
			continue
		}
		var want, got string
		if n, _ := fmt.Sscanf(strings.ReplaceAll(msg, ",", ""), c.format, &want, &got); n == 2 {
			return keyword + ": got " + number(got) + ", want " + fmt.Sprintf(c.want, number(want))
		}
	}
	if names, ok := strings.CutSuffix(msg, " not allowed"); ok && keyword == "additionalProperties" {
		// The validator lists them in the order of a map: sorted, the
		// same message for the same data every time.
		list := strings.Split(names, ", ")
		slices.Sort(list)
		msg = strings.Join(list, ", ") + " not allowed"
	}
	if keyword == "" {
		return msg
	}
	return keyword + ": " + msg
}
