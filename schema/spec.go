// Package schema is the spec file of a cometgen application: the language in
// which it declares its channels, the JSON Schema of each channel's
// messages, its security rules and data filters, and the loader that reads a
// spec, checks it the way a compiler checks code, and reports every problem
// at once as file:line:column: message.
//
// A spec is YAML (or JSON, which is YAML too):
//
//	cometgen: 1
//	name: chat
//	auth:
//	  handshake: required        # none | optional | required
//	  roles: [member, moderator]
//	schemas:
//	  ChatMessage:
//	    type: object
//	    required: [user, text]
//	    properties:
//	      user: {type: string, maxLength: 32}
//	      text: {type: string, minLength: 1, maxLength: 500}
//	channels:
//	  /chat/{room}:
//	    params: {room: {pattern: "^[a-z0-9-]{1,32}$"}}
//	    message: ChatMessage     # a schema name, an inline schema, or {$ref: file#/pointer}
//	    subscribe: {allow: [member]}
//	    publish: {allow: [member]}
//	    filters: [{trim: [text]}, {no-markup: [text]}]
//	  /user/{id}/inbox:
//	    params: {id: {pattern: "^[a-z0-9_-]{1,32}$"}}
//	    message: {$ref: schemas/notice.json}
//	    subscribe: {allow: [{self: id}]}
//	    publish: {allow: [server]}
//	  /service/members:
//	    request: {type: object, properties: {room: {type: string}}}
//	    reply: {type: array, items: {type: string}}
//
// This package knows nothing of the code generators or the runtime; they
// read a loaded *Spec.
package schema

import (
	"encoding/json"
	"fmt"
	"github.com/cometgen/cometgen/runtime/validate"
	"strings"
)

// Version is the version of the spec language this package reads (the
// value of the top-level "cometgen" key).
const Version = 1

// Spec is a loaded, checked spec.
type Spec struct {
	// File is the path the spec was loaded from.
	File string
	// Name names the application (letters, digits, '-', '_').
	Name        string
	Description string
	Go          GoOutput
	TS          TSOutput
	Auth        Auth
	// Schemas are the named message schemas, by name.
	Schemas map[string]*Schema
	// Channels are the declared channels in the order of the file.
	Channels []*Channel
	// Extensions holds the top-level x-* keys, which cometgen's runtime
	// ignores and its tools (cometgen breaking) may read.
	Extensions map[string]json.RawMessage `json:",omitempty"`
}

// GoOutput configures the Go generator.
type GoOutput struct {
	Package string // Go package name of the generated code
	Out     string // output directory, relative to the spec's directory
	// Client adds the typed Go client (client.go) to the generated code.
	Client bool `json:",omitempty"`
}

// TSOutput configures the TypeScript generator.
type TSOutput struct {
	// Out is the output file, relative to the spec's directory: a .ts file
	// gets TypeScript, a .js file an ES module and a .d.ts beside it.
	Out string
	// Validate makes the client check messages against their schemas.
	Validate bool
}

// ValidName reports whether name is a valid application name (the spec's
// name): a letter, then letters, digits, '-' and '_'.
func ValidName(name string) bool { return appNameRE.MatchString(name) }

// HandshakeMode says whether handshakes must carry credentials.
type HandshakeMode string

// The handshake modes.
const (
	HandshakeNone     HandshakeMode = "none"
	HandshakeOptional HandshakeMode = "optional"
	HandshakeRequired HandshakeMode = "required"
)

// Auth is the spec's authentication section.
type Auth struct {
	Handshake HandshakeMode
	// Roles lists every role the rules may name.
	Roles []string
}

// Schema is a message schema: JSON Schema (draft 2020-12 unless it says
// otherwise), with every $ref resolved.
type Schema struct {
	// Name is the schema's name in the schemas section, or "" for an inline
	// schema.
	Name string
	// JSON is the schema document as JSON, refs to other files inlined.
	JSON json.RawMessage
	// Pos is where the schema is written.
	Pos Pos

	validator *validate.Schema // compiled once by the loader
	tree      *jnode           // JSON with the position of every value
}

// Locate returns where the value at the JSON pointer ptr ("" for the
// whole schema, "/properties/user/type") is written: in the spec, or in
// the file a $ref names. When ptr leads nowhere it returns the position of
// the deepest value on the way.
func (s *Schema) Locate(ptr string) Pos {
	if s == nil {
		return Pos{}
	}
	if s.tree == nil {
		return s.Pos
	}
	return s.tree.at(ptr).pos
}

// Validator returns the compiled schema, for code that validates with
// package runtime/validate directly; nil when the schema did not compile.
func (s *Schema) Validator() *validate.Schema {
	if s == nil {
		return nil
	}
	return s.validator
}

// Validate checks data (JSON) against the schema and returns every
// violation; none means the data is valid. Data that is not JSON is one
// violation at the root.
func (s *Schema) Validate(data json.RawMessage) []Violation {
	v, err := DecodeData(data)
	if err != nil {
		return []Violation{{Message: err.Error()}}
	}
	return s.ValidateValue(v)
}

// DecodeData decodes message data into the form ValidateValue and the
// runtime's data filters take (nil, bool, float64, string, []any,
// map[string]any).
func DecodeData(data json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return v, nil
}

// ValidateValue is Validate for data already decoded by encoding/json
// (nil, bool, float64, string, []any, map[string]any).
func (s *Schema) ValidateValue(v any) []Violation {
	if s == nil || s.validator == nil {
		return nil
	}
	return s.validator.Validate(v)
}

// ChannelKind tells broadcast channels from service channels.
type ChannelKind string

// The channel kinds a spec declares.
const (
	Broadcast ChannelKind = "broadcast"
	Service   ChannelKind = "service"
)

// Channel is a declared channel.
type Channel struct {
	// Pattern is the channel as written: "/chat/{room}", "/news/**".
	Pattern string
	Kind    ChannelKind
	// Params are the channel's parameters in the order they appear.
	Params      []Param
	Description string
	// Deprecated is non-empty (the reason, or "deprecated") when the channel
	// is deprecated.
	Deprecated string
	// Message is the schema of messages on a broadcast channel.
	Message *Schema
	// Request and Reply are the schemas of a service channel's remote call.
	Request, Reply *Schema
	// Examples are example messages, checked against Message (or Request).
	Examples []json.RawMessage
	// Subscribe and Publish say who may subscribe and publish.
	Subscribe, Publish Rule
	// Filters run in order on every published message.
	Filters []Filter
	// Lazy makes the channel's messages lazy; LazyTimeout bounds the wait
	// (0: the server's maximum).
	Lazy        bool
	LazyTimeout string
	// Local keeps a broadcast channel's messages on the node where they are
	// published: in a cluster (runtime.Options.Broker) they never cross to
	// the other nodes. Service channels are always local.
	Local bool `json:",omitempty"`
	// Extensions holds the x-* keys, which cometgen ignores.
	Extensions map[string]json.RawMessage
	Pos        Pos
}

// Published returns the schema of what is published on the channel: a
// broadcast channel's message, a service channel's request; nil for none.
func (c *Channel) Published() *Schema {
	if c.Kind == Service {
		return c.Request
	}
	return c.Message
}

// Param is a channel parameter: one whole segment written {name}.
type Param struct {
	Name string
	// Pattern is the regular expression (RE2) a value must match, or "".
	Pattern   string
	MinLength int
	MaxLength int // 0: no limit
	Enum      []string
	// Description documents the parameter.
	Description string
	Pos         Pos
}

// Rule is a subscribe or publish rule: the operation is allowed when any of
// its entries allows it. An empty rule allows anyone.
type Rule struct {
	Allow []Allow
	Pos   Pos
}

// ClientsAllowed reports whether the rule lets some client do the
// operation: it is empty (anyone) or has an entry other than server.
func (r Rule) ClientsAllowed() bool {
	if len(r.Allow) == 0 {
		return true
	}
	for _, a := range r.Allow {
		if a.Kind != AllowServer {
			return true
		}
	}
	return false
}

// AllowKind is the kind of an Allow entry.
type AllowKind string

// The kinds of Allow entries.
const (
	AllowAnyone        AllowKind = "anyone"
	AllowAuthenticated AllowKind = "authenticated"
	AllowServer        AllowKind = "server" // only the server (no client)
	AllowRole          AllowKind = "role"   // sessions with Role
	AllowSelf          AllowKind = "self"   // sessions whose user id equals the parameter Param
)

// Allow is one entry of a rule.
type Allow struct {
	Kind  AllowKind
	Role  string // for AllowRole
	Param string // for AllowSelf
	Pos   Pos
}

// Filter is a data filter of a channel: a built-in of the runtime
// (trim, no-markup, no-scripts, max-length, regex-replace, regex-abort) or a
// custom filter the application supplies by name.
type Filter struct {
	Name string // "trim", …, or the custom filter's name
	// Custom is set for a filter the application must supply.
	Custom bool
	// Paths are the field paths the filter applies to (runtime/filter
	// syntax); none means the whole message.
	Paths       []string
	Max         int    // max-length
	Pattern     string // regex-replace, regex-abort
	Replacement string // regex-replace
	Reason      string // regex-abort
	Pos         Pos
}

// Pos is a position in a spec file.
type Pos struct {
	File      string
	Line, Col int
}

// String returns "file:line:col".
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one problem in a spec, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found in a spec, sorted by position. Load
// returns one when the spec is wrong.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Violation is one way a message breaks its schema (see runtime/validate).
type Violation = validate.Violation
