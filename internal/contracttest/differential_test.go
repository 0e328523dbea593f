package contracttest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
)

// TestSameDecisions is the differential suite: for every spec of the
// suite, the same sessions (anonymous, a user named like the parameters'
// sample values, a user with every role, and the server) make the same
// operations (subscribe to each channel, to wildcards and to an
// undeclared name; publish valid and invalid data on each channel, on an
// invalid parameter value and on an undeclared name; call the service
// channels) against the gateway and against the generated code. Both must
// give every reply the same outcome and deliver the same data to the same
// sessions.
func TestSameDecisions(t *testing.T) {
	for _, name := range specNames() {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			sc := newScenario(spec)
			var transcripts [2][]string
			for i, p := range paths {
				srv := newServer(t, p, spec, runtime.Options{})
				transcripts[i] = sc.run(t, srv)
			}
			gw, gen := transcripts[0], transcripts[1]
			if len(gw) < 10 {
				t.Fatalf("the scenario of %s made %d steps: it tests nothing", name, len(gw))
			}
			// Every channel a client may publish on is published on with
			// success at least once, so deliveries are compared too.
			for _, ch := range spec.Channels {
				valid, _, ok := names(ch)
				if !ok || strings.HasSuffix(ch.Pattern, "*") || len(ch.Publish.Allow) == 1 && ch.Publish.Allow[0].Kind == schema.AllowServer {
					continue
				}
				accepted := false
				for _, line := range gw {
					if strings.Contains(line, " on "+valid+": ok") && !strings.HasPrefix(line, "server ") {
						accepted = true
						break
					}
				}
				if !accepted {
					t.Errorf("no client's publish on %s (%s) was accepted: give the channel an example", valid, ch.Pattern)
				}
			}
			for i := 0; i < max(len(gw), len(gen)); i++ {
				var a, b string
				if i < len(gw) {
					a = gw[i]
				}
				if i < len(gen) {
					b = gen[i]
				}
				if a != b {
					t.Errorf("step %d differs:\n  gateway:   %s\n  generated: %s", i, a, b)
					return
				}
			}
		})
	}
}

// scenario is what the suite does against a spec.
type scenario struct {
	users []identityOf // the sessions
	// subs are the names the sessions subscribe to; names the concrete
	// names published on.
	subs, names []string
	data        map[string][]json.RawMessage // by name
}

type identityOf struct {
	user  string
	roles []string
}

// samples are valid messages of the channels of the specs (by the spec's
// name) that have no example of their own and none of the generic
// candidates fits, so that every channel sees accepted publishes too.
var samples = map[string][]string{
	"auction":  {`{"price":100}`, `{"amount":5,"currency":"EUR"}`},
	"bench":    {`{"seq":1,"pub":0,"ts":1764000000000}`},
	"chat":     {`{"room":"lobby"}`, `{"to":"bob","text":"psst"}`},
	"chatv2":   {`{"room":"lobby"}`},
	"dispatch": {`{"user":"ann","text":"hello","room":"bob","sent":"2026-11-25T13:00:00Z"}`},
	"basic": {`"red"`, `{"name":"home","rating":"good"}`, `{"id":"bob"}`,
		`{"id":"bob","name":"Bob","age":7,"score":1.5,"active":true,"created":"2026-11-25T13:00:00Z","tags":["a"],` +
			`"address":{"city":"Lyon"},"type":"user","2fa":false,"extra":{"kept":true}}`},
	"union": {`{"shape":{"kind":"text","text":"hi"}}`},
}

// sampleUser is the user whose id the parameters' sample value is, so that
// {self: param} rules allow it and no one else.
const sampleUser = "bob"

func newScenario(spec *schema.Spec) *scenario {
	sc := &scenario{data: map[string][]json.RawMessage{}}
	sc.users = []identityOf{{}, {user: sampleUser}, {user: "carol", roles: spec.Auth.Roles}}
	for _, r := range spec.Auth.Roles {
		sc.users = append(sc.users, identityOf{user: "only-" + r, roles: []string{r}})
	}
	generic := append(samples[spec.Name], `{}`, `"text"`, `42`, `[]`, `null`, `{"text":" <b>x</b> "}`, `{"text":"a much longer line of text"}`,
		`{"user":"bob","text":"hi"}`, `{"q":"?"}`, `{"n":1}`)
	add := func(list *[]string, s string) {
		if !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	add(&sc.subs, "/**")
	for _, ch := range spec.Channels {
		var examples []json.RawMessage
		for _, e := range ch.Examples {
			examples = append(examples, e)
		}
		for _, g := range generic {
			examples = append(examples, json.RawMessage(g))
		}
		valid, invalid, ok := names(ch)
		first := strings.SplitN(ch.Pattern, "/", 3)[1]
		add(&sc.subs, "/"+first+"/**")
		for _, n := range append([]string{valid}, invalid...) {
			if !ok && n == valid {
				continue
			}
			add(&sc.names, n)
			add(&sc.subs, n)
			sc.data[n] = examples
		}
		if i := strings.LastIndexByte(ch.Pattern, '/'); strings.HasPrefix(ch.Pattern[i:], "/{") || strings.HasSuffix(ch.Pattern, "*") {
			add(&sc.subs, ch.Pattern[:i]+"/*")
		}
		if strings.HasSuffix(ch.Pattern, "*") {
			add(&sc.subs, ch.Pattern)
		}
	}
	for _, n := range []string{"/undeclared/channel", "/service/undeclared"} {
		add(&sc.names, n)
		add(&sc.subs, n)
		sc.data[n] = []json.RawMessage{json.RawMessage(`{"text":"x"}`)}
	}
	return sc
}

// names returns a concrete name of ch whose parameters are valid (ok
// false: none of the samples is), and names whose parameters are not.
func names(ch *schema.Channel) (valid string, invalid []string, ok bool) {
	segs := strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/")
	switch segs[len(segs)-1] {
	case "*":
		segs[len(segs)-1] = "any"
		return "/" + strings.Join(segs, "/"), []string{"/" + strings.Join(segs[:len(segs)-1], "/") + "/a/b"}, true
	case "**":
		segs[len(segs)-1] = "a/b"
		return "/" + strings.Join(segs, "/"), nil, true
	}
	good := slices.Clone(segs)
	ok = true
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		p := param(ch, strings.Trim(s, "{}"))
		v, found := sampleValue(p)
		ok = ok && found
		good[i] = v
		for _, bad := range []string{"Bad!Value", strings.Repeat("z", 70)} {
			if !accepts(p, bad) {
				b := slices.Clone(segs)
				copy(b, good[:i+1])
				b[i] = bad
				for j := i + 1; j < len(b); j++ {
					if strings.HasPrefix(b[j], "{") {
						v, _ := sampleValue(param(ch, strings.Trim(b[j], "{}")))
						b[j] = v
					}
				}
				invalid = append(invalid, "/"+strings.Join(b, "/"))
				break
			}
		}
	}
	return "/" + strings.Join(good, "/"), invalid, ok
}

func param(ch *schema.Channel, name string) *schema.Param {
	for i := range ch.Params {
		if ch.Params[i].Name == name {
			return &ch.Params[i]
		}
	}
	return &schema.Param{Name: name}
}

// sampleValue returns a value p accepts, sampleUser first.
func sampleValue(p *schema.Param) (string, bool) {
	candidates := append([]string{sampleUser}, p.Enum...)
	candidates = append(candidates, "1", "lobby", "a", "x", "l1", "abc", "EUR")
	for _, v := range candidates {
		if accepts(p, v) {
			return v, true
		}
	}
	return "nothing-fits", false
}

// accepts reports whether p accepts v, to choose samples (the suite
// compares what the two paths decide, not this).
func accepts(p *schema.Param, v string) bool {
	n := utf8.RuneCountInString(v)
	switch {
	case n < p.MinLength, p.MaxLength > 0 && n > p.MaxLength:
		return false
	case len(p.Enum) > 0 && !slices.Contains(p.Enum, v):
		return false
	case p.Pattern != "" && !regexp.MustCompile(p.Pattern).MatchString(v):
		return false
	}
	return true
}

// run plays the scenario on srv and returns its transcript.
func (sc *scenario) run(t *testing.T, srv *runtime.Server) []string {
	var out []string
	clients := make([]*client, len(sc.users))
	for i, u := range sc.users {
		clients[i] = handshake(t, srv, u.user, u.roles...)
	}
	who := func(i int) string {
		if i < 0 {
			return "server"
		}
		if u := sc.users[i]; u.user != "" {
			return u.user
		}
		return "anonymous"
	}
	for i, c := range clients {
		for _, s := range sc.subs {
			out = append(out, fmt.Sprintf("%s subscribes %s: %s", who(i), s, c.subscribe(s).outcome()))
		}
	}
	ext := map[string]any{"note": "<img src=x onerror=alert(1)>"}
	for _, n := range sc.names {
		for _, d := range sc.data[n] {
			for i := -1; i < len(clients); i++ {
				var outcome string
				if i < 0 {
					if _, err := srv.Publish(n, d); err != nil {
						outcome = "refused " + err.Error()
					} else {
						outcome = "ok"
					}
				} else {
					outcome = clients[i].publish(n, d, ext).outcome()
				}
				out = append(out, fmt.Sprintf("%s publishes %s on %s: %s", who(i), d, n, outcome))
				for j, c := range clients {
					for _, r := range c.drain() {
						if strings.HasPrefix(r.Channel, "/service/") {
							continue // a remote call's reply is its handler's
						}
						out = append(out, fmt.Sprintf("  %s receives on %s: %s ext %v", who(j), r.Channel, canonical(r.Data), r.Ext))
					}
				}
			}
		}
	}
	return out
}
