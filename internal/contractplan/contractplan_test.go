package contractplan_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/contractplan"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/filter"
	"github.com/cometgen/cometgen/schema"
)

const spec = `cometgen: 1
name: plan
auth:
  handshake: optional
  roles: [member, ops]
channels:
  /open:
    message: {type: string}
  /anyone/mixed:
    message: {type: string}
    subscribe: {allow: [member, anyone]}
    publish: {allow: [anyone]}
  /auth:
    message: {type: string}
    subscribe: {allow: [authenticated]}
    publish: {allow: [member, ops]}
  /user/{id}/inbox:
    params: {id: {pattern: "^[a-z]+$", minLength: 2, maxLength: 9}}
    message: {type: object}
    subscribe: {allow: [{self: id}, ops]}
    publish: {allow: [server]}
  /room/{room}:
    params: {room: {enum: [a, b]}}
    message: {type: string}
  /filtered:
    message: {type: object, properties: {text: {type: string}}}
    filters:
      - trim: [text]
      - custom: profanity
      - max-length: {max: 10, paths: [text]}
      - regex-abort: {pattern: "x+", reason: no-x}
  /lazy/plain:
    message: {type: string}
    lazy: true
  /lazy/timed:
    message: {type: string}
    lazy: {timeout: 1500ms}
    local: true
  /service/ask:
    request: {type: object}
    reply: {type: string}
  /service/cron:
    request: {type: object}
    publish: {allow: [server]}
`

func TestTemplates(t *testing.T) {
	s, err := schema.Parse("plan.yaml", []byte(spec), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := contractplan.Templates(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != len(s.Channels) {
		t.Fatalf("%d templates for %d channels", len(plan), len(s.Channels))
	}
	byPattern := map[string]contractplan.Template{}
	for i, p := range plan {
		if p.Channel != s.Channels[i] || p.Pattern != s.Channels[i].Pattern {
			t.Errorf("template %d is %s, planned from %s: want the spec's order", i, p.Pattern, p.Channel.Pattern)
		}
		byPattern[p.Pattern] = p
	}
	// kinds lists a rule's entries by kind, role and parameter, without
	// their positions.
	kinds := func(r contractplan.Rule) []string {
		var out []string
		for _, a := range r {
			out = append(out, string(a.Kind)+":"+a.Role+a.Param)
		}
		return out
	}
	strs := func(ss ...string) []string { return ss }
	tests := []struct {
		pattern            string
		subscribe, publish []string
		params             []runtime.Param
		schema             bool
		filters            []contractplan.Filter
		lazy               bool
		lazyTimeout        time.Duration
		local, handled     bool
	}{
		{pattern: "/open", schema: true, handled: true},
		// A rule with anyone allows anyone: nil, as an empty one.
		{pattern: "/anyone/mixed", schema: true, handled: true},
		{pattern: "/auth", subscribe: strs("authenticated:"), publish: strs("role:member", "role:ops"), schema: true, handled: true},
		{
			pattern:   "/user/{id}/inbox",
			subscribe: strs("self:id", "role:ops"), publish: strs("server:"),
			params: []runtime.Param{{Name: "id", Pattern: "^[a-z]+$", MinLength: 2, MaxLength: 9}},
			schema: true, // not handled: only the server publishes
		},
		{pattern: "/room/{room}", params: []runtime.Param{{Name: "room", Enum: []string{"a", "b"}}}, schema: true, handled: true},
		{
			pattern: "/filtered", schema: true, handled: true,
			filters: []contractplan.Filter{
				{Builtin: filter.Spec{Name: "trim", Paths: []string{"text"}}},
				{Custom: "profanity"},
				{Builtin: filter.Spec{Name: "max-length", Paths: []string{"text"}, Max: 10}},
				{Builtin: filter.Spec{Name: "regex-abort", Pattern: "x+", Reason: "no-x"}},
			},
		},
		{pattern: "/lazy/plain", schema: true, handled: true, lazy: true},
		{pattern: "/lazy/timed", schema: true, handled: true, lazy: true, lazyTimeout: 1500 * time.Millisecond, local: true},
		{pattern: "/service/ask", schema: true, handled: true},
		{pattern: "/service/cron", publish: strs("server:"), schema: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, ok := byPattern[tt.pattern]
			if !ok {
				t.Fatal("no template")
			}
			if got := kinds(p.Subscribe); !reflect.DeepEqual(got, tt.subscribe) {
				t.Errorf("subscribe %q, want %q", got, tt.subscribe)
			}
			if got := kinds(p.Publish); !reflect.DeepEqual(got, tt.publish) {
				t.Errorf("publish %q, want %q", got, tt.publish)
			}
			if (tt.subscribe == nil) != (p.Subscribe == nil) || (tt.publish == nil) != (p.Publish == nil) {
				t.Errorf("a rule that allows anyone must be nil, one that does not must not be")
			}
			if !reflect.DeepEqual(p.Params, tt.params) {
				t.Errorf("params %+v, want %+v", p.Params, tt.params)
			}
			if pub := p.Channel.Published(); tt.schema != (p.Schema != "") || tt.schema && p.Schema != string(pub.JSON) {
				t.Errorf("schema %q, want the published schema: %v", p.Schema, tt.schema)
			}
			var filters []contractplan.Filter
			for _, f := range p.Filters {
				if f.Pos == (schema.Pos{}) {
					t.Errorf("filter %+v has no position", f)
				}
				f.Pos = schema.Pos{}
				filters = append(filters, f)
			}
			if !reflect.DeepEqual(filters, tt.filters) {
				t.Errorf("filters %+v, want %+v", filters, tt.filters)
			}
			if p.Lazy != tt.lazy || p.LazyTimeout != tt.lazyTimeout || p.Local != tt.local {
				t.Errorf("lazy %v %v, local %v; want %v %v, %v", p.Lazy, p.LazyTimeout, p.Local, tt.lazy, tt.lazyTimeout, tt.local)
			}
			if p.Handled != tt.handled || contractplan.Handled(p.Channel) != tt.handled {
				t.Errorf("handled %v, want %v", p.Handled, tt.handled)
			}
		})
	}
}

// TestLazyTimeout covers what the loader refuses, for a spec built another
// way: a timeout that is not a duration fails, naming the channel's
// position; a timeout without lazy is ignored; a channel without a
// message schema is not handled.
func TestLazyTimeout(t *testing.T) {
	pos := schema.Pos{File: "hand.yaml", Line: 7, Col: 3}
	bad := &schema.Spec{Channels: []*schema.Channel{
		{Pattern: "/ok", Pos: pos},
		{Pattern: "/slow", Lazy: true, LazyTimeout: "soon", Pos: pos},
	}}
	_, err := contractplan.Templates(bad)
	if err == nil {
		t.Fatal("a lazy timeout of soon was planned")
	}
	if want := `hand.yaml:7:3: lazy timeout "soon": time: invalid duration "soon"`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	notLazy := &schema.Spec{Channels: []*schema.Channel{{Pattern: "/x", LazyTimeout: "soon", Pos: pos}}}
	plan, err := contractplan.Templates(notLazy)
	if err != nil || plan[0].Lazy || plan[0].LazyTimeout != 0 || plan[0].Handled {
		t.Errorf("a timeout without lazy, no message: %+v, %v", plan, err)
	}
}
