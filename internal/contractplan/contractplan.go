// Package contractplan decides, once, what the runtime contract of a
// loaded spec holds: for each channel, the settings of its
// runtime.Template, as plain data. Its consumers only translate the plan:
// the gateway (`cometgen serve --spec`) into runtime.Template values,
// building the filters; the Go generator into the Template literal of the
// generated Contract, adding the typed handlers. A new template setting is
// decided here, and a channel means the same on both paths.
//
// It lives apart from both consumers: the generator must not import the
// gateway (a server adapter, with its JWT verification), and package schema
// knows nothing of package runtime.
package contractplan

import (
	"fmt"
	"slices"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/filter"
	"github.com/cometgen/cometgen/schema"
)

// A Template is what the contract holds for one channel of the spec.
type Template struct {
	// Channel is the spec's channel the template is planned from.
	Channel *schema.Channel
	// Pattern is the channel's pattern.
	Pattern string
	// Params check the parameters the spec declares checks for, in their
	// order.
	Params []runtime.Param
	// Subscribe and Publish say who may subscribe and publish; see Rule.
	Subscribe, Publish Rule
	// Schema is the JSON Schema of what is published (a service channel's
	// request), or "" for none.
	Schema string
	// Filters are the channel's filters, in the order they run.
	Filters []Filter
	// Lazy makes the messages lazy, delivered within LazyTimeout (0: the
	// server's maximum). LazyTimeout is 0 when Lazy is not set.
	Lazy        bool
	LazyTimeout time.Duration
	// Local keeps the messages on the node where they are published.
	Local bool
	// Handled says the application handles what clients publish (or
	// call) on the channel; see Handled.
	Handled bool
}

// Rule is who may do an operation: the entries of the spec's rule, or nil
// for a rule that allows anyone, which is both an empty rule and one with
// an anyone entry (its other entries allow no one more). The runtime reads
// an empty runtime.Rule, and one with runtime.Anyone, the same way; the
// plan writes the first only.
type Rule []schema.Allow

// A Filter is one of a channel's filters: a custom one the application
// supplies, by name, or a built-in one.
type Filter struct {
	// Custom is the name of a custom filter, "" for a built-in one.
	Custom string
	// Builtin is a built-in filter's spec (for filter.New); zero for a
	// custom one.
	Builtin filter.Spec
	// Pos is where the spec declares the filter.
	Pos schema.Pos
}

// Templates returns the plan of spec's contract: one template per
// channel, in the spec's order. It fails only for a channel the loader
// would have refused (a lazy timeout that is not a duration), naming its
// position.
func Templates(spec *schema.Spec) ([]Template, error) {
	out := make([]Template, 0, len(spec.Channels))
	for _, ch := range spec.Channels {
		t, err := plan(ch)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func plan(ch *schema.Channel) (Template, error) {
	t := Template{
		Channel:   ch,
		Pattern:   ch.Pattern,
		Subscribe: rule(ch.Subscribe),
		Publish:   rule(ch.Publish),
		Lazy:      ch.Lazy,
		Local:     ch.Local,
		Handled:   Handled(ch),
	}
	for _, p := range ch.Params {
		t.Params = append(t.Params, Param(p))
	}
	if s := ch.Published(); s != nil {
		t.Schema = string(s.JSON)
	}
	for _, f := range ch.Filters {
		if f.Custom {
			t.Filters = append(t.Filters, Filter{Custom: f.Name, Pos: f.Pos})
			continue
		}
		t.Filters = append(t.Filters, Filter{Builtin: filter.Spec{
			Name: f.Name, Paths: f.Paths, Max: f.Max, Pattern: f.Pattern, Replacement: f.Replacement, Reason: f.Reason,
		}, Pos: f.Pos})
	}
	if ch.Lazy && ch.LazyTimeout != "" {
		d, err := time.ParseDuration(ch.LazyTimeout)
		if err != nil {
			return Template{}, fmt.Errorf("%s: lazy timeout %q: %w", ch.Pos, ch.LazyTimeout, err)
		}
		t.LazyTimeout = d
	}
	return t, nil
}

// rule returns the plan of a spec's rule: nil when it allows anyone.
func rule(r schema.Rule) Rule {
	if len(r.Allow) == 0 || slices.ContainsFunc(r.Allow, func(a schema.Allow) bool { return a.Kind == schema.AllowAnyone }) {
		return nil
	}
	return slices.Clone(r.Allow)
}

// Param returns the runtime check of a spec's parameter: the one the
// contract applies, and the one a generated channel parser applies.
func Param(p schema.Param) runtime.Param {
	return runtime.Param{Name: p.Name, Pattern: p.Pattern, MinLength: p.MinLength, MaxLength: p.MaxLength, Enum: p.Enum}
}

// Handled reports whether the application handles what clients publish on
// ch: a broadcast channel with a message schema, or a service channel
// with a request schema, that some client may publish on (call).
func Handled(ch *schema.Channel) bool {
	return ch.Published() != nil && ch.Publish.ClientsAllowed()
}
