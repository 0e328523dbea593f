// Package breaking finds the changes between two versions of a spec that
// break clients built against the older one.
//
// The rules know direction. What clients publish (a broadcast channel's
// messages when its publish rule lets clients publish, a service channel's
// requests) is read by the server: a change that makes the schema refuse
// something it accepted breaks publishers. What the server delivers (a
// broadcast channel's messages, a service channel's replies) is read by
// clients: a change that lets it carry something it could not breaks
// subscribers. A broadcast channel clients publish on flows both ways, so
// both apply. Each rule has a stable ID and a level (Rules); Compare reads
// the two loaded specs and never re-derives what the loader decided.
//
// A spec accepts deliberate breaks by rule ID with an x-accept-breaking
// list, on a channel (for that channel) or at the top level (for every
// channel, and for removed ones):
//
//	channels:
//	  /chat/{room}:
//	    x-accept-breaking: [PUBLISH_FIELD_REQUIRED]
package breaking

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cometgen/cometgen/schema"
)

// AcceptKey is the x- key of a channel, or of the spec, that lists the IDs
// of the rules whose findings are accepted.
const AcceptKey = "x-accept-breaking"

// Finding is one breaking change.
type Finding struct {
	Rule  string
	Level Level
	// Channel is the channel as the old spec writes it.
	Channel string
	// Pos is where the change is: in the new spec, or in the old one (Old)
	// for what was removed.
	Pos     schema.Pos
	Old     bool
	Message string
	// Accepted is set when the spec accepts the rule for the channel
	// (x-accept-breaking).
	Accepted bool
}

// String returns "file:line:col: RULE_ID: message".
func (f Finding) String() string { return f.Pos.String() + ": " + f.Rule + ": " + f.Message }

// Compare returns the changes from old to new that break clients built
// against old, sorted by position (the new spec's first). The error is
// about the specs' x-accept-breaking keys.
func Compare(old, new *schema.Spec) ([]Finding, error) {
	c := &comparer{old: old, new: new}
	accept, err := acceptList(new.Extensions, "the spec")
	if err != nil {
		return nil, err
	}
	c.specAccept = accept
	if old.Auth.Handshake != schema.HandshakeRequired && new.Auth.Handshake == schema.HandshakeRequired {
		c.add(nil, HandshakeRequired, schema.Pos{File: new.File, Line: 1, Col: 1}, false,
			fmt.Sprintf("auth.handshake changed from %s to required", old.Auth.Handshake))
	}
	byShape := map[string]*schema.Channel{}
	for _, ch := range new.Channels {
		byShape[shape(ch.Pattern)] = ch
	}
	for _, och := range old.Channels {
		nch := byShape[shape(och.Pattern)]
		if nch == nil {
			c.removed(och)
			continue
		}
		if err := c.channel(och, nch); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(c.out, func(i, j int) bool {
		a, b := c.out[i], c.out[j]
		if a.Old != b.Old {
			return !a.Old
		}
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Rule < b.Rule
	})
	return c.out, nil
}

type comparer struct {
	old, new   *schema.Spec
	specAccept []string
	chAccept   []string // the current channel's
	out        []Finding
}

func (c *comparer) add(ch *schema.Channel, id string, pos schema.Pos, old bool, msg string) {
	r, _ := RuleByID(id)
	f := Finding{Rule: id, Level: r.Level, Pos: pos, Old: old, Message: msg}
	if ch != nil {
		f.Channel = ch.Pattern
		f.Message = ch.Pattern + ": " + msg
	}
	if r.Why != "" {
		f.Message += ": " + r.Why
	}
	f.Accepted = slices.Contains(c.specAccept, id) || slices.Contains(c.chAccept, id)
	c.out = append(c.out, f)
}

// acceptList reads an x-accept-breaking list.
func acceptList(ext map[string]json.RawMessage, where string) ([]string, error) {
	raw, ok := ext[AcceptKey]
	if !ok {
		return nil, nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, fmt.Errorf("%s of %s must be a list of rule IDs", AcceptKey, where)
	}
	for _, id := range ids {
		if _, ok := RuleByID(id); !ok {
			return nil, fmt.Errorf("%s of %s names %s, which is no rule (see docs/breaking.md)", AcceptKey, where, id)
		}
	}
	return ids, nil
}

var paramSeg = regexp.MustCompile(`\{[^/]*\}`)

// shape is a channel pattern with its parameters unnamed: /chat/{room}
// and /chat/{id} are the same channel, with a parameter renamed.
func shape(pattern string) string { return paramSeg.ReplaceAllString(pattern, "{}") }

// removed reports a channel of the old spec that the new one lacks: a
// parameter removed when a channel of the new spec is the old one without
// some parameter segments.
func (c *comparer) removed(och *schema.Channel) {
	c.chAccept = nil
	osegs := strings.Split(och.Pattern, "/")
	for _, nch := range c.new.Channels {
		if nsegs := strings.Split(nch.Pattern, "/"); len(nsegs) < len(osegs) && withoutParams(osegs, nsegs) {
			c.chAccept, _ = acceptList(nch.Extensions, "channel "+nch.Pattern)
			c.add(och, ParamRemoved, nch.Pos, false, fmt.Sprintf("parameters removed: the channel is now %s", nch.Pattern))
			return
		}
	}
	c.add(och, ChannelRemoved, och.Pos, true, "channel removed")
}

// withoutParams reports whether segs is old with only parameter segments
// removed.
func withoutParams(old, segs []string) bool {
	j := 0
	for _, s := range old {
		if j < len(segs) && (s == segs[j] || isParam(s) && isParam(segs[j])) {
			j++
			continue
		}
		if !isParam(s) {
			return false
		}
	}
	return j == len(segs)
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

func (c *comparer) channel(och, nch *schema.Channel) error {
	accept, err := acceptList(nch.Extensions, "channel "+nch.Pattern)
	if err != nil {
		return err
	}
	c.chAccept = accept
	rename := paramRenames(och.Pattern, nch.Pattern)
	c.params(och, nch, rename)
	publishers := och.Publish.ClientsAllowed()
	if publishers {
		c.rule(och, nch, och.Publish, nch.Publish, rename, PublishDenied, "publish")
	}
	if och.Kind == schema.Broadcast {
		c.rule(och, nch, och.Subscribe, nch.Subscribe, rename, SubscribeDenied, "subscribe")
	}
	if publishers {
		c.filters(och, nch)
		if err := c.schema(och, nch, och.Published(), nch.Published(), true, och.Kind == schema.Broadcast); err != nil {
			return err
		}
		if och.Kind == schema.Service {
			return c.schema(och, nch, och.Reply, nch.Reply, false, true)
		}
		return nil
	}
	if och.Kind == schema.Broadcast {
		return c.schema(och, nch, och.Message, nch.Message, false, true)
	}
	return nil // a service channel no client may call
}

// paramRenames maps the old parameter names to the new ones, by position.
func paramRenames(old, new string) map[string]string {
	m := map[string]string{}
	os, ns := strings.Split(old, "/"), strings.Split(new, "/")
	for i := range min(len(os), len(ns)) {
		if isParam(os[i]) && isParam(ns[i]) {
			m[strings.Trim(os[i], "{}")] = strings.Trim(ns[i], "{}")
		}
	}
	return m
}

// params compares the parameters, as string schemas: clients build the
// names they publish and subscribe on, so a parameter that accepts fewer
// values breaks them; one that accepts more reaches wildcard subscribers
// with names their parsers refuse.
func (c *comparer) params(och, nch *schema.Channel, rename map[string]string) {
	for _, op := range och.Params {
		i := slices.IndexFunc(nch.Params, func(p schema.Param) bool { return p.Name == rename[op.Name] })
		if i < 0 {
			continue
		}
		np := nch.Params[i]
		changes, err := diffSchemas(paramSchema(op), paramSchema(np))
		if err != nil {
			continue // built here: cannot happen
		}
		for _, ch := range changes {
			msg := strings.Replace(ch.msg, "the message", "parameter "+np.Name, 1)
			if ch.tighten {
				c.add(och, ParamNarrowed, np.Pos, false, msg)
			}
			if ch.loosen && och.Kind == schema.Broadcast {
				c.add(och, ParamWidened, np.Pos, false, msg)
			}
		}
	}
}

func paramSchema(p schema.Param) json.RawMessage {
	m := map[string]any{"type": "string"}
	if p.Pattern != "" {
		m["pattern"] = p.Pattern
	}
	if p.MinLength > 0 {
		m["minLength"] = p.MinLength
	}
	if p.MaxLength > 0 {
		m["maxLength"] = p.MaxLength
	}
	if len(p.Enum) > 0 {
		m["enum"] = p.Enum
	}
	b, _ := json.Marshal(m)
	return b
}

// rule reports the entries of the old rule the new one no longer allows.
func (c *comparer) rule(och, nch *schema.Channel, old, new schema.Rule, rename map[string]string, id, op string) {
	olds := old.Allow
	if len(olds) == 0 {
		olds = []schema.Allow{{Kind: schema.AllowAnyone}}
	}
	var denied []string
	for _, a := range olds {
		if a.Kind != schema.AllowServer && !covered(a, new, rename) {
			denied = append(denied, allowName(a))
		}
	}
	if len(denied) == 0 {
		return
	}
	pos := new.Pos
	if pos.Line == 0 {
		pos = nch.Pos
	}
	c.add(och, id, pos, false, fmt.Sprintf("the %s rule no longer allows %s", op, strings.Join(denied, ", ")))
}

func allowName(a schema.Allow) string {
	switch a.Kind {
	case schema.AllowRole:
		return "role " + a.Role
	case schema.AllowSelf:
		return "{self: " + a.Param + "}"
	}
	return string(a.Kind)
}

// covered reports whether the rule r allows every session the entry a
// allowed.
func covered(a schema.Allow, r schema.Rule, rename map[string]string) bool {
	if len(r.Allow) == 0 {
		return true
	}
	for _, b := range r.Allow {
		switch {
		case b.Kind == schema.AllowAnyone:
			return true
		case a.Kind == schema.AllowAnyone:
		case b.Kind == schema.AllowAuthenticated:
			return true // roles and self need credentials
		case a.Kind == schema.AllowRole && b.Kind == schema.AllowRole && a.Role == b.Role:
			return true
		case a.Kind == schema.AllowSelf && b.Kind == schema.AllowSelf && rename[a.Param] == b.Param:
			return true
		}
	}
	return false
}

// refusing are the built-in filters that can refuse a message.
var refusing = map[string]bool{"max-length": true, "regex-abort": true}

func (c *comparer) filters(och, nch *schema.Channel) {
	for _, f := range nch.Filters {
		if !refusing[f.Name] && !f.Custom {
			continue
		}
		if slices.ContainsFunc(och.Filters, func(g schema.Filter) bool { return sameFilter(f, g) }) {
			continue
		}
		name := f.Name
		if f.Custom {
			name = "custom " + f.Name
		}
		c.add(och, PublishFilterAdded, f.Pos, false, fmt.Sprintf("filter %s added", name))
	}
}

func sameFilter(a, b schema.Filter) bool {
	return a.Name == b.Name && a.Custom == b.Custom && a.Pattern == b.Pattern &&
		(a.Max == b.Max || a.Name == "max-length" && a.Max > b.Max) && slices.Equal(a.Paths, b.Paths)
}

// The rules a change of a schema reports, by kind: on the publish side
// (the new schema refuses more), on the delivery side (it allows more).
var (
	publishRule = map[kind]string{kType: PublishTypeNarrowed, kEnum: PublishEnumNarrowed,
		kPattern: PublishPatternNarrowed, kRange: PublishRangeNarrowed, kLength: PublishLengthNarrowed,
		kRequired: PublishFieldRequired, kProperty: PublishPropertyDenied, kOther: PublishSchemaChanged}
	deliverRule = map[kind]string{kType: DeliverTypeWidened, kEnum: DeliverEnumWidened,
		kPattern: DeliverPatternWidened, kRange: DeliverRangeWidened, kLength: DeliverLengthWidened,
		kRequired: DeliverFieldOptional, kProperty: DeliverPropertyAdded, kRemoved: DeliverFieldRemoved,
		kOther: DeliverSchemaChanged}
)

// schema compares a schema of the channel, read by the server (publish)
// and or by clients (deliver).
func (c *comparer) schema(och, nch *schema.Channel, old, new *schema.Schema, publish, deliver bool) error {
	var oj, nj json.RawMessage
	if old != nil {
		oj = old.JSON
	}
	if new != nil {
		nj = new.JSON
	}
	changes, err := diffSchemas(oj, nj)
	if err != nil {
		return fmt.Errorf("channel %s: %w", och.Pattern, err)
	}
	role := "message"
	if och.Kind == schema.Service {
		role = "request"
		if !publish {
			role = "reply"
		}
	}
	for _, ch := range changes {
		pos := locate(new, nch, ch.ptr)
		if ch.inOld {
			pos = locate(old, och, ch.ptr)
		}
		msg := ch.msg
		if role != "message" {
			msg = strings.Replace(msg, "the message", "the "+role, 1)
			if ch.field != "" {
				msg = role + " " + msg
			}
		}
		if publish && ch.tighten && publishRule[ch.kind] != "" {
			c.add(och, publishRule[ch.kind], pos, false, msg)
		}
		if deliver && (ch.loosen || ch.kind == kRemoved) && deliverRule[ch.kind] != "" {
			c.add(och, deliverRule[ch.kind], pos, ch.inOld, msg)
		}
	}
	return nil
}

func locate(s *schema.Schema, ch *schema.Channel, ptr string) schema.Pos {
	if s == nil {
		return ch.Pos
	}
	return s.Locate(ptr)
}
