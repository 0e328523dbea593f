package gateway

import (
	"strings"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/schema"
)

// route is a declared channel prepared for matching concrete names.
type route struct {
	ch       *schema.Channel
	segments []string // the pattern's segments; "{name}" for parameters
	wild     string   // "*", "**" or "" for the last segment
	params   map[string]*paramCheck
}

func newRoute(ch *schema.Channel) *route {
	r := &route{ch: ch, segments: strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/")}
	if last := r.segments[len(r.segments)-1]; last == "*" || last == "**" {
		r.wild = last
		r.segments = r.segments[:len(r.segments)-1]
	}
	r.params = make(map[string]*paramCheck, len(ch.Params))
	for i := range ch.Params {
		r.params[ch.Params[i].Name] = newParamCheck(&ch.Params[i])
	}
	return r
}

// match reports whether the concrete channel name belongs to the route and
// returns the parameters' values.
func (r *route) match(name string) (map[string]string, bool) {
	if r.wild != "" {
		if !bayeux.Match(r.ch.Pattern, name) {
			return nil, false
		}
		return nil, true
	}
	segs := strings.Split(strings.TrimPrefix(name, "/"), "/")
	if len(segs) != len(r.segments) {
		return nil, false
	}
	var params map[string]string
	for i, s := range r.segments {
		if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
			if params == nil {
				params = make(map[string]string, len(r.params))
			}
			params[s[1:len(s)-1]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// matchSubscription reports whether a subscription (which may itself be a
// wildcard) addresses this route: a concrete name that matches, or the
// route's pattern with its trailing parameter written as "*".
func (r *route) matchSubscription(name string) (map[string]string, bool) {
	if !bayeux.IsWild(name) {
		return r.match(name)
	}
	if r.wild != "" {
		return nil, name == r.ch.Pattern
	}
	segs := strings.Split(strings.TrimPrefix(name, "/"), "/")
	if len(segs) != len(r.segments) || segs[len(segs)-1] != "*" {
		return nil, false
	}
	last := r.segments[len(r.segments)-1]
	if len(last) < 3 || last[0] != '{' {
		return nil, false
	}
	for i, s := range r.segments[:len(r.segments)-1] {
		if s != segs[i] {
			return nil, false
		}
	}
	return nil, true
}
