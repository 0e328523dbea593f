package generator

import (
	"fmt"

	"github.com/cometgen/cometgen/internal/contractplan"
	"github.com/cometgen/cometgen/schema"
	"github.com/dave/jennifer/jen"
)

const (
	bayeuxPath   = "github.com/cometgen/cometgen/runtime/bayeux"
	filterPath   = "github.com/cometgen/cometgen/runtime/filter"
	validatePath = "github.com/cometgen/cometgen/runtime/validate"
)

// handlerName is the Handlers method of a channel.
func handlerName(ch *schema.Channel) string {
	if ch.Kind == schema.Service {
		return channelName(ch)
	}
	return "On" + channelName(ch)
}

// handlers emits handlers.go: the Handlers interface the application
// implements, and UnimplementedHandlers.
func (g *goGen) handlers(f *jen.File) error {
	var methods []jen.Code
	var stubs []func()
	add := func(doc []string, name string, params, results []jen.Code, stub jen.Code) error {
		if err := g.names.claim("Handlers."+name, "handler "+name); err != nil {
			return err
		}
		for i, d := range doc {
			if i == 0 {
				methods = append(methods, jen.Comment(name+" "+d))
			} else {
				methods = append(methods, jen.Comment(d))
			}
		}
		methods = append(methods, jen.Id(name).Params(params...).Params(results...))
		stubs = append(stubs, func() {
			f.Comment(name + " refuses the operation: it is not implemented.")
			f.Func().Params(jen.Id("UnimplementedHandlers")).Id(name).Params(params...).Params(results...).Block(stub)
			f.Line()
		})
		return nil
	}
	ctxSess := []jen.Code{jen.Id("ctx").Qual("context", "Context"), jen.Id("s").Op("*").Qual(RuntimePath, "ServerSession")}
	if g.spec.Auth.Handshake == schema.HandshakeOptional || g.spec.Auth.Handshake == schema.HandshakeRequired {
		doc := []string{"authenticates a handshake: it reads the credentials (m.Ext, or the HTTP", "request through runtime.RequestFromContext) and calls s.SetUser; an error refuses", "the handshake, with advice not to retry."}
		if g.spec.Auth.Handshake == schema.HandshakeRequired {
			doc = append(doc, "The spec requires authentication: a handshake that leaves no user is refused.")
		}
		params := append(append([]jen.Code{}, ctxSess...), jen.Id("m").Op("*").Qual(bayeuxPath, "Message"))
		if err := add(doc, "Authenticate", params, []jen.Code{jen.Error()}, jen.Return(notImplemented("Authenticate"))); err != nil {
			return err
		}
	}
	for _, ch := range g.spec.Channels {
		if !contractplan.Handled(ch) {
			continue
		}
		name := handlerName(ch)
		if ch.Kind == schema.Service {
			req := messageTypeName(ch, ch.Request, "request")
			params := append([]jen.Code{}, ctxSess...)
			if len(ch.Params) > 0 {
				params = append(params, jen.Id("ch").Id(channelName(ch)))
			}
			params = append(params, jen.Id("req").Op("*").Id(req))
			var results []jen.Code
			var stub jen.Code
			if ch.Reply != nil {
				rep := messageTypeName(ch, ch.Reply, "reply")
				results = []jen.Code{jen.Id(rep), jen.Error()}
				stub = jen.Var().Id("zero").Id(rep).Line().Return(jen.Id("zero"), notImplemented(name))
			} else {
				results = []jen.Code{jen.Error()}
				stub = jen.Return(notImplemented(name))
			}
			doc := []string{fmt.Sprintf("serves the remote call %s: the caller receives the reply,", ch.Pattern), "or the error's text as a failure."}
			if err := add(doc, name, params, results, stub); err != nil {
				return err
			}
			continue
		}
		msg := messageTypeName(ch, ch.Message, "message")
		params := append([]jen.Code{}, ctxSess...)
		if len(ch.Params) > 0 {
			params = append(params, jen.Id("ch").Id(channelName(ch)))
		}
		params = append(params, jen.Id("msg").Op("*").Id(msg))
		doc := []string{fmt.Sprintf("sees every message a client publishes on %s, decoded, before", ch.Pattern),
			"it is delivered. It may change msg; an error refuses the message (a",
			"*bayeux.Error reaches the publisher as it is)."}
		if err := add(doc, name, params, []jen.Code{jen.Error()}, jen.Return(notImplemented(name))); err != nil {
			return err
		}
	}
	for _, flt := range g.customFilters() {
		name := "Filter" + goName(flt)
		params := append(append([]jen.Code{}, ctxSess...), jen.Id("channel").String(), jen.Id("data").Any())
		doc := []string{fmt.Sprintf("is the custom data filter %q of the spec; see runtime.DataFilter.", flt)}
		if err := add(doc, name, params, []jen.Code{jen.Any(), jen.Error()}, jen.Return(jen.Nil(), notImplemented(name))); err != nil {
			return err
		}
	}
	f.Comment("Handlers is what the application implements: a method for every channel")
	f.Comment("clients publish on and every remote call of the spec, the authenticator and")
	f.Comment("the custom filters the spec requires. A missing method is a compile error;")
	f.Comment("embed UnimplementedHandlers to opt out of that.")
	f.Type().Id("Handlers").Interface(methods...)
	f.Line()
	f.Comment("UnimplementedHandlers refuses everything. Embed it in a Handlers")
	f.Comment("implementation to implement only some methods.")
	f.Type().Id("UnimplementedHandlers").Struct()
	f.Line()
	for _, stub := range stubs {
		stub()
	}
	return nil
}

func notImplemented(method string) *jen.Statement {
	return jen.Qual(bayeuxPath, "NewError").Call(jen.Lit(501), jen.Lit("not_implemented"), jen.Lit(method))
}

// customFilters lists the spec's custom filter names, each once, in order.
func (g *goGen) customFilters() []string {
	var out []string
	seen := map[string]bool{}
	for _, ch := range g.spec.Channels {
		for _, flt := range ch.Filters {
			if flt.Custom && !seen[flt.Name] {
				seen[flt.Name] = true
				out = append(out, flt.Name)
			}
		}
	}
	return out
}
