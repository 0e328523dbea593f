package generator

import (
	"fmt"
	"strings"

	"github.com/cometgen/cometgen/internal/contractplan"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
	"github.com/dave/jennifer/jen"
)

// channelName returns the Go name of a channel: its literal segments and
// parameter names ("/chat/{room}" → ChatRoom, "/user/{id}/inbox" →
// UserIDInbox), or its x-go-name.
func channelName(ch *schema.Channel) string {
	if raw, ok := ch.Extensions["x-go-name"]; ok {
		var s string
		if _, err := fmt.Sscanf(string(raw), "%q", &s); err == nil && s != "" {
			return s
		}
	}
	var parts []string
	for _, seg := range strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/") {
		switch {
		case seg == "*":
			parts = append(parts, "any")
		case seg == "**":
			parts = append(parts, "all")
		default:
			parts = append(parts, strings.Trim(seg, "{}"))
		}
	}
	return goName(strings.Join(parts, "-"))
}

// channels emits channels.go: a constant for every channel's pattern and,
// for a channel with parameters, a type holding them with Name and a
// parser that checks each parameter against its schema.
func (g *goGen) channels(f *jen.File) error {
	for _, ch := range g.spec.Channels {
		if len(ch.Params) > 0 {
			f.Comment("errOtherChannel is wrapped by a parser's error for a name of another channel,")
			f.Comment("as opposed to a name of its channel whose parameters are invalid.")
			f.Var().Id("errOtherChannel").Op("=").Qual("errors", "New").Call(jen.Lit("not this channel"))
			f.Line()
			break
		}
	}
	for _, ch := range g.spec.Channels {
		name := channelName(ch)
		// A channel claims the names it emits: its pattern constant and,
		// with parameters, its type and parser.
		claims := []string{name + "Pattern"}
		if len(ch.Params) > 0 {
			claims = append(claims, name, "Parse"+name)
		}
		for _, c := range claims {
			if err := g.names.claim(c, "channel "+ch.Pattern); err != nil {
				return fmt.Errorf("%s: %w", ch.Pos, err)
			}
		}
		doc := fmt.Sprintf("%sPattern is the channel %s", name, ch.Pattern)
		if ch.Description != "" {
			doc += ": " + ch.Description
		}
		f.Comment(doc + ".")
		if ch.Deprecated != "" {
			f.Comment("")
			f.Comment("Deprecated: " + ch.Deprecated)
		}
		f.Const().Id(name + "Pattern").Op("=").Lit(ch.Pattern)
		f.Line()
		if len(ch.Params) == 0 {
			continue
		}
		if err := g.paramChannel(f, ch, name); err != nil {
			return err
		}
	}
	return nil
}

// paramChannel emits the type of a channel with parameters.
func (g *goGen) paramChannel(f *jen.File, ch *schema.Channel, name string) error {
	fields := make([]jen.Code, 0, len(ch.Params))
	for _, p := range ch.Params {
		field := goName(p.Name)
		c := jen.Id(field).String()
		if p.Description != "" {
			c = jen.Comment(p.Description).Line().Add(c)
		}
		fields = append(fields, c)
	}
	f.Commentf("%s is a concrete channel of %s.", name, ch.Pattern)
	f.Type().Id(name).Struct(fields...)
	f.Line()

	// Name builds the concrete channel name.
	var concat []jen.Code
	lit := ""
	for _, seg := range strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/") {
		lit += "/"
		if strings.HasPrefix(seg, "{") {
			concat = append(concat, jen.Lit(lit), jen.Id("c").Dot(goName(strings.Trim(seg, "{}"))))
			lit = ""
			continue
		}
		lit += seg
	}
	if lit != "" {
		concat = append(concat, jen.Lit(lit))
	}
	sum := concat[0]
	for _, c := range concat[1:] {
		sum = jen.Add(sum).Op("+").Add(c)
	}
	f.Commentf("Name returns the channel's name, such as %s with its parameters filled in.", ch.Pattern)
	f.Func().Params(jen.Id("c").Id(name)).Id("Name").Params().String().Block(jen.Return(sum))
	f.Line()

	// The parser.
	segs := strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/")
	other := func() jen.Code {
		return jen.Return(jen.Id(name).Values(), jen.Qual("fmt", "Errorf").Call(
			jen.Lit("channel %q is not a "+ch.Pattern+" channel: %w"), jen.Id("name"), jen.Id("errOtherChannel")))
	}
	body := []jen.Code{jen.Var().Id("segs").Index(jen.Lit(len(segs))).String()}
	body = append(body, shapeWalk(ch.Pattern, other, func(i int) *jen.Statement { return jen.Id("segs").Index(jen.Lit(i)) })...)
	body = append(body, jen.Var().Id("c").Id(name))
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			continue // checked by the walk
		}
		pname := strings.Trim(seg, "{}")
		p := &schema.Param{Name: pname}
		for j := range ch.Params {
			if ch.Params[j].Name == pname {
				p = &ch.Params[j]
			}
		}
		v := jen.Id("segs").Index(jen.Lit(i))
		body = append(body, g.paramChecks(f, name, p, v)...)
		body = append(body, jen.Id("c").Dot(goName(pname)).Op("=").Add(v))
	}
	body = append(body, jen.Return(jen.Id("c"), jen.Nil()))
	f.Commentf("Parse%s returns the parameters of a concrete %s channel name, checked", name, ch.Pattern)
	f.Comment("against the spec; it fails for any other name.")
	f.Func().Id("Parse"+name).Params(jen.Id("name").String()).Params(jen.Id(name), jen.Error()).Block(body...)
	f.Line()
	return nil
}

// shapeWalk returns the statements that walk the concrete channel name
// held in the variable name along the template pattern ("/user/{id}/inbox"):
// its literal segments equal and each parameter one segment, with no more
// segments; they run fail() for any other name. They assign each
// parameter segment i to param(i) and accept an empty one (the
// parameter's check refuses it), as bayeux.Segments does.
func shapeWalk(pattern string, fail func() jen.Code, param func(i int) *jen.Statement) []jen.Code {
	segs := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	out := []jen.Code{jen.Id("rest").Op(":=").Qual("strings", "TrimPrefix").Call(jen.Id("name"), jen.Lit("/"))}
	lit := ""           // the literal text the name must go on with
	declaredOK := false // ok is declared
	declaredI := false  // i is declared
	for k, seg := range segs {
		last := k == len(segs)-1
		if !strings.HasPrefix(seg, "{") {
			lit += seg
			if !last {
				lit += "/"
			}
			continue
		}
		if lit != "" {
			op := "="
			if !declaredOK {
				op, declaredOK = ":=", true
			}
			out = append(out,
				jen.List(jen.Id("rest"), jen.Id("ok")).Op(op).Qual("strings", "CutPrefix").Call(jen.Id("rest"), jen.Lit(lit)),
				jen.If(jen.Op("!").Id("ok")).Block(fail()))
			lit = ""
		}
		slash := jen.Qual("strings", "IndexByte").Call(jen.Id("rest"), jen.LitRune('/'))
		if last {
			out = append(out, jen.If(slash.Op(">=").Lit(0)).Block(fail()), param(k).Op("=").Id("rest"))
			continue
		}
		op := "="
		if !declaredI {
			op, declaredI = ":=", true
		}
		out = append(out, jen.Id("i").Op(op).Add(slash), jen.If(jen.Id("i").Op("<").Lit(0)).Block(fail()),
			param(k).Op("=").Id("rest").Index(jen.Op(":").Id("i")))
		out = append(out, jen.Id("rest").Op("=").Id("rest").Index(jen.Id("i").Op("+").Lit(1).Op(":")))
	}
	if lit != "" {
		// The template ends with literal segments.
		out = append(out, jen.If(jen.Id("rest").Op("!=").Lit(lit)).Block(fail()))
	}
	return out
}

// paramChecks declares in f the runtime.ParamCheck of the parameter p of
// the channel type typeName (the check the contract applies too) and
// returns the statements that refuse the value v when it fails.
func (g *goGen) paramChecks(f *jen.File, typeName string, p *schema.Param, v *jen.Statement) []jen.Code {
	check := paramVar(typeName, p.Name)
	f.Commentf("%s checks the values of the parameter %s.", check, p.Name)
	f.Var().Id(check).Op("=").Qual(RuntimePath, "MustCompileParam").Call(paramLit(contractplan.Param(*p)))
	f.Line()
	return []jen.Code{
		jen.If(jen.Id("why").Op(":=").Id(check).Dot("Check").Call(v.Clone()), jen.Id("why").Op("!=").Lit("")).Block(
			jen.Return(jen.Id(typeName).Values(), jen.Qual("errors", "New").Call(jen.Id("why")))),
	}
}

// paramVar is the name of the runtime.ParamCheck of a channel's parameter.
func paramVar(typeName, param string) string {
	return lowerFirst(typeName) + goName(param) + "Param"
}

// paramLit returns the literal of p.
func paramLit(p runtime.Param) jen.Code {
	var d fieldList
	d.add("Name", jen.Lit(p.Name))
	if p.Pattern != "" {
		d.add("Pattern", rawLit(p.Pattern))
	}
	if p.MinLength > 0 {
		d.add("MinLength", jen.Lit(p.MinLength))
	}
	if p.MaxLength > 0 {
		d.add("MaxLength", jen.Lit(p.MaxLength))
	}
	if len(p.Enum) > 0 {
		d.add("Enum", jen.Index().String().Values(lits(p.Enum)...))
	}
	return jen.Qual(RuntimePath, "Param").Add(d.code())
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// ChannelName returns the name the generated code gives a channel
// (/chat/{room} → ChatRoom, or its x-go-name), for other emitters that
// name channels the same way.
func ChannelName(ch *schema.Channel) string { return channelName(ch) }
