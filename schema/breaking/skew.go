package breaking

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sort"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
)

// Live version skew: the server judges the contract a deployed client was
// generated from by prints of what the client relies on, channel by
// channel and side by side (runtime.ContractPrint). A print is a hash, so
// the server cannot compare the schemas behind a print it does not know;
// the comparison with the breaking rules is done here, ahead of time,
// against older specs (Compatible), and its result ships as data.

// Fingerprint returns the print of spec: of each channel a client may use,
// the print of what clients publish on it and of what they receive from
// it, and the hash of them all. The generators write it into the typed
// clients and the generated Contract; `cometgen serve --spec` computes it
// when it loads the spec.
func Fingerprint(spec *schema.Spec) *runtime.ContractPrint {
	p := &runtime.ContractPrint{Spec: spec.Name}
	all := sha256.New()
	all.Write([]byte(spec.Name + "\n" + string(spec.Auth.Handshake) + "\n"))
	for _, ch := range spec.Channels {
		cp, ok := channelPrint(ch)
		if !ok {
			continue
		}
		p.Channels = append(p.Channels, cp)
		all.Write([]byte(shape(cp.Pattern) + " " + cp.Publish + " " + cp.Deliver + "\n"))
	}
	p.Hash = encodeHash(all.Sum(nil))
	return p
}

// channelPrint returns the print of a channel a client may use.
func channelPrint(ch *schema.Channel) (runtime.ChannelPrint, bool) {
	cp := runtime.ChannelPrint{Pattern: ch.Pattern}
	publish, deliver := sides(ch)
	if !publish && !deliver {
		return cp, false
	}
	params := make([]json.RawMessage, len(ch.Params))
	for i, p := range ch.Params {
		params[i] = paramSchema(p)
	}
	if publish {
		var flts []string
		for _, f := range ch.Filters {
			if refusing[f.Name] || f.Custom {
				b, _ := json.Marshal([]any{f.Name, f.Custom, f.Paths, f.Max, f.Pattern})
				flts = append(flts, string(b))
			}
		}
		cp.Publish = sidePrint("publish", ch, params, ruleNames(ch.Publish), flts, ch.Published())
	}
	if deliver {
		s, rule := ch.Message, ch.Subscribe
		if ch.Kind == schema.Service {
			s, rule = ch.Reply, schema.Rule{}
		}
		cp.Deliver = sidePrint("deliver", ch, params, ruleNames(rule), nil, s)
	}
	return cp, true
}

// sides says whether clients publish on the channel (call it), and whether
// they receive from it (subscribe, or read a service's replies): the
// sides the breaking rules compare.
func sides(ch *schema.Channel) (publish, deliver bool) {
	publish = ch.Publish.ClientsAllowed()
	if ch.Kind == schema.Service {
		return publish, publish
	}
	return publish, ch.Subscribe.ClientsAllowed()
}

func ruleNames(r schema.Rule) []string {
	var out []string
	for _, a := range r.Allow {
		out = append(out, allowName(a))
	}
	slices.Sort(out)
	return out
}

// sidePrint hashes what a side of a channel is made of, its schema with
// no annotations (descriptions, titles, examples): a description edited
// is no difference.
func sidePrint(side string, ch *schema.Channel, params []json.RawMessage, rule, filters []string, s *schema.Schema) string {
	var sch any
	if s != nil {
		if v, err := decode(s.JSON); err == nil {
			sch = stripAnnotations(v)
		}
	}
	b, _ := json.Marshal(map[string]any{
		"side": side, "channel": shape(ch.Pattern), "params": params,
		"rule": rule, "filters": filters, "schema": sch,
	})
	sum := sha256.Sum256(b)
	return encodeHash(sum[:])
}

// encodeHash writes the first 9 bytes of a hash in 12 characters: enough
// to tell a spec's versions apart, short enough for every handshake.
func encodeHash(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum[:9]) }

// printAnnotations are the keywords a print leaves out: they change nothing
// a message may be.
var printAnnotations = map[string]bool{"description": true, "title": true, "examples": true,
	"$comment": true, "deprecated": true, "readOnly": true, "writeOnly": true, "default": true}

// nameMaps are the keywords whose value maps names to schemas.
var nameMaps = map[string]bool{"properties": true, "patternProperties": true, "$defs": true,
	"definitions": true, "dependentSchemas": true}

// values are the keywords whose value is data, not a schema.
var values = map[string]bool{"enum": true, "const": true}

// stripAnnotations returns the schema v without its annotations.
func stripAnnotations(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			switch {
			case printAnnotations[k]:
			case values[k]:
				out[k] = x
			case nameMaps[k]:
				if m, ok := x.(map[string]any); ok {
					named := make(map[string]any, len(m))
					for name, sub := range m {
						named[name] = stripAnnotations(sub)
					}
					out[k] = named
				} else {
					out[k] = x
				}
			default:
				out[k] = stripAnnotations(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = stripAnnotations(x)
		}
		return out
	}
	return v
}

// Compatible returns the prints of the channel sides of old (an older
// version of the spec) that clients built against old may keep using with
// new: a side the breaking rules find no error on. A side with an error,
// accepted by x-accept-breaking or not, breaks those clients; warnings
// (what only clients that check more than most may notice) do not. The
// prints new shares with old are left out: the server knows them already.
func Compatible(old, new *schema.Spec) ([]string, error) {
	findings, err := Compare(old, new)
	if err != nil {
		return nil, err
	}
	broken := map[string][2]bool{} // channel (old pattern) → publish, deliver
	for _, f := range findings {
		if f.Level != Error || f.Channel == "" {
			continue
		}
		r, _ := RuleByID(f.Rule)
		b := broken[f.Channel]
		b[0] = b[0] || r.Side != "deliver"
		b[1] = b[1] || r.Side != "publish"
		broken[f.Channel] = b
	}
	own := map[string]bool{}
	for _, cp := range Fingerprint(new).Channels {
		own[cp.Publish], own[cp.Deliver] = true, true
	}
	newShapes := map[string]bool{}
	for _, ch := range new.Channels {
		newShapes[shape(ch.Pattern)] = true
	}
	var out []string
	for _, ch := range old.Channels {
		cp, ok := channelPrint(ch)
		if !ok || !newShapes[shape(ch.Pattern)] {
			continue
		}
		b := broken[ch.Pattern]
		if cp.Publish != "" && !b[0] && !own[cp.Publish] {
			out = append(out, cp.Publish)
		}
		if cp.Deliver != "" && !b[1] && !own[cp.Deliver] {
			out = append(out, cp.Deliver)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// CompatibleWith returns the union of Compatible(old, new) over olds.
func CompatibleWith(new *schema.Spec, olds ...*schema.Spec) ([]string, error) {
	var out []string
	for _, old := range olds {
		c, err := Compatible(old, new)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}
