package generator

import (
	"strings"
	"time"

	"github.com/cometgen/cometgen/internal/contractplan"
	"github.com/cometgen/cometgen/runtime/filter"
	"github.com/cometgen/cometgen/schema"
	"github.com/dave/jennifer/jen"
)

// register emits register.go: Register, which installs the spec's contract
// (Contract) and its authentication on a runtime.Server; Contract, the
// spec's channels as runtime templates with the typed handlers; and the
// typed Publish and Deliver functions.
func (g *goGen) register(f *jen.File) error {
	auth := g.spec.Auth.Handshake == schema.HandshakeOptional || g.spec.Auth.Handshake == schema.HandshakeRequired
	body := []jen.Code{
		jen.If(jen.Err().Op(":=").Id("srv").Dot("SetContract").Call(jen.Id("Contract").Call(jen.Id("h"))), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("register: %w"), jen.Err()))),
	}
	if auth {
		body = append(body, jen.Id("srv").Dot("SetSecurityPolicy").Call(jen.Id("policy").Values(jen.Dict{jen.Id("h"): jen.Id("h")})))
	}
	body = append(body, jen.Return(jen.Nil()))
	f.Comment("Register installs on srv the contract of the spec (Contract) with h's")
	f.Comment("handlers: the server then enforces, for every channel, its parameters,")
	f.Comment("rules, schema, filters and settings, refuses the channels the spec does not")
	f.Comment("declare, and hands what clients publish and call to h, decoded.")
	if auth {
		f.Comment("Handshakes are authenticated by h.Authenticate.")
	}
	f.Func().Id("Register").Params(jen.Id("srv").Op("*").Qual(RuntimePath, "Server"), jen.Id("h").Id("Handlers")).Error().Block(body...)
	f.Line()

	plan, err := contractplan.Templates(g.spec)
	if err != nil {
		return err
	}
	var templates []jen.Code
	for _, t := range plan {
		templates = append(templates, g.template(f, t))
	}
	f.Comment("Contract returns the channels of the spec as the runtime enforces them:")
	f.Comment("for each, its parameters' checks, who may subscribe and publish, the JSON")
	f.Comment("Schema of what is published, its data filters, its lazy and local settings,")
	f.Comment("and the handler of h that receives what clients publish. `cometgen serve")
	f.Comment("--spec` builds the same contract from the spec.")
	f.Func().Id("Contract").Params(jen.Id("h").Id("Handlers")).Op("*").Qual(RuntimePath, "Contract").Block(
		jen.Return(jen.Op("&").Qual(RuntimePath, "Contract").Values(jen.Dict{
			jen.Id("Templates"): jen.Index().Qual(RuntimePath, "Template").Custom(multiLine, templates...),
			jen.Id("Print"):     jen.Id("ContractPrint").Call(),
		})))
	f.Line()
	g.contractPrint(f)
	for _, ch := range g.spec.Channels {
		g.typedSend(f, ch)
	}
	if auth {
		g.policy(f)
	}
	return nil
}

// contractPrint emits ContractPrint, the print of the spec's contract.
func (g *goGen) contractPrint(f *jen.File) {
	p := g.print
	var chans []jen.Code
	for _, c := range p.Channels {
		d := jen.Dict{jen.Id("Pattern"): jen.Lit(c.Pattern)}
		if c.Publish != "" {
			d[jen.Id("Publish")] = jen.Lit(c.Publish)
		}
		if c.Deliver != "" {
			d[jen.Id("Deliver")] = jen.Lit(c.Deliver)
		}
		chans = append(chans, jen.Values(d))
	}
	fields := fieldList{}
	fields.add("Spec", jen.Lit(p.Spec))
	fields.add("Hash", jen.Lit(p.Hash))
	fields.add("Channels", jen.Index().Qual(RuntimePath, "ChannelPrint").Custom(multiLine, chans...))
	if len(p.Compatible) > 0 {
		fields.add("Compatible", jen.Index().String().Custom(multiLine, lits(p.Compatible)...))
	}
	f.Comment("ContractPrint returns the print of the spec's contract: of each channel a")
	f.Comment("client may use, a hash of what clients publish on it and of what they")
	f.Comment("receive. The server judges by it the contract a client says it was built")
	f.Comment("against; a Go client sends this one with client.WithContract. Compatible")
	f.Comment("lists the prints of older versions (cometgen generate --compat-with) that")
	f.Comment("the breaking rules find compatible.")
	f.Func().Id("ContractPrint").Params().Op("*").Qual(RuntimePath, "ContractPrint").Block(
		jen.Return(jen.Op("&").Qual(RuntimePath, "ContractPrint").Add(fields.code())))
	f.Line()
}

// template returns the runtime.Template literal of a planned template,
// declaring the constant of its schema in f.
func (g *goGen) template(f *jen.File, t contractplan.Template) jen.Code {
	ch := t.Channel
	name := channelName(ch)
	var fields fieldList
	fields.add("Pattern", jen.Id(name+"Pattern"))
	if len(t.Params) > 0 {
		// The checks the channel's parser makes (channels.go).
		var params []jen.Code
		for _, p := range t.Params {
			params = append(params, jen.Id(paramVar(name, p.Name)).Dot("Param"))
		}
		fields.add("Params", jen.Index().Qual(RuntimePath, "Param").Values(params...))
	}
	if t.Subscribe != nil {
		fields.add("Subscribe", ruleCode(t.Subscribe))
	}
	if t.Publish != nil {
		fields.add("Publish", ruleCode(t.Publish))
	}
	if t.Schema != "" {
		constName := lowerFirst(name) + "Schema"
		f.Commentf("%s is the JSON Schema of what is published on %s.", constName, ch.Pattern)
		f.Const().Id(constName).Op("=").Add(rawLit(t.Schema))
		f.Line()
		fields.add("Schema", jen.Id(constName))
	}
	if len(t.Filters) > 0 {
		var items []jen.Code
		for _, flt := range t.Filters {
			if flt.Custom != "" {
				items = append(items, jen.Qual(RuntimePath, "DataFilterFunc").Call(jen.Id("h").Dot("Filter"+goName(flt.Custom))))
				continue
			}
			items = append(items, jen.Qual(filterPath, "Must").Call(jen.Qual(filterPath, "New").Call(filterSpec(flt.Builtin))))
		}
		fields.add("Filters", jen.Index().Qual(RuntimePath, "DataFilter").Custom(multiLine, items...))
	}
	if t.Lazy {
		fields.add("Lazy", jen.True())
		if t.LazyTimeout != 0 {
			fields.add("LazyTimeout", durationCode(t.LazyTimeout))
		}
	}
	if t.Local {
		fields.add("Local", jen.True())
	}
	if t.Handled {
		fields.add("Handler", g.handler(ch))
	}
	return fields.code()
}

// fieldList is the fields of a composite literal, in the order added.
type fieldList []jen.Code

func (l *fieldList) add(name string, value jen.Code) {
	*l = append(*l, jen.Id(name).Op(":").Add(value))
}

// code returns the literal's braces and fields, one field a line.
func (l fieldList) code() jen.Code { return jen.Custom(multiLine, l...) }

// multiLine lays a composite literal out one element a line.
var multiLine = jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}

// handler returns the runtime.Handler of a handled channel: the call of
// its Handlers method with the decoded message and the parsed channel.
func (g *goGen) handler(ch *schema.Channel) jen.Code {
	name := channelName(ch)
	ctxSess := []jen.Code{jen.Id("ctx").Qual("context", "Context"), jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("channel").String()}
	args := []jen.Code{jen.Id("ctx"), jen.Id("s")}
	if len(ch.Params) > 0 {
		args = append(args, jen.Id("ch"))
	}
	// The runtime checked the name's parameters before the handler runs:
	// the handler takes them by their segments.
	parse := func() []jen.Code {
		if len(ch.Params) == 0 {
			return nil
		}
		fields := jen.Dict{}
		for i, seg := range strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/") {
			if strings.HasPrefix(seg, "{") {
				fields[jen.Id(goName(strings.Trim(seg, "{}")))] = jen.Qual(RuntimePath, "Segment").Call(jen.Id("channel"), jen.Lit(i))
			}
		}
		return []jen.Code{
			jen.Comment("The contract checked the parameters."),
			jen.Id("ch").Op(":=").Id(name).Values(fields),
		}
	}
	if ch.Kind == schema.Service {
		req := messageTypeName(ch, ch.Request, "request")
		rep := jen.Any()
		if ch.Reply != nil {
			rep = jen.Id(messageTypeName(ch, ch.Reply, "reply"))
		}
		body := parse()
		call := jen.Id("h").Dot(handlerName(ch)).Call(append(args, jen.Id("req"))...)
		if ch.Reply != nil {
			body = append(body, jen.Return(call))
		} else {
			body = append(body, jen.Return(jen.Nil(), call))
		}
		return jen.Qual(RuntimePath, "OnCall").Call(jen.Func().Params(append(ctxSess, jen.Id("req").Op("*").Id(req))...).Params(rep, jen.Error()).Block(body...))
	}
	msg := messageTypeName(ch, ch.Message, "message")
	body := parse()
	body = append(body, jen.Return(jen.Id("h").Dot(handlerName(ch)).Call(append(args, jen.Id("msg"))...)))
	return jen.Qual(RuntimePath, "OnMessage").Call(jen.Lit(msg),
		jen.Func().Params(append(ctxSess, jen.Id("msg").Op("*").Id(msg))...).Error().Block(body...))
}

// ruleCode returns the runtime.Rule literal of a planned rule that does
// not allow anyone (one that does is nil, and is left out).
func ruleCode(r contractplan.Rule) jen.Code {
	var items []jen.Code
	for _, a := range r {
		switch a.Kind {
		case schema.AllowAuthenticated:
			items = append(items, jen.Qual(RuntimePath, "Authenticated").Call())
		case schema.AllowRole:
			items = append(items, jen.Qual(RuntimePath, "Role").Call(jen.Lit(a.Role)))
		case schema.AllowSelf:
			items = append(items, jen.Qual(RuntimePath, "Self").Call(jen.Lit(a.Param)))
		case schema.AllowServer:
			items = append(items, jen.Qual(RuntimePath, "ServerOnly").Call())
		}
	}
	return jen.Qual(RuntimePath, "Rule").Values(items...)
}

// filterSpec returns the filter.Spec literal of a built-in filter, with
// the fields its filter reads.
func filterSpec(s filter.Spec) jen.Code {
	d := []jen.Code{jen.Id("Name").Op(":").Lit(s.Name)}
	if len(s.Paths) > 0 {
		d = append(d, jen.Id("Paths").Op(":").Index().String().Values(lits(s.Paths)...))
	}
	if s.Name == "max-length" {
		d = append(d, jen.Id("Max").Op(":").Lit(s.Max))
	}
	if s.Pattern != "" {
		d = append(d, jen.Id("Pattern").Op(":").Add(rawLit(s.Pattern)))
	}
	if s.Replacement != "" {
		d = append(d, jen.Id("Replacement").Op(":").Lit(s.Replacement))
	}
	if s.Reason != "" {
		d = append(d, jen.Id("Reason").Op(":").Lit(s.Reason))
	}
	return jen.Qual(filterPath, "Spec").Values(d...)
}

// rawLit returns s as a raw string literal when it reads better so (a
// regular expression, a schema), else as an interpreted one.
func rawLit(s string) jen.Code {
	if strings.ContainsAny(s, "`\r") || !strings.ContainsAny(s, `\"`) {
		return jen.Lit(s)
	}
	return jen.Id("`" + s + "`")
}

func lits(ss []string) []jen.Code {
	out := make([]jen.Code, len(ss))
	for i, s := range ss {
		out[i] = jen.Lit(s)
	}
	return out
}

// typedSend emits the typed Publish and Deliver functions of a concrete
// broadcast channel.
func (g *goGen) typedSend(f *jen.File, ch *schema.Channel) {
	if ch.Kind != schema.Broadcast || ch.Message == nil || len(ch.Params) == 0 && isWild(ch.Pattern) {
		return
	}
	name := channelName(ch)
	msg := messageTypeName(ch, ch.Message, "message")
	var chParam []jen.Code
	chName := jen.Id(name + "Pattern")
	if len(ch.Params) > 0 {
		chParam = []jen.Code{jen.Id("ch").Id(name)}
		chName = jen.Id("ch").Dot("Name").Call()
	}
	pub := append([]jen.Code{jen.Id("srv").Op("*").Qual(RuntimePath, "Server")}, chParam...)
	pub = append(pub, jen.Id("msg").Op("*").Id(msg))
	f.Commentf("Publish%s publishes msg on %s from the server and returns how many", name, ch.Pattern)
	f.Comment("sessions it was queued for.")
	f.Func().Id("Publish"+name).Params(pub...).Params(jen.Int(), jen.Error()).Block(
		jen.Return(jen.Id("srv").Dot("Publish").Call(chName.Clone(), jen.Id("msg"))))
	f.Line()
	del := append([]jen.Code{jen.Id("ctx").Qual("context", "Context"), jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession")}, chParam...)
	del = append(del, jen.Id("msg").Op("*").Id(msg))
	f.Commentf("Deliver%s sends msg to session s alone on %s.", name, ch.Pattern)
	f.Func().Id("Deliver" + name).Params(del...).Error().Block(
		jen.Return(jen.Id("s").Dot("Deliver").Call(jen.Id("ctx"), chName.Clone(), jen.Id("msg"))))
	f.Line()
}

func isWild(pattern string) bool {
	return len(pattern) > 1 && pattern[len(pattern)-1] == '*'
}

// policy emits the security policy that authenticates handshakes.
func (g *goGen) policy(f *jen.File) {
	check := []jen.Code{
		jen.If(jen.Err().Op(":=").Id("p").Dot("h").Dot("Authenticate").Call(jen.Id("ctx"), jen.Id("s"), jen.Id("m")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
	}
	if g.spec.Auth.Handshake == schema.HandshakeRequired {
		check = append(check, jen.If(jen.Id("s").Dot("UserID").Call().Op("==").Lit("")).Block(
			jen.Return(jen.Qual("errors", "New").Call(jen.Lit("authentication_required")))))
	}
	check = append(check, jen.Return(jen.Nil()))
	f.Comment("policy authenticates handshakes with Handlers.Authenticate.")
	f.Type().Id("policy").Struct(jen.Qual(RuntimePath, "AllowAll"), jen.Id("h").Id("Handlers"))
	f.Line()
	f.Comment("CanHandshake runs the application's authenticator.")
	f.Func().Params(jen.Id("p").Id("policy")).Id("CanHandshake").Params(jen.Id("ctx").Qual("context", "Context"),
		jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("m").Op("*").Qual(bayeuxPath, "Message")).Error().Block(check...)
}

// durationCode writes d as Go: 2 * time.Second, 150 * time.Millisecond.
func durationCode(d time.Duration) *jen.Statement {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}} {
		if d%u.unit == 0 {
			return jen.Lit(int(d/u.unit)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Lit(int(d)).Op("*").Qual("time", "Nanosecond")
}
