// Package contractdoc writes a spec as one self-contained HTML page: every
// channel with its parameters, who may subscribe and publish, its filters,
// lazy and local, each schema as a table of fields and as JSON, and the
// examples. The page loads nothing: its style is inline and it has no
// script.
package contractdoc

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
)

//go:embed page.html
var files embed.FS

var page = template.Must(template.New("page.html").ParseFS(files, "page.html"))

// view is what the template reads.
type view struct {
	Spec     *schema.Spec
	Roles    string
	Channels []channelView
	Schemas  []schemaView
}

type channelView struct {
	ID        string
	Ch        *schema.Channel
	Subscribe string
	Publish   string
	Filters   []string
	Schemas   []schemaView // message, or request and reply
	Examples  []string
}

type schemaView struct {
	ID, Title string
	Named     string // the named schema it is, "" for inline
	Fields    []field
	JSON      string
}

// field is a row of a schema's table.
type field struct {
	Path, Type, Required, Rules, Description string
}

// Page returns the HTML page of spec.
func Page(spec *schema.Spec) ([]byte, error) {
	v := view{Spec: spec, Roles: strings.Join(spec.Auth.Roles, ", ")}
	for _, n := range slices.Sorted(maps.Keys(spec.Schemas)) {
		v.Schemas = append(v.Schemas, schemaOf("schema-"+n, n, spec.Schemas[n]))
	}
	for _, ch := range spec.Channels {
		id := "ch-" + generator.ChannelName(ch)
		cv := channelView{ID: id, Ch: ch, Subscribe: rule(ch.Subscribe, false), Publish: rule(ch.Publish, true)}
		if ch.Kind == schema.Service {
			cv.Subscribe = ""
		}
		for _, f := range ch.Filters {
			cv.Filters = append(cv.Filters, filter(f))
		}
		add := func(what string, s *schema.Schema) {
			if s != nil {
				cv.Schemas = append(cv.Schemas, schemaOf(id+"-"+what, what, s))
			}
		}
		if ch.Kind == schema.Service {
			add("request", ch.Request)
			add("reply", ch.Reply)
		} else {
			add("message", ch.Message)
		}
		for _, e := range ch.Examples {
			cv.Examples = append(cv.Examples, indent(e))
		}
		v.Channels = append(v.Channels, cv)
	}
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("contract page: %w", err)
	}
	return b.Bytes(), nil
}

func indent(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

func schemaOf(id, title string, s *schema.Schema) schemaView {
	sv := schemaView{ID: id, Title: title, Named: s.Name, JSON: indent(s.JSON)}
	var root any
	if err := json.Unmarshal(s.JSON, &root); err == nil {
		fields(&sv.Fields, root, "", true, 0)
	}
	return sv
}

// fields appends the rows of the schema s at path: the value itself, then
// its properties and items.
func fields(out *[]field, s any, path string, required bool, depth int) {
	m, ok := s.(map[string]any)
	if !ok || depth > 20 {
		return
	}
	p := path
	if p == "" {
		p = "(message)"
	}
	req := "optional"
	if required {
		req = "required"
	}
	desc, _ := m["description"].(string)
	*out = append(*out, field{Path: p, Type: typeOf(m), Required: req, Rules: rules(m), Description: desc})
	props, _ := m["properties"].(map[string]any)
	reqs, _ := m["required"].([]any)
	for _, n := range slices.Sorted(maps.Keys(props)) {
		child := n
		if path != "" {
			child = path + "." + n
		}
		fields(out, props[n], child, slices.Contains(reqs, any(n)), depth+1)
	}
	if items, ok := m["items"].(map[string]any); ok {
		fields(out, items, path+"[]", true, depth+1)
	}
}

func typeOf(m map[string]any) string {
	switch t := m["type"].(type) {
	case string:
		return t
	case []any:
		var ts []string
		for _, x := range t {
			ts = append(ts, fmt.Sprint(x))
		}
		return strings.Join(ts, " | ")
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		if _, ok := m[k]; ok {
			return k
		}
	}
	if _, ok := m["$ref"]; ok {
		return fmt.Sprint(m["$ref"])
	}
	return "any"
}

// constraints are the keywords a table shows, in order.
var constraints = []string{"enum", "const", "pattern", "format", "minLength", "maxLength",
	"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
	"minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "additionalProperties"}

func rules(m map[string]any) string {
	var rs []string
	for _, k := range constraints {
		v, ok := m[k]
		if !ok {
			continue
		}
		if _, isMap := v.(map[string]any); isMap {
			continue
		}
		b, _ := json.Marshal(v)
		rs = append(rs, k+": "+string(b))
	}
	return strings.Join(rs, ", ")
}

// rule says who a rule allows.
func rule(r schema.Rule, publish bool) string {
	if len(r.Allow) == 0 {
		return "anyone"
	}
	var who []string
	for _, a := range r.Allow {
		switch a.Kind {
		case schema.AllowRole:
			who = append(who, "role "+a.Role)
		case schema.AllowSelf:
			who = append(who, "the user named by {"+a.Param+"}")
		case schema.AllowServer:
			who = append(who, "the server only")
		default:
			who = append(who, string(a.Kind))
		}
	}
	return strings.Join(who, ", ")
}

func filter(f schema.Filter) string {
	if f.Custom {
		return "custom " + f.Name
	}
	s := f.Name
	var args []string
	if f.Max > 0 {
		args = append(args, fmt.Sprintf("max %d", f.Max))
	}
	if f.Pattern != "" {
		args = append(args, "pattern "+f.Pattern)
	}
	if f.Replacement != "" {
		args = append(args, "replacement "+f.Replacement)
	}
	if f.Reason != "" {
		args = append(args, "reason "+f.Reason)
	}
	if len(f.Paths) > 0 {
		args = append(args, "on "+strings.Join(f.Paths, ", "))
	} else {
		args = append(args, "on every string")
	}
	return s + " (" + strings.Join(args, "; ") + ")"
}
