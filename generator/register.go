package generator

import (
	"fmt"
	"strings"
	"time"

	"github.com/cometgen/cometgen/schema"
	"github.com/dave/jennifer/jen"
)

// register emits register.go: Register, which installs the handlers, the
// spec's rules (as authorizers), its filters and its authentication on a
// runtime.Server, and the typed Publish and Deliver functions.
func (g *goGen) register(f *jen.File) error {
	var calls []jen.Code
	for _, ch := range g.spec.Channels {
		fn := "register" + channelName(ch)
		calls = append(calls, jen.If(jen.Err().Op(":=").Id(fn).Call(jen.Id("srv"), jen.Id("h")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("register "+ch.Pattern+": %w"), jen.Err()))))
	}
	calls = append(calls, jen.If(jen.Err().Op(":=").Id("registerGuard").Call(jen.Id("srv")), jen.Err().Op("!=").Nil()).Block(
		jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("register the guard of undeclared channels: %w"), jen.Err()))))
	auth := g.spec.Auth.Handshake == schema.HandshakeOptional || g.spec.Auth.Handshake == schema.HandshakeRequired
	if auth {
		calls = append(calls, jen.Id("srv").Dot("SetSecurityPolicy").Call(jen.Id("policy").Values(jen.Dict{jen.Id("h"): jen.Id("h")})))
	}
	calls = append(calls, jen.Return(jen.Nil()))
	f.Comment("Register installs h on srv with everything the spec declares: for every")
	f.Comment("channel its schema check, its subscribe and publish rules (as authorizers),")
	f.Comment("its data filters and its handler, which receives messages decoded into their")
	f.Comment("types; for every remote call its typed handler; the handshake")
	f.Comment("authentication; and a guard that refuses the channels the spec does not")
	f.Comment("declare.")
	f.Func().Id("Register").Params(jen.Id("srv").Op("*").Qual(RuntimePath, "Server"), jen.Id("h").Id("Handlers")).Error().Block(calls...)
	f.Line()
	for _, ch := range g.spec.Channels {
		if err := g.registerChannel(f, ch); err != nil {
			return err
		}
		g.typedSend(f, ch)
	}
	g.guard(f)
	if auth {
		g.policy(f)
	}
	return nil
}

// parse returns the statements that parse the concrete channel name held
// in nameVar into ch, returning ignore for a name of another channel and
// invalid for invalid parameters.
func parse(ch *schema.Channel, nameVar string, ignore, invalid func() jen.Code) []jen.Code {
	if len(ch.Params) == 0 {
		return nil
	}
	return []jen.Code{
		jen.List(jen.Id("ch"), jen.Err()).Op(":=").Id("Parse" + channelName(ch)).Call(jen.Id(nameVar)),
		jen.If(jen.Qual("errors", "Is").Call(jen.Err(), jen.Id("errOtherChannel"))).Block(ignore()),
		jen.If(jen.Err().Op("!=").Nil()).Block(invalid()),
	}
}

func (g *goGen) registerChannel(f *jen.File, ch *schema.Channel) error {
	name := channelName(ch)
	rtName, _ := runtimeName(ch)
	body := []jen.Code{
		jen.List(jen.Id("c"), jen.Id("_"), jen.Err()).Op(":=").Id("srv").Dot("CreateChannel").Call(jen.Lit(rtName)),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Id("c").Dot("SetPersistent").Call(jen.True()),
	}
	if ch.Lazy {
		body = append(body, jen.Id("c").Dot("SetLazy").Call(jen.True()))
		if ch.LazyTimeout != "" {
			d, err := time.ParseDuration(ch.LazyTimeout)
			if err != nil {
				return fmt.Errorf("%s: lazy timeout %q: %w", ch.Pos, ch.LazyTimeout, err)
			}
			body = append(body, jen.Id("c").Dot("SetLazyTimeout").Call(durationCode(d)))
		}
	}
	if ch.Local {
		body = append(body, jen.Id("c").Dot("SetNodeLocal").Call(jen.True()))
	}

	// The rules.
	if ch.Kind != schema.Service {
		grant := jen.Return(jen.Qual(RuntimePath, "Grant").Call())
		deny := jen.Return(jen.Qual(RuntimePath, "Deny").Call(jen.Lit("denied_by_rule")))
		decide := func(rule schema.Rule) jen.Code {
			switch cond := g.allowed(ch, rule); {
			case cond == nil:
				return grant.Clone()
			case len(*cond) == 0:
				return deny.Clone()
			default:
				return jen.If(cond).Block(grant.Clone()).Line().Add(deny.Clone())
			}
		}
		usesCh := hasSelf(ch.Subscribe) || hasSelf(ch.Publish)
		authBody := []jen.Code{}
		if len(ch.Params) > 0 {
			var check []jen.Code
			if usesCh {
				// A rule allows the channel's own user: the parameters
				// are needed for every operation.
				authBody = append(authBody, jen.Var().Id("ch").Id(name))
				check = []jen.Code{
					jen.Var().Err().Error(),
					jen.List(jen.Id("ch"), jen.Err()).Op("=").Id("Parse" + name).Call(jen.Id("channel")),
					jen.If(jen.Qual("errors", "Is").Call(jen.Err(), jen.Id("errOtherChannel"))).Block(jen.Return(jen.Qual(RuntimePath, "Ignore").Call())),
					jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Qual(RuntimePath, "Deny").Call(jen.Lit("invalid_channel")))),
				}
			} else {
				check = []jen.Code{
					jen.If(jen.Op("!").Id(matchName(name)).Call(jen.Id("channel"))).Block(jen.Return(jen.Qual(RuntimePath, "Ignore").Call())),
					jen.Comment("The parameters are checked when a client creates the channel:"),
					jen.Comment("once it exists, its shape is enough."),
					jen.If(jen.Id("op").Op("==").Qual(RuntimePath, "OpCreate")).Block(
						jen.If(jen.List(jen.Id("_"), jen.Err()).Op(":=").Id("Parse"+name).Call(jen.Id("channel")), jen.Err().Op("!=").Nil()).Block(
							jen.Return(jen.Qual(RuntimePath, "Deny").Call(jen.Lit("invalid_channel"))))),
				}
			}
			authBody = append(authBody,
				jen.Comment("A wildcard subscription has no parameters to check."),
				jen.If(jen.Op("!").Qual(bayeuxPath, "IsWild").Call(jen.Id("channel"))).Block(check...))
		}
		authBody = append(authBody, jen.Switch(jen.Id("op")).Block(
			jen.Case(jen.Qual(RuntimePath, "OpSubscribe")).Block(decide(ch.Subscribe)),
			jen.Case(jen.Qual(RuntimePath, "OpPublish")).Block(decide(ch.Publish)),
		), jen.Return(jen.Qual(RuntimePath, "Grant").Call()))
		body = append(body, jen.Id("c").Dot("AddAuthorizer").Call(jen.Qual(RuntimePath, "AuthorizerFunc").Call(
			jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("op").Qual(RuntimePath, "Operation"), jen.Id("channel").String(),
				jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("m").Op("*").Qual(bayeuxPath, "Message")).Qual(RuntimePath, "Decision").Block(authBody...))))
	}

	// The schema, compiled once, checks what clients publish before it is
	// decoded (and before the handler and the filters see it).
	sch := ch.Message
	if ch.Kind == schema.Service {
		sch = ch.Request
	}
	validated := sch != nil && sch.JSON != nil
	// A handled broadcast channel checks the schema in its typed listener,
	// which parses the channel name once for both.
	typedListener := handled(ch) && ch.Kind != schema.Service
	if validated {
		constName := lowerFirst(name) + "Schema"
		f.Commentf("%s is the JSON Schema of what clients publish on %s.", constName, ch.Pattern)
		lit := jen.Lit(string(sch.JSON))
		if !strings.Contains(string(sch.JSON), "`") {
			lit = jen.Id("`" + string(sch.JSON) + "`") // a raw string reads as the schema
		}
		f.Const().Id(constName).Op("=").Add(lit)
		f.Line()
		body = append(body,
			jen.List(jen.Id("sch"), jen.Err()).Op(":=").Qual(validatePath, "Compile").Call(jen.Index().Byte().Call(jen.Id(constName))),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("schema: %w"), jen.Err()))))
	}
	if validated && !typedListener {
		vbody := []jen.Code{
			jen.If(jen.Id("s").Op("==").Nil()).Block(jen.Return(jen.Nil()).Comment("the server's own publishes are typed already")),
		}
		if len(ch.Params) > 0 {
			vbody = append(vbody, jen.If(jen.List(jen.Id("_"), jen.Err()).Op(":=").Id("Parse"+name).Call(jen.Id("m").Dot("Channel")),
				jen.Qual("errors", "Is").Call(jen.Err(), jen.Id("errOtherChannel"))).Block(jen.Return(jen.Nil())))
		}
		vbody = append(vbody,
			jen.If(jen.Id("vs").Op(":=").Id("sch").Dot("ValidateJSON").Call(jen.Id("m").Dot("Data")), jen.Len(jen.Id("vs")).Op(">").Lit(0)).Block(
				jen.Return(jen.Qual(validatePath, "Error").Call(jen.Id("vs")))),
			jen.Return(jen.Nil()))
		body = append(body, jen.Id("c").Dot("AddListener").Call(
			jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("m").Op("*").Qual(bayeuxPath, "Message")).Error().Block(vbody...)))
	}

	// The filters, in the declared order.
	if chain := g.filterChain(ch); chain != nil {
		body = append(body, jen.Id("c").Dot("AddFilter").Call(chain))
	}

	// The handler.
	if handled(ch) {
		if ch.Kind == schema.Service {
			req := messageTypeName(ch, ch.Request, "request")
			rep := jen.Any()
			zero := jen.Nil()
			if ch.Reply != nil {
				rep = jen.Id(messageTypeName(ch, ch.Reply, "reply"))
				zero = jen.Id("zero")
			}
			args := []jen.Code{jen.Id("ctx"), jen.Id("s")}
			var fbody []jen.Code
			if len(ch.Params) > 0 {
				// The remote call serves the wildcard channel; its parameters
				// come from the channel the call was made on.
				if ch.Reply != nil {
					fbody = append(fbody, jen.Var().Id("zero").Add(rep.Clone()))
				}
				fbody = append(fbody,
					jen.List(jen.Id("ch"), jen.Err()).Op(":=").Id("Parse"+name).Call(jen.Qual(RuntimePath, "CallChannel").Call(jen.Id("ctx"))),
					jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(zero, jen.Op("&").Qual(RuntimePath, "CallError").Values(jen.Dict{jen.Id("Data"): jen.Err().Dot("Error").Call()}))))
				args = append(args, jen.Id("ch"))
			}
			args = append(args, jen.Op("&").Id("req"))
			call := jen.Id("h").Dot(handlerName(ch)).Call(args...)
			if ch.Reply != nil {
				fbody = append(fbody, jen.Return(call))
			} else {
				fbody = append(fbody, jen.Return(jen.Nil(), call))
			}
			body = append(body, jen.Return(jen.Qual(RuntimePath, "HandleCall").Call(jen.Id("srv"), jen.Lit(rtName),
				jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("req").Id(req)).Params(rep, jen.Error()).Block(fbody...))))
			f.Func().Id("register"+name).Params(jen.Id("srv").Op("*").Qual(RuntimePath, "Server"), jen.Id("h").Id("Handlers")).Error().Block(body...)
			f.Line()
			return nil
		}
		msg := messageTypeName(ch, ch.Message, "message")
		lbody := []jen.Code{
			jen.If(jen.Id("s").Op("==").Nil()).Block(jen.Return(jen.Nil()).Comment("the server's own publishes are typed already")),
		}
		lbody = append(lbody, parse(ch, "m.Channel",
			func() jen.Code { return jen.Return(jen.Nil()) },
			func() jen.Code {
				return jen.Return(jen.Qual(bayeuxPath, "NewError").Call(jen.Lit(400), jen.Lit("invalid_channel")))
			})...)
		args := []jen.Code{jen.Id("ctx"), jen.Id("s")}
		if len(ch.Params) > 0 {
			args = append(args, jen.Id("ch"))
		}
		args = append(args, jen.Id("msg"))
		// The schema check, the typed decode, and the re-encode when the
		// handler changed the message.
		schArg := jen.Nil()
		if validated {
			schArg = jen.Id("sch")
		}
		body = append(body, jen.Id("msgs").Op(":=").Qual(RuntimePath, "NewTypedData").Types(jen.Id(msg)).Call(schArg, jen.Lit(msg)))
		lbody = append(lbody, jen.Return(jen.Id("msgs").Dot("Dispatch").Call(jen.Id("m"),
			jen.Func().Params(jen.Id("msg").Op("*").Id(msg)).Error().Block(
				jen.Return(jen.Id("h").Dot(handlerName(ch)).Call(args...))))))
		body = append(body, jen.Id("c").Dot("AddListener").Call(
			jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("m").Op("*").Qual(bayeuxPath, "Message")).Error().Block(lbody...)))
	}
	body = append(body, jen.Return(jen.Nil()))
	f.Func().Id("register"+name).Params(jen.Id("srv").Op("*").Qual(RuntimePath, "Server"), jen.Id("h").Id("Handlers")).Error().Block(body...)
	f.Line()
	return nil
}

func hasSelf(r schema.Rule) bool {
	for _, a := range r.Allow {
		if a.Kind == schema.AllowSelf {
			return true
		}
	}
	return false
}

// allowed returns the condition of a rule for session s and channel ch: nil
// when the rule allows anyone, an empty statement when it allows no client.
func (g *goGen) allowed(ch *schema.Channel, rule schema.Rule) *jen.Statement {
	if len(rule.Allow) == 0 {
		return nil
	}
	var cond *jen.Statement
	or := func(c *jen.Statement) {
		if cond == nil {
			cond = c
		} else {
			cond = cond.Op("||").Add(c)
		}
	}
	for _, a := range rule.Allow {
		switch a.Kind {
		case schema.AllowAnyone:
			return nil
		case schema.AllowAuthenticated:
			or(jen.Id("s").Dot("UserID").Call().Op("!=").Lit(""))
		case schema.AllowRole:
			or(jen.Id("s").Dot("HasRole").Call(jen.Lit(a.Role)))
		case schema.AllowSelf:
			or(jen.Parens(jen.Id("s").Dot("UserID").Call().Op("!=").Lit("").Op("&&").Id("ch").Dot(goName(a.Param)).Op("==").Id("s").Dot("UserID").Call()))
		case schema.AllowServer:
			// Only the server: no client session is allowed.
		}
	}
	if cond == nil {
		return &jen.Statement{}
	}
	return cond
}

// filterChain returns the expression of a channel's filter chain, or nil.
func (g *goGen) filterChain(ch *schema.Channel) *jen.Statement {
	if len(ch.Filters) == 0 {
		return nil
	}
	var items []jen.Code
	paths := func(ps []string) []jen.Code {
		out := make([]jen.Code, len(ps))
		for i, p := range ps {
			out[i] = jen.Lit(p)
		}
		return out
	}
	for _, flt := range ch.Filters {
		var ctor *jen.Statement
		switch flt.Name {
		case "trim":
			ctor = jen.Qual(filterPath, "Trim").Call(paths(flt.Paths)...)
		case "no-markup":
			ctor = jen.Qual(filterPath, "NoMarkup").Call(paths(flt.Paths)...)
		case "no-scripts":
			ctor = jen.Qual(filterPath, "NoScripts").Call(paths(flt.Paths)...)
		case "max-length":
			ctor = jen.Qual(filterPath, "MaxLength").Call(append([]jen.Code{jen.Lit(flt.Max)}, paths(flt.Paths)...)...)
		case "regex-replace":
			ctor = jen.Qual(filterPath, "RegexReplace").Call(append([]jen.Code{jen.Lit(flt.Pattern), jen.Lit(flt.Replacement)}, paths(flt.Paths)...)...)
		case "regex-abort":
			ctor = jen.Qual(filterPath, "RegexAbort").Call(append([]jen.Code{jen.Lit(flt.Pattern), jen.Lit(flt.Reason)}, paths(flt.Paths)...)...)
		}
		if flt.Custom {
			items = append(items, jen.Qual(RuntimePath, "DataFilterFunc").Call(jen.Id("h").Dot("Filter"+goName(flt.Name))))
			continue
		}
		if ctor == nil {
			panic(fmt.Sprintf("generator: unknown filter %q (the loader should have refused it)", flt.Name))
		}
		items = append(items, jen.Qual(filterPath, "Must").Call(ctor))
	}
	return jen.Qual(filterPath, "Chain").Call(items...)
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

// guard emits registerGuard: an authorizer on "/**" that refuses clients
// the channels the spec does not declare ("403:channel_not_declared:…"),
// as `cometgen serve --spec` does, and grants the declared ones, whose own
// authorizers (the rules) may still deny.
func (g *goGen) guard(f *jen.File) {
	var checks []jen.Code
	for _, ch := range g.spec.Channels {
		rt, _ := runtimeName(ch)
		switch {
		case len(ch.Params) > 0:
			checks = append(checks,
				jen.If(jen.Id(matchName(channelName(ch))).Call(jen.Id("channel"))).Block(jen.Return(jen.True())))
			if _, shared := runtimeName(ch); ch.Kind == schema.Broadcast && !shared {
				checks = append(checks, jen.If(jen.Id("channel").Op("==").Lit(rt)).Block(jen.Return(jen.True())))
			}
		case isWild(ch.Pattern):
			checks = append(checks, jen.If(jen.Id("channel").Op("==").Lit(ch.Pattern).Op("||").Qual(bayeuxPath, "Match").Call(jen.Lit(ch.Pattern), jen.Id("channel"))).Block(jen.Return(jen.True())))
		default:
			checks = append(checks, jen.If(jen.Id("channel").Op("==").Lit(ch.Pattern)).Block(jen.Return(jen.True())))
		}
	}
	checks = append(checks, jen.Return(jen.False()))
	f.Comment("declared reports whether channel is a channel of the spec, or the runtime")
	f.Comment("wildcard channel of one (a subscription to every room).")
	f.Func().Id("declared").Params(jen.Id("channel").String()).Bool().Block(checks...)
	f.Line()
	f.Comment("registerGuard refuses clients the channels the spec does not declare.")
	f.Func().Id("registerGuard").Params(jen.Id("srv").Op("*").Qual(RuntimePath, "Server")).Error().Block(
		jen.List(jen.Id("c"), jen.Id("_"), jen.Err()).Op(":=").Id("srv").Dot("CreateChannel").Call(jen.Lit("/**")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Id("c").Dot("SetPersistent").Call(jen.True()),
		jen.Id("c").Dot("AddAuthorizer").Call(jen.Qual(RuntimePath, "AuthorizerFunc").Call(
			jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("op").Qual(RuntimePath, "Operation"), jen.Id("channel").String(),
				jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession"), jen.Id("m").Op("*").Qual(bayeuxPath, "Message")).Qual(RuntimePath, "Decision").Block(
				// A declared channel is granted here; its own authorizer may
				// still deny (a deny always wins).
				jen.If(jen.Id("declared").Call(jen.Id("channel"))).Block(jen.Return(jen.Qual(RuntimePath, "Grant").Call())),
				jen.Return(jen.Qual(RuntimePath, "Deny").Call(jen.Lit("channel_not_declared"))),
			))),
		jen.Return(jen.Nil()),
	)
	f.Line()
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
