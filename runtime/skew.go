package runtime

import (
	"slices"
	"strings"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// ContractPrint is the fingerprint of a contract, by which the server tells
// whether a client generated from another version of the spec still fits
// it (live version skew). For each channel a client may use it holds a
// print of each side the client relies on: what clients publish (the
// parameters, the publish rule, the filters that can refuse, the schema of
// what is published) and what they receive (the parameters, the subscribe
// rule, the schema of what is delivered, or of a service's replies).
// cometgen computes it from the spec (package schema/breaking); the
// generated Contract declares it and `cometgen serve --spec` builds it.
//
// A generated client sends the prints of the spec it was generated from in
// its handshake's ext ("contract", see ContractExt). The server compares
// them with its own, channel by channel and side by side: a channel the
// client knows that the server no longer declares, or a side whose print
// is neither the server's nor one of Compatible, is breaking for that
// client. The handshake still succeeds; its reply then carries
// ext.contract = {"breaking": [patterns…], "spec": …, "hash": …}, which the
// generated TypeScript client hands to its onContractChanged callback
// (whose default reloads the page). A compatible difference adds nothing
// to the reply. Stats counts both.
type ContractPrint struct {
	// Spec is the spec's name.
	Spec string
	// Hash is the print of the whole contract: equal hashes, nothing to
	// compare.
	Hash string
	// Channels are the prints of the channels clients may use.
	Channels []ChannelPrint
	// Compatible are prints of channel sides of older versions of the spec
	// that the breaking rules judged compatible with this one (`cometgen
	// generate --compat-with`, `cometgen serve --compat-with`): a client
	// sending one of them is not told of a change.
	Compatible []string
}

// ChannelPrint is the print of one channel: of what clients publish on it
// and of what they receive from it; "" for a side no client uses.
type ChannelPrint struct {
	Pattern          string
	Publish, Deliver string
}

// ContractExt returns the value a client generated from p sends as its
// handshake's ext.contract: {"spec", "hash", "channels": {pattern:
// "publish.deliver"}}.
func (p *ContractPrint) ContractExt() map[string]any {
	chans := make(map[string]any, len(p.Channels))
	for _, c := range p.Channels {
		chans[c.Pattern] = c.Publish + "." + c.Deliver
	}
	return map[string]any{"spec": p.Spec, "hash": p.Hash, "channels": chans}
}

// extContract is the key of the handshake's ext that carries a client's
// contract, and of the reply's that carries the server's verdict.
const extContract = "contract"

// compiledPrint is a ContractPrint ready to judge clients' prints.
type compiledPrint struct {
	spec, hash string
	byShape    map[string]ChannelPrint
	compatible map[string]bool
}

func compilePrint(p *ContractPrint) *compiledPrint {
	if p == nil {
		return nil
	}
	cp := &compiledPrint{spec: p.Spec, hash: p.Hash, byShape: map[string]ChannelPrint{}, compatible: map[string]bool{}}
	for _, c := range p.Channels {
		cp.byShape[patternShape(c.Pattern)] = c
	}
	for _, h := range p.Compatible {
		cp.compatible[h] = true
	}
	return cp
}

// patternShape is a pattern with its parameters unnamed ("/chat/{}"): a
// parameter renamed is the same channel on the wire.
func patternShape(pattern string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// skew is the verdict on a client's contract.
type skew int

const (
	skewNone       skew = iota // no contract sent, or the same one
	skewCompatible             // another contract, compatible
	skewBreaking               // another contract, breaking for the client
)

// judge compares the contract a client sent (its handshake's
// ext.contract) with the server's; it returns the verdict and the
// patterns, as the client wrote them, of the channels that break. A value
// that is not a contract is ignored.
func (cp *compiledPrint) judge(v any) (skew, []string) {
	m, ok := v.(map[string]any)
	if !ok {
		return skewNone, nil
	}
	if h, _ := m["hash"].(string); h != "" && h == cp.hash {
		return skewNone, nil
	}
	chans, ok := m["channels"].(map[string]any)
	if !ok {
		return skewNone, nil
	}
	var broken []string
	for pattern, pv := range chans {
		sides, _ := pv.(string)
		pub, del, _ := strings.Cut(sides, ".")
		own, declared := cp.byShape[patternShape(pattern)]
		if !declared || !cp.fits(pub, own.Publish) || !cp.fits(del, own.Deliver) {
			broken = append(broken, pattern)
		}
	}
	if len(broken) == 0 {
		return skewCompatible, nil
	}
	slices.Sort(broken)
	return skewBreaking, broken
}

// fits reports whether a side the client printed still holds: it does not
// use the side, the print is the server's, or a compatible older one.
func (cp *compiledPrint) fits(client, own string) bool {
	return client == "" || client == own || cp.compatible[client]
}

// judgeSkew judges the contract of a handshake m and writes a breaking
// verdict into the reply's ext.
func (s *Server) judgeSkew(m, reply *bayeux.Message) {
	c := s.contract.Load()
	if c == nil || c.print == nil || m.Ext == nil {
		return
	}
	v, ok := m.Ext[extContract]
	if !ok {
		return
	}
	verdict, broken := c.print.judge(v)
	switch verdict {
	case skewCompatible:
		s.stats.skewCompatible.Add(1)
	case skewBreaking:
		s.stats.skewBreaking.Add(1)
		setExt(reply, extContract, map[string]any{"breaking": broken, "spec": c.print.spec, "hash": c.print.hash})
	}
}
