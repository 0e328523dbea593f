// Package asyncapi writes a spec as an AsyncAPI 3.0 document: its channels
// with their addresses and parameters, their messages with their JSON
// Schemas, the operations its rules allow, the JWT of the handshake as a
// security scheme, and what only Bayeux has (wildcards, lazy and local
// channels, filters, the rules' entries) under x-bayeux keys.
//
// The document describes the server, the application: it receives what
// clients publish on a channel (action receive) and sends what it delivers
// to subscribers (action send). A service channel is one receive operation
// with a reply on the same channel.
package asyncapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
)

// Version is the AsyncAPI version of the documents Document writes.
const Version = "3.0.0"

// obj is a JSON object that keeps the order of its keys.
type obj struct {
	keys []string
	vals map[string]any
}

func newObj() *obj { return &obj{vals: map[string]any{}} }

func (o *obj) set(k string, v any) *obj {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

func (o *obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func ref(ptr string) *obj { return newObj().set("$ref", ptr) }

// Document returns the AsyncAPI 3.0 document of spec, indented JSON.
func Document(spec *schema.Spec, version string) ([]byte, error) {
	if version == "" {
		version = "1.0.0"
	}
	info := newObj().set("title", spec.Name).set("version", version)
	if spec.Description != "" {
		info.set("description", spec.Description)
	}
	doc := newObj().set("asyncapi", Version).set("id", "urn:cometgen:"+spec.Name).set("info", info).
		set("defaultContentType", "application/json")
	channels, operations := newObj(), newObj()
	schemas, messages := newObj(), newObj()
	for _, name := range slices.Sorted(maps.Keys(spec.Schemas)) {
		schemas.set(name, payload(spec, spec.Schemas[name]))
	}
	secured := spec.Auth.Handshake != schema.HandshakeNone
	for _, ch := range spec.Channels {
		id := lowerFirst(generator.ChannelName(ch))
		c := newObj().set("address", ch.Pattern)
		if ch.Description != "" {
			c.set("description", ch.Description)
		}
		if len(ch.Params) > 0 {
			ps := newObj()
			for _, p := range ch.Params {
				po := newObj()
				if p.Description != "" {
					po.set("description", p.Description)
				}
				if len(p.Enum) > 0 {
					po.set("enum", p.Enum)
				}
				// AsyncAPI 3.0 parameters have no pattern or lengths
				// (asyncapi/spec#979): they are Bayeux specifics here.
				px := newObj()
				if p.Pattern != "" {
					px.set("pattern", p.Pattern)
				}
				if p.MinLength > 0 {
					px.set("minLength", p.MinLength)
				}
				if p.MaxLength > 0 {
					px.set("maxLength", p.MaxLength)
				}
				if len(px.keys) > 0 {
					po.set("x-bayeux", px)
				}
				ps.set(p.Name, po)
			}
			c.set("parameters", ps)
		}
		cmsgs := newObj()
		addMsg := func(suffix string, s *schema.Schema, examples []json.RawMessage) string {
			mid := id + suffix
			m := newObj().set("name", mid).set("contentType", "application/json")
			if s != nil {
				if s.Name != "" {
					m.set("payload", ref("#/components/schemas/"+s.Name))
				} else {
					m.set("payload", payload(spec, s))
				}
			}
			if len(examples) > 0 {
				var ex []any
				for _, e := range examples {
					ex = append(ex, newObj().set("payload", e))
				}
				m.set("examples", ex)
			}
			messages.set(mid, m)
			cmsgs.set(suffix[1:], ref("#/components/messages/"+mid))
			return "#/channels/" + id + "/messages/" + suffix[1:]
		}
		bx := newObj().set("kind", string(ch.Kind))
		if strings.HasSuffix(ch.Pattern, "/*") || strings.HasSuffix(ch.Pattern, "/**") {
			bx.set("wildcard", true)
		}
		if ch.Deprecated != "" {
			bx.set("deprecated", ch.Deprecated)
		}
		if ch.Lazy {
			lz := newObj().set("lazy", true)
			if ch.LazyTimeout != "" {
				lz.set("timeout", ch.LazyTimeout)
			}
			bx.set("lazy", lz)
		}
		if ch.Local {
			bx.set("local", true)
		}
		if len(ch.Filters) > 0 {
			var fs []any
			for _, f := range ch.Filters {
				fs = append(fs, filter(f))
			}
			bx.set("filters", fs)
		}
		chRef := ref("#/channels/" + id)
		if ch.Kind == schema.Service {
			req := addMsg(".request", ch.Request, ch.Examples)
			var rep string
			if ch.Reply != nil {
				rep = addMsg(".reply", ch.Reply, nil)
			}
			if ch.Publish.ClientsAllowed() {
				op := newObj().set("action", "receive").set("channel", chRef).
					set("summary", "Clients call "+ch.Pattern+"; the server replies.").
					set("messages", []any{ref(req)})
				if rep != "" {
					op.set("reply", newObj().set("channel", chRef).set("messages", []any{ref(rep)}))
				}
				withRule(op, ch.Publish, secured)
				operations.set("call"+upperFirst(id), op)
			}
		} else {
			msg := addMsg(".message", ch.Message, ch.Examples)
			if ch.Publish.ClientsAllowed() {
				op := newObj().set("action", "receive").set("channel", chRef).
					set("summary", "Clients publish on "+ch.Pattern+".").set("messages", []any{ref(msg)})
				withRule(op, ch.Publish, secured)
				operations.set("publish"+upperFirst(id), op)
			}
			op := newObj().set("action", "send").set("channel", chRef).
				set("summary", "The server delivers "+ch.Pattern+" to its subscribers.").set("messages", []any{ref(msg)})
			withRule(op, ch.Subscribe, secured)
			operations.set("deliver"+upperFirst(id), op)
		}
		c.set("messages", cmsgs)
		c.set("x-bayeux", bx)
		channels.set(id, c)
	}
	doc.set("channels", channels).set("operations", operations)
	comps := newObj()
	if len(schemas.keys) > 0 {
		comps.set("schemas", schemas)
	}
	comps.set("messages", messages)
	if secured {
		comps.set("securitySchemes", newObj().set("jwt", newObj().
			set("type", "http").set("scheme", "bearer").set("bearerFormat", "JWT").
			set("description", "A JWT the application's backend issued, carried by the Bayeux handshake at ext.auth.token (auth.handshake: "+string(spec.Auth.Handshake)+"). Its roles claim grants the roles the rules name.").
			set("x-bayeux", newObj().set("handshake", string(spec.Auth.Handshake)).set("ext", "auth.token").set("roles", rolesOf(spec)))))
	}
	doc.set("components", comps)
	doc.set("x-bayeux", newObj().set("protocol", "bayeux").set("version", "1.0").
		set("transports", []string{"websocket", "long-polling", "callback-polling"}))
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func rolesOf(spec *schema.Spec) []string {
	if spec.Auth.Roles == nil {
		return []string{}
	}
	return spec.Auth.Roles
}

// payload returns a schema as AsyncAPI embeds it. A schema whose $refs
// point into itself (#/$defs/...) gets an $id, so that they still do.
func payload(spec *schema.Spec, s *schema.Schema) json.RawMessage {
	if !bytes.Contains(s.JSON, []byte(`"$ref":"#`)) || s.JSON[0] != '{' {
		return s.JSON
	}
	id, _ := json.Marshal("urn:cometgen:" + spec.Name + ":schema:" + s.Pos.String())
	return append(append([]byte(`{"$id":`), id...), append([]byte{','}, s.JSON[1:]...)...)
}

// withRule records who the rule allows, and the security an operation
// needs when the rule asks for credentials.
func withRule(op *obj, r schema.Rule, secured bool) {
	var allow []any
	needs := len(r.Allow) > 0
	for _, a := range r.Allow {
		switch a.Kind {
		case schema.AllowRole:
			allow = append(allow, newObj().set("role", a.Role))
		case schema.AllowSelf:
			allow = append(allow, newObj().set("self", a.Param))
		default:
			allow = append(allow, string(a.Kind))
			if a.Kind == schema.AllowAnyone {
				needs = false
			}
		}
	}
	if allow == nil {
		allow = []any{"anyone"}
	}
	if secured && needs {
		op.set("security", []any{ref("#/components/securitySchemes/jwt")})
	}
	op.set("x-bayeux", newObj().set("allow", allow))
}

func filter(f schema.Filter) *obj {
	o := newObj()
	if f.Custom {
		return o.set("custom", f.Name)
	}
	o.set("filter", f.Name)
	if len(f.Paths) > 0 {
		o.set("paths", f.Paths)
	}
	if f.Max > 0 {
		o.set("max", f.Max)
	}
	if f.Pattern != "" {
		o.set("pattern", f.Pattern)
	}
	if f.Replacement != "" {
		o.set("replacement", f.Replacement)
	}
	if f.Reason != "" {
		o.set("reason", f.Reason)
	}
	return o
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
