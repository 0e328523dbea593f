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
	body := []jen.Code{
		jen.Var().Id("segs").Index(jen.Lit(len(segs))).String(),
		jen.If(jen.Op("!").Qual(bayeuxPath, "Segments").Call(jen.Id("name"), jen.Id("segs").Index(jen.Op(":")))).Block(
			jen.Return(jen.Id(name).Values(), jen.Qual("fmt", "Errorf").Call(
				jen.Lit("channel %q is not a "+ch.Pattern+" channel: %w"), jen.Id("name"), jen.Id("errOtherChannel")))),
		jen.Var().Id("c").Id(name),
	}
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			body = append(body, jen.If(jen.Id("segs").Index(jen.Lit(i)).Op("!=").Lit(seg)).Block(
				jen.Return(jen.Id(name).Values(), jen.Qual("fmt", "Errorf").Call(
					jen.Lit("channel %q is not a "+ch.Pattern+" channel: %w"), jen.Id("name"), jen.Id("errOtherChannel")))))
			continue
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
