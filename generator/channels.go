package generator

import (
	"fmt"
	"strings"

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
		var p *schema.Param
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
// segments; they run fail() for any other name. With param, they assign
// each parameter segment i to param(i) and accept an empty one (the
// parameter's checks judge it), as bayeux.Segments does; without, a
// parameter segment must not be empty, as bayeux.MatchTemplate has it.
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
			cond := slash.Op(">=").Lit(0)
			if param == nil {
				cond = jen.Id("rest").Op("==").Lit("").Op("||").Add(cond)
			}
			out = append(out, jen.If(cond).Block(fail()))
			if param != nil {
				out = append(out, param(k).Op("=").Id("rest"))
			}
			continue
		}
		op := "="
		if !declaredI {
			op, declaredI = ":=", true
		}
		cond := jen.Id("i").Op("<").Lit(0)
		if param == nil {
			cond = jen.Id("i").Op("<=").Lit(0)
		}
		out = append(out, jen.Id("i").Op(op).Add(slash), jen.If(cond).Block(fail()))
		if param != nil {
			out = append(out, param(k).Op("=").Id("rest").Index(jen.Op(":").Id("i")))
		}
		out = append(out, jen.Id("rest").Op("=").Id("rest").Index(jen.Id("i").Op("+").Lit(1).Op(":")))
	}
	if lit != "" {
		// The template ends with literal segments.
		out = append(out, jen.If(jen.Id("rest").Op("!=").Lit(lit)).Block(fail()))
	}
	return out
}

// paramChecks returns the statements checking the parameter value v, and
// declares the package-level regexp it needs.
func (g *goGen) paramChecks(f *jen.File, typeName string, p *schema.Param, v *jen.Statement) []jen.Code {
	zero := jen.Id(typeName).Values()
	fail := func(format string, args ...jen.Code) jen.Code {
		return jen.Return(zero, jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(format)}, args...)...))
	}
	var out []jen.Code
	n := jen.Qual("unicode/utf8", "RuneCountInString").Call(v.Clone())
	if p.MinLength > 0 {
		out = append(out, jen.If(n.Clone().Op("<").Lit(p.MinLength)).Block(
			fail(fmt.Sprintf("%s %%q is shorter than %d characters", p.Name, p.MinLength), v.Clone())))
	}
	if p.MaxLength > 0 {
		out = append(out, jen.If(n.Clone().Op(">").Lit(p.MaxLength)).Block(
			fail(fmt.Sprintf("%s %%q is longer than %d characters", p.Name, p.MaxLength), v.Clone())))
	}
	if len(p.Enum) > 0 {
		vals := make([]jen.Code, len(p.Enum))
		for i, e := range p.Enum {
			vals[i] = jen.Lit(e)
		}
		out = append(out, jen.If(jen.Op("!").Qual("slices", "Contains").Call(jen.Index().String().Values(vals...), v.Clone())).Block(
			fail(fmt.Sprintf("%s %%q is not one of the allowed values", p.Name), v.Clone())))
	}
	if p.Pattern != "" {
		re := lowerFirst(typeName) + goName(p.Name) + "Pattern"
		f.Var().Id(re).Op("=").Qual(validatePath, "MustCompilePattern").Call(jen.Lit(p.Pattern))
		f.Line()
		out = append(out, jen.If(jen.Op("!").Id(re).Dot("MatchString").Call(v.Clone())).Block(
			fail(fmt.Sprintf("%s %%q does not match %s", p.Name, p.Pattern), v.Clone())))
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
