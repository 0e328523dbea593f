package generator

import (
	"fmt"
	"go/token"
	"strings"

	"github.com/cometgen/cometgen/schema"
	"github.com/dave/jennifer/jen"
)

const (
	clientPath = "github.com/cometgen/cometgen/runtime/client"
	typedPath  = "github.com/cometgen/cometgen/runtime/client/typed"
)

// goClient describes how a client uses one channel: the kind of typed
// channel its method returns and the types it is made of.
type goClient struct {
	ch   *schema.Channel
	name string // the channel's Go name: the method's
	// kind is the typed channel: Broadcast, Subscribable, Publishable,
	// Wildcard, SubscribableWildcard or Service.
	kind string
	msg  string // message (or request) type
	rep  string // reply type of a service channel
}

// clientChannel returns how a client uses ch, or nil when no client may
// use it (the rules of the TypeScript client, generated-ts.md).
func clientChannel(ch *schema.Channel) *goClient {
	gc := &goClient{ch: ch, name: channelName(ch)}
	if ch.Kind == schema.Service {
		if serverOnly(ch.Publish) || ch.Request == nil {
			return nil
		}
		gc.kind = "Service"
		gc.msg = messageTypeName(ch, ch.Request, "request")
		gc.rep = "json.RawMessage"
		if ch.Reply != nil {
			gc.rep = messageTypeName(ch, ch.Reply, "reply")
		}
		return gc
	}
	gc.msg = "json.RawMessage"
	if ch.Message != nil {
		gc.msg = messageTypeName(ch, ch.Message, "message")
	}
	sub, pub := !serverOnly(ch.Subscribe), !serverOnly(ch.Publish)
	switch wild := isWild(ch.Pattern); {
	case wild && sub && pub:
		gc.kind = "Wildcard"
	case wild && sub:
		gc.kind = "SubscribableWildcard"
	case wild:
		return nil // clients publish on the channels it matches, never subscribe
	case sub && pub:
		gc.kind = "Broadcast"
	case sub:
		gc.kind = "Subscribable"
	case pub:
		gc.kind = "Publishable"
	default:
		return nil
	}
	return gc
}

// publishes reports whether the client sends messages on the channel, and
// so checks them against the channel's schema.
func (gc *goClient) publishes() bool {
	return gc.kind != "Subscribable" && gc.kind != "SubscribableWildcard" && gc.ch.Published() != nil && gc.ch.Published().JSON != nil
}

// typeCode returns the Go type of a message type name.
func typeCode(name string) jen.Code {
	if name == "json.RawMessage" {
		return jen.Qual("encoding/json", "RawMessage")
	}
	return jen.Id(name)
}

// clientReserved are the names a channel's method cannot have: those of the
// fields the generated Client embeds.
var clientReserved = map[string]bool{"Client": true}

// client emits client.go: Client, the typed client of the spec, with a
// method for each channel a client may use.
func (g *goGen) client(f *jen.File) error {
	for _, n := range []string{"Client", "NewClient"} {
		if err := g.names.claim(n, "the typed client"); err != nil {
			return err
		}
	}
	var chans []*goClient
	for _, ch := range g.spec.Channels {
		gc := clientChannel(ch)
		if gc == nil {
			continue
		}
		if clientReserved[gc.name] {
			return fmt.Errorf("%s: channel %s becomes the client method %s, a name the typed client uses; give it an x-go-name", ch.Pos, ch.Pattern, gc.name)
		}
		chans = append(chans, gc)
	}

	comment := func(text string) {
		for _, line := range wrapComment(text, 76) {
			f.Comment(line)
		}
	}
	comment(fmt.Sprintf("Client is the typed client of %s: a method for each channel a client may use, "+
		"returning the channel with Subscribe, Publish or Call as its rules allow, typed with the spec's messages. "+
		"It embeds the runtime's Go client: Handshake, Disconnect and State are its.", g.spec.Name))
	f.Type().Id("Client").Struct(jen.Op("*").Qual(typedPath, "Client"))
	f.Line()
	comment(fmt.Sprintf("NewClient returns the typed client of %s over c, a client of the runtime (runtime/client) on any transport. "+
		"Create c with client.WithResume() to have a new session ask for what the previous one missed, "+
		"and with client.WithHandshakeExt for credentials. "+
		"It checks each message against its channel's schema before sending it, unless typed.WithoutValidation() is given.", g.spec.Name))
	f.Func().Id("NewClient").Params(jen.Id("c").Op("*").Qual(clientPath, "Client"), jen.Id("opts").Op("...").Qual(typedPath, "Option")).Op("*").Id("Client").Block(
		jen.Return(jen.Op("&").Id("Client").Values(jen.Qual(typedPath, "New").Call(jen.Id("c"), jen.Id("opts").Op("...")))))
	f.Line()

	for _, gc := range chans {
		if gc.publishes() {
			v := lowerFirst(gc.name) + "Published"
			for _, line := range wrapComment(fmt.Sprintf("%s is the schema of what clients send on %s, compiled on first use.", v, gc.ch.Pattern), 76) {
				f.Comment(line)
			}
			f.Var().Id(v).Op("=").Qual(typedPath, "NewSchema").Call(jen.Id(lowerFirst(gc.name) + "Schema"))
			f.Line()
		}
		g.clientMethod(f, gc)
	}
	return nil
}

// clientMethod emits the Client method of one channel.
func (g *goGen) clientMethod(f *jen.File, gc *goClient) {
	ch := gc.ch
	schemaArg := jen.Nil()
	if gc.publishes() {
		schemaArg = jen.Id(lowerFirst(gc.name) + "Published")
	}
	typed := func(name string) *jen.Statement { return jen.Qual(typedPath, name) }
	var ret *jen.Statement
	var body []jen.Code

	// The doc comment: what the channel is, and what a client may do.
	doc := fmt.Sprintf("%s returns the channel %s", gc.name, ch.Pattern)
	switch gc.kind {
	case "Broadcast":
		doc += ": subscribe to it and publish on it."
	case "Subscribable", "SubscribableWildcard":
		doc += ": subscribe to it; only the server publishes on it."
	case "Publishable":
		doc += ": publish on it; only the server subscribes to it."
	case "Wildcard":
		doc += ": subscribe to it, and publish on the channels it matches."
	case "Service":
		doc += ": a remote call."
	}
	if len(ch.Params) > 0 {
		doc += " Its parameters are checked against the spec: when one fails, every operation on the channel returns the error."
	}
	for _, line := range wrapComment(doc, 76) {
		f.Comment(line)
	}
	if ch.Description != "" {
		f.Comment("")
		for _, line := range wrapComment(ch.Description, 76) {
			f.Comment(line)
		}
	}
	var args []jen.Code
	if len(ch.Params) > 0 {
		var params []jen.Code
		for _, p := range patternParams(ch) {
			arg := paramArg(p)
			args = append(args, jen.Id(arg))
			params = append(params, jen.Id(goName(p)).Op(":").Id(arg))
		}
		if len(args) > 0 {
			args[len(args)-1] = jen.Add(args[len(args)-1]).String()
		}
		body = append(body,
			jen.Id("ch").Op(":=").Id(gc.name).Values(params...),
			jen.List(jen.Id("_"), jen.Err()).Op(":=").Id("Parse"+gc.name).Call(jen.Id("ch").Dot("Name").Call()))
	}
	if ch.Deprecated != "" {
		f.Comment("")
		f.Comment("Deprecated: " + ch.Deprecated)
	}
	c := jen.Id("c").Dot("Client")
	var name, params, errArg jen.Code = jen.Id(gc.name + "Pattern"), jen.Id(gc.name + "Pattern"), jen.Nil()
	pType := jen.String()
	if len(ch.Params) > 0 {
		name, params, errArg = jen.Id("ch").Dot("Name").Call(), jen.Id("ch"), jen.Err()
		pType = jen.Id(gc.name)
	}
	msg := typeCode(gc.msg)
	switch gc.kind {
	case "Broadcast":
		ret = typed("Broadcast").Types(pType, msg)
		body = append(body, jen.Return(typed("NewBroadcast").Types(pType, msg).Call(c, name, params, errArg, schemaArg)))
	case "Subscribable":
		ret = typed("Subscribable").Types(pType, msg)
		body = append(body, jen.Return(typed("NewSubscribable").Types(pType, msg).Call(c, name, params, errArg)))
	case "Publishable":
		ret = typed("Publishable").Types(msg)
		body = append(body, jen.Return(typed("NewPublishable").Types(msg).Call(c, name, errArg, schemaArg)))
	case "Wildcard":
		ret = typed("Wildcard").Types(msg)
		body = append(body, jen.Return(typed("NewWildcard").Types(msg).Call(c, name, schemaArg)))
	case "SubscribableWildcard":
		ret = typed("Subscribable").Types(jen.String(), msg)
		body = append(body, jen.Return(typed("NewSubscribableWildcard").Types(msg).Call(c, name)))
	case "Service":
		ret = typed("Service").Types(msg, typeCode(gc.rep))
		body = append(body, jen.Return(typed("NewService").Types(msg, typeCode(gc.rep)).Call(c, name, errArg, schemaArg)))
	}
	f.Func().Params(jen.Id("c").Op("*").Id("Client")).Id(gc.name).Params(args...).Add(ret).Block(body...)
	f.Line()
}

// patternParams returns the names of ch's parameters in the order of its
// name.
func patternParams(ch *schema.Channel) []string {
	var out []string
	for _, seg := range strings.Split(strings.TrimPrefix(ch.Pattern, "/"), "/") {
		if strings.HasPrefix(seg, "{") {
			out = append(out, strings.Trim(seg, "{}"))
		}
	}
	return out
}

// paramArg returns the name of a channel method's argument for the
// parameter p: p itself, unless it is a keyword or a name the method's
// body uses.
func paramArg(p string) string {
	switch {
	case token.IsKeyword(p), p == "c", p == "ch", p == "err", p == "typed", p == "json", p == "string":
		return p + "Param"
	}
	return p
}

// wrapComment splits text into lines of at most width characters (a longer
// word gets a line of its own).
func wrapComment(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
