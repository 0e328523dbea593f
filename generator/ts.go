package generator

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
)

// The typed client is TypeScript over the CometD JavaScript client (npm
// cometd): the message types of the spec, a Channels interface with a
// member per channel, createClient, and a small runtime (tsruntime/) that
// turns CometD's callbacks into promises. The JavaScript form is the same
// code without types, and a .d.ts with the declarations. The per-spec part
// is written in every form from one description; the runtime's forms are
// kept by hand. The interop tests check that the JavaScript is the
// TypeScript without its types and compile code against the declarations.

// The client runtime, the same in every client: its types and interfaces
// (shared by the TypeScript form and the declarations), its implementation
// in TypeScript and in JavaScript, and its classes as declarations. The
// forms are kept equivalent by hand and checked by interop/tsclient_test.go.
var (
	//go:embed tsruntime/types.ts
	tsRuntimeTypes string
	//go:embed tsruntime/impl.ts
	tsRuntimeImpl string
	//go:embed tsruntime/runtime.js
	tsRuntimeJS string
	//go:embed tsruntime/classes.d.ts
	tsRuntimeClasses string
)

// tsReserved are the names the client itself exports or declares at the
// top level; a message type must not take them.
var tsReserved = []string{
	"Ajv2020", "BroadcastChannel", "CallOptions", "Channels", "Check", "Client", "ClientError",
	"ClientOptions", "CometD", "ContractChange", "ContractError", "ConnectionState", "HandlerError", "HandshakeAuth", "Link", "Message",
	"Live", "ParamRule", "Publishable", "ReplyError", "ResumeError", "ServiceChannel", "Subscribable", "Subscription",
	"ValidationError", "WildcardChannel", "addFormats", "contractPrint", "createClient", "matchesWildcard",
}

// DefaultTSOut is where the typed client goes when the spec names no
// ts.out, relative to the spec's directory.
const DefaultTSOut = "client/channels.ts"

// tsForm is one of the forms of the client.
type tsForm int

const (
	formTS  tsForm = iota // TypeScript
	formJS                // JavaScript (an ES module)
	formDTS               // declarations of the JavaScript form
)

// tsGen writes the typed client of one spec.
type tsGen struct {
	spec     *schema.Spec
	header   string
	validate bool
	decls    []*tsDecl
	channels []*tsChannel
	print    *runtime.ContractPrint
}

// tsChannel is what the client offers for one channel.
type tsChannel struct {
	ch     *schema.Channel
	member string // the member of Channels: chatRoom
	// kind is the client's view: "broadcast", "subscribable",
	// "publishable" or "service".
	kind                string
	message, req, reply string // type names
	checkMsg, checkReq  string // validator names, with validation on
	checkReply          string
	ruleNames           []string // the ParamRule constant of each parameter
	subscribe, publish  bool
}

// tsFiles returns the typed client's files: out (.ts), or out (.js) and the
// .d.ts beside it.
func tsFiles(spec *schema.Spec, specName, out string, validate bool, print *runtime.ContractPrint) (Files, error) {
	g := &tsGen{spec: spec, header: header(specName), validate: validate, print: print}
	names := newNamer()
	names.lang = "TypeScript"
	for _, r := range tsReserved {
		names.claim(r, "the client runtime")
	}
	decls, err := tsTypesNamed(spec, names)
	if err != nil {
		return nil, err
	}
	g.decls = decls
	members := map[string]string{}
	for _, ch := range spec.Channels {
		tc := g.channel(ch)
		if tc == nil {
			continue
		}
		if prev, ok := members[tc.member]; ok {
			return nil, fmt.Errorf("%s: channels %s and %s both become the client member %s; give one an x-go-name", ch.Pos, prev, ch.Pattern, tc.member)
		}
		members[tc.member] = ch.Pattern
		g.channels = append(g.channels, tc)
	}
	files := Files{}
	if path.Ext(out) == ".js" {
		files[out] = []byte(g.render(formJS))
		files[strings.TrimSuffix(out, ".js")+".d.ts"] = []byte(g.render(formDTS))
	} else {
		files[out] = []byte(g.render(formTS))
	}
	return files, nil
}

// serverOnly reports whether a rule lets no client do the operation.
func serverOnly(r schema.Rule) bool { return !r.ClientsAllowed() }

// channel describes ch for the client, or returns nil when no client may
// use it.
func (g *tsGen) channel(ch *schema.Channel) *tsChannel {
	tc := &tsChannel{ch: ch, member: lowerFirst(channelName(ch))}
	for _, p := range ch.Params {
		tc.ruleNames = append(tc.ruleNames, tc.member+goName(p.Name))
	}
	wild := isWild(ch.Pattern)
	if ch.Kind == schema.Service {
		if serverOnly(ch.Publish) {
			return nil
		}
		tc.kind = "service"
		tc.req, tc.reply = "unknown", "unknown"
		if ch.Request != nil {
			tc.req = messageTypeName(ch, ch.Request, "request")
			tc.checkReq = "check" + tc.req
		}
		if ch.Reply != nil {
			tc.reply = messageTypeName(ch, ch.Reply, "reply")
			tc.checkReply = "check" + tc.reply
		}
		return tc
	}
	tc.message = "unknown"
	if ch.Message != nil {
		tc.message = messageTypeName(ch, ch.Message, "message")
		tc.checkMsg = "check" + tc.message
	}
	tc.subscribe = !serverOnly(ch.Subscribe)
	tc.publish = !serverOnly(ch.Publish)
	switch {
	case wild && tc.subscribe && tc.publish:
		tc.kind = "wildcard"
	case wild:
		// Clients publish on the channels a wildcard matches, not on it.
		tc.publish = false
		if !tc.subscribe {
			return nil
		}
		tc.kind = "subscribable"
	case tc.subscribe && tc.publish:
		tc.kind = "broadcast"
	case tc.subscribe:
		tc.kind = "subscribable"
	case tc.publish:
		tc.kind = "publishable"
	default:
		return nil
	}
	return tc
}

// render writes the client in one form.
func (g *tsGen) render(form tsForm) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("// %s\n//\n", g.header)
	w("// The typed client of %s: the message types of its channels and a typed\n", g.spec.Name)
	w("// API over the CometD JavaScript client (npm cometd). See docs/generated-ts.md.\n\n")
	if form != formJS {
		w("import type { CometD, Message } from \"cometd\";\n")
	}
	if g.validate && form != formDTS {
		w("import Ajv2020 from \"ajv/dist/2020.js\";\n")
		w("import addFormats from \"ajv-formats\";\n")
	}
	if form != formJS || g.validate {
		w("\n")
	}

	if len(g.decls) > 0 && (form != formJS || g.hasValues()) {
		w("// ---------------------------------------------------------------------------\n")
		w("// Message types\n\n")
		for _, d := range g.decls {
			switch {
			case form == formJS && d.js == "":
			case form == formJS:
				w("%s\n", d.js)
			case form == formDTS && d.dts != "":
				w("%s\n", d.dts)
			default:
				w("%s\n", d.ts)
			}
		}
	}

	w("// ---------------------------------------------------------------------------\n")
	w("// Channels\n\n")
	if form != formJS {
		g.interfaces(&b)
	}
	if form == formDTS {
		w("/**\n * createClient returns the typed client of %s over cometd, which the\n", g.spec.Name)
		w(" * application configures (url, transports, extensions).\n */\n")
		w("export declare function createClient(cometd: CometD, options?: ClientOptions): Client;\n\n")
		w("%s\n%s", tsRuntimeTypes, tsRuntimeClasses)
		return b.String()
	}
	g.createClient(&b, form)
	g.paramRules(&b, form)
	if g.validate {
		g.validators(&b, form)
	}
	if form == formJS {
		w("%s", tsRuntimeJS)
	} else {
		w("%s\n%s", tsRuntimeTypes, tsRuntimeImpl)
	}
	return b.String()
}

// hasValues reports whether a declaration has a JavaScript value.
func (g *tsGen) hasValues() bool {
	return slices.ContainsFunc(g.decls, func(d *tsDecl) bool { return d.js != "" })
}

// chanType returns the type of a channel's member value.
func (tc *tsChannel) chanType() string {
	switch tc.kind {
	case "service":
		return fmt.Sprintf("ServiceChannel<%s, %s>", tc.req, tc.reply)
	case "broadcast":
		return "BroadcastChannel<" + tc.message + ">"
	case "subscribable":
		return "Subscribable<" + tc.message + ">"
	case "wildcard":
		return "WildcardChannel<" + tc.message + ">"
	}
	return "Publishable<" + tc.message + ">"
}

// paramType returns the TypeScript type of a parameter: a union of its
// values when it has an enum.
func paramType(p schema.Param) string {
	if len(p.Enum) == 0 {
		return "string"
	}
	vals := make([]string, len(p.Enum))
	for i, e := range p.Enum {
		vals[i] = jsString(e)
	}
	return strings.Join(vals, " | ")
}

// params returns a channel's parameter list, typed or not.
func (tc *tsChannel) params(typed bool) string {
	var ps []string
	for _, p := range tc.ch.Params {
		if typed {
			ps = append(ps, tsArg(p.Name)+": "+paramType(p))
		} else {
			ps = append(ps, tsArg(p.Name))
		}
	}
	return strings.Join(ps, ", ")
}

// tsArgTaken are the names a channel parameter cannot have as an argument
// of the generated code: JavaScript's reserved words and the names the
// client's functions use around it.
var tsArgTaken = map[string]bool{
	"link": true, "param": true, "cometd": true, "options": true,
	"await": true, "break": true, "case": true, "catch": true, "class": true, "const": true, "continue": true,
	"debugger": true, "default": true, "delete": true, "do": true, "else": true, "enum": true, "export": true,
	"extends": true, "false": true, "finally": true, "for": true, "function": true, "if": true, "implements": true,
	"import": true, "in": true, "instanceof": true, "interface": true, "let": true, "new": true, "null": true,
	"package": true, "private": true, "protected": true, "public": true, "return": true, "static": true,
	"super": true, "switch": true, "this": true, "throw": true, "true": true, "try": true, "typeof": true,
	"var": true, "void": true, "while": true, "with": true, "yield": true,
}

// tsArg returns the argument name of the channel parameter name.
func tsArg(name string) string {
	if tsArgTaken[name] || !tsIdent(name) {
		return name + "_"
	}
	return name
}

// interfaces writes HandshakeAuth, Channels and Client.
func (g *tsGen) interfaces(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	if g.spec.Auth.Handshake == schema.HandshakeOptional || g.spec.Auth.Handshake == schema.HandshakeRequired {
		w("/** HandshakeAuth is a handshake's credentials: the token goes to ext.auth.token. */\n")
		w("export interface HandshakeAuth {\n  token: string;\n}\n\n")
	}
	w("/** Channels are the channels of %s a client may use, as the spec declares them. */\n", g.spec.Name)
	w("export interface Channels {\n")
	for i, tc := range g.channels {
		if i > 0 {
			w("\n")
		}
		b.WriteString(tsDoc("  ", tc.doc()))
		if len(tc.ch.Params) > 0 {
			line := fmt.Sprintf("  %s(%s): %s;", tc.member, tc.params(true), tc.chanType())
			if len(line) <= tsWidth {
				w("%s\n", line)
				continue
			}
			w("  %s(\n", tc.member)
			for _, p := range tc.ch.Params {
				w("    %s: %s,\n", tsArg(p.Name), paramType(p))
			}
			w("  ): %s;\n", tc.chanType())
		} else {
			w("  readonly %s: %s;\n", tc.member, tc.chanType())
		}
	}
	w("}\n\n")

	w("/** Client is the typed client of %s. */\n", g.spec.Name)
	w("export interface Client {\n")
	w("  /** The CometD client underneath. */\n")
	w("  readonly cometd: CometD;\n")
	w("  /** The channels. */\n")
	w("  readonly channels: Channels;\n")
	switch g.spec.Auth.Handshake {
	case schema.HandshakeRequired:
		w("  /**\n   * handshake connects to the server with auth, which the server requires. It\n")
		w("   * resolves with the server's reply and rejects with a ReplyError when refused.\n   */\n")
		w("  handshake(auth: HandshakeAuth): Promise<Message>;\n")
	case schema.HandshakeOptional:
		w("  /**\n   * handshake connects to the server, with auth or anonymously. It resolves\n")
		w("   * with the server's reply and rejects with a ReplyError when refused.\n   */\n")
		w("  handshake(auth?: HandshakeAuth): Promise<Message>;\n")
	default:
		w("  /**\n   * handshake connects to the server. It resolves with the server's reply and\n")
		w("   * rejects with a ReplyError when refused.\n   */\n")
		w("  handshake(): Promise<Message>;\n")
	}
	w("  /** disconnect ends the session; it resolves when the server confirms. */\n")
	w("  disconnect(): Promise<void>;\n")
	w("  /**\n   * onConnectionState calls listener whenever the connection's state changes;\n")
	w("   * it returns a function that removes the listener.\n   */\n")
	w("  onConnectionState(listener: (state: ConnectionState) => void): () => void;\n")
	w("}\n\n")
}

// doc returns the doc comment of a channel's member.
func (tc *tsChannel) doc() []string {
	ch := tc.ch
	first := "The channel " + ch.Pattern + "."
	if ch.Description != "" {
		first = ch.Pattern + ": " + strings.TrimSuffix(strings.TrimSpace(ch.Description), ".") + "."
	}
	lines := []string{first}
	switch {
	case tc.kind == "wildcard":
		lines = append(lines, "A wildcard channel: clients subscribe to it, and publish on the channels it matches with publishOn.")
	case tc.kind == "subscribable" && isWild(ch.Pattern):
		lines = append(lines, "A wildcard channel: clients subscribe to it; only the server publishes on the channels it matches.")
	case tc.kind == "subscribable":
		lines = append(lines, "Only the server publishes on it.")
	case tc.kind == "publishable":
		lines = append(lines, "Only the server subscribes to it.")
	}
	if ch.Lazy {
		lines = append(lines, "Its messages are lazy: they reach subscribers with the next message or heartbeat.")
	}
	if len(ch.Params) > 0 {
		lines = append(lines, "")
		for _, p := range ch.Params {
			lines = append(lines, "@param "+tsArg(p.Name)+" "+paramDoc(p))
		}
	}
	if ch.Deprecated != "" {
		lines = append(lines, "", "@deprecated "+ch.Deprecated)
	}
	return lines
}

// paramDoc describes a parameter's schema.
func paramDoc(p schema.Param) string {
	var parts []string
	if p.Description != "" {
		parts = append(parts, strings.TrimSuffix(p.Description, "."))
	}
	if p.Pattern != "" {
		parts = append(parts, "matches "+p.Pattern)
	}
	if p.MinLength > 0 {
		parts = append(parts, fmt.Sprintf("at least %d characters", p.MinLength))
	}
	if p.MaxLength > 0 {
		parts = append(parts, fmt.Sprintf("at most %d characters", p.MaxLength))
	}
	if len(parts) == 0 {
		return "a channel segment"
	}
	return strings.Join(parts, "; ")
}

// contractPrint writes the print of the contract the client is generated
// from, which its handshakes carry (runtime.ContractPrint.ContractExt).
func (g *tsGen) contractPrint(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("/**\n * The contract this client is generated from, which its handshakes carry:\n")
	w(" * the server says when its own has changed in a way that breaks this client\n")
	w(" * (ClientOptions.onContractChanged). Each channel's value is the print of\n")
	w(" * what the client publishes on it and of what it receives, dot-separated.\n */\n")
	w("const contractPrint = {\n")
	w("  spec: %s,\n", jsString(g.print.Spec))
	w("  hash: %s,\n", jsString(g.print.Hash))
	if len(g.print.Channels) == 0 {
		w("  channels: {},\n};\n\n")
		return
	}
	w("  channels: {\n")
	for _, c := range g.print.Channels {
		w("    %s: %s,\n", jsString(c.Pattern), jsString(c.Publish+"."+c.Deliver))
	}
	w("  },\n};\n\n")
}

// createClient writes the createClient function.
func (g *tsGen) createClient(b *strings.Builder, form tsForm) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	g.contractPrint(b)
	ts := form == formTS
	w("/**\n * createClient returns the typed client of %s over cometd, which the\n", g.spec.Name)
	w(" * application configures (url, transports, extensions).\n */\n")
	if ts {
		w("export function createClient(cometd: CometD, options: ClientOptions = {}): Client {\n")
	} else {
		w("export function createClient(cometd, options = {}) {\n")
	}
	w("  const link = new Link(cometd, options, contractPrint);\n")
	w("  return {\n")
	w("    cometd,\n")
	w("    channels: {\n")
	for _, tc := range g.channels {
		method, arg := g.linkCall(tc, ts)
		if len(tc.ch.Params) == 0 {
			w("%s", tsCall("      "+tc.member+": ", method, arg, ","))
			continue
		}
		if line := fmt.Sprintf("      %s: (%s) => %s(%s),", tc.member, tc.params(ts), method, strings.Join(arg, ", ")); len(line) <= tsWidth {
			w("%s\n", line)
			continue
		}
		w("      %s: (%s) =>\n", tc.member, tc.params(ts))
		w("%s", tsCall("        ", method, arg, ","))
	}
	w("    },\n")
	switch {
	case g.spec.Auth.Handshake == schema.HandshakeNone || g.spec.Auth.Handshake == "":
		w("    handshake: () => link.handshake(undefined),\n")
	case ts && g.spec.Auth.Handshake == schema.HandshakeOptional:
		w("    handshake: (auth?: HandshakeAuth) => link.handshake(auth && { auth: { token: auth.token } }),\n")
	case ts:
		w("    handshake: (auth: HandshakeAuth) => link.handshake({ auth: { token: auth.token } }),\n")
	case g.spec.Auth.Handshake == schema.HandshakeOptional:
		w("    handshake: (auth) => link.handshake(auth && { auth: { token: auth.token } }),\n")
	default:
		w("    handshake: (auth) => link.handshake({ auth: { token: auth.token } }),\n")
	}
	w("    disconnect: () => link.disconnect(),\n")
	w("    onConnectionState: (listener) => link.onConnectionState(listener),\n")
	w("  };\n}\n\n")
}

// linkCall returns the call that makes a channel's value: the method with
// its type arguments, and the arguments.
func (g *tsGen) linkCall(tc *tsChannel, ts bool) (method string, args []string) {
	name := jsString(tc.ch.Pattern)
	if len(tc.ch.Params) > 0 {
		var parts []string
		lit := ""
		i := 0
		for _, seg := range strings.Split(strings.TrimPrefix(tc.ch.Pattern, "/"), "/") {
			lit += "/"
			if strings.HasPrefix(seg, "{") {
				p := strings.Trim(seg, "{}")
				parts = append(parts, jsString(lit), fmt.Sprintf("param(%s, %s, %s, %s)", jsString(tc.ch.Pattern), jsString(p), tsArg(p), tc.ruleNames[i]))
				lit = ""
				i++
				continue
			}
			lit += seg
		}
		if lit != "" {
			parts = append(parts, jsString(lit))
		}
		name = strings.Join(parts, " + ")
	}
	list := []string{name}
	typeArgs := "<" + tc.message + ">"
	if tc.kind == "service" {
		typeArgs = "<" + tc.req + ", " + tc.reply + ">"
		if g.validate {
			list = append(list, orUndefined(tc.checkReq), orUndefined(tc.checkReply))
		}
	} else if g.validate && tc.checkMsg != "" {
		list = append(list, tc.checkMsg)
	}
	if !ts {
		typeArgs = ""
	}
	return "link." + tc.kind + typeArgs, list
}

// tsCall writes prefix + method(args) + suffix on one line when it fits,
// else each argument on a line of its own and a too long concatenation
// broken after its + signs, as prettier does.
func tsCall(prefix, method string, args []string, suffix string) string {
	if line := prefix + method + "(" + strings.Join(args, ", ") + ")" + suffix; len(line) <= tsWidth {
		return line + "\n"
	}
	indent := strings.Repeat(" ", len(prefix)-len(strings.TrimLeft(prefix, " "))) + "  "
	var b strings.Builder
	b.WriteString(prefix + method + "(\n")
	for _, a := range args {
		if ops := strings.Split(a, " + "); len(indent)+len(a)+1 > tsWidth && len(ops) > 1 {
			a = strings.Join(ops, " +\n"+indent+"  ")
		}
		b.WriteString(indent + a + ",\n")
	}
	b.WriteString(indent[2:] + ")" + suffix + "\n")
	return b.String()
}

func orUndefined(s string) string {
	if s == "" {
		return "undefined"
	}
	return s
}

// paramRules writes the ParamRule constant of every channel parameter.
func (g *tsGen) paramRules(b *strings.Builder, form tsForm) {
	first := true
	for _, tc := range g.channels {
		for i, p := range tc.ch.Params {
			if first {
				b.WriteString("// The schemas of the channel parameters, checked before a channel is used.\n")
				first = false
			}
			var fields []string
			if p.Pattern != "" {
				fields = append(fields, fmt.Sprintf("pattern: new RegExp(%s, \"u\")", jsString(p.Pattern)))
			}
			if p.MinLength > 0 {
				fields = append(fields, fmt.Sprintf("minLength: %d", p.MinLength))
			}
			if p.MaxLength > 0 {
				fields = append(fields, fmt.Sprintf("maxLength: %d", p.MaxLength))
			}
			if len(p.Enum) > 0 {
				vals := make([]string, len(p.Enum))
				for j, e := range p.Enum {
					vals[j] = jsString(e)
				}
				fields = append(fields, "values: ["+strings.Join(vals, ", ")+"]")
			}
			typ := ""
			if form == formTS {
				typ = ": ParamRule"
			}
			body := "{}"
			if len(fields) > 0 {
				body = "{ " + strings.Join(fields, ", ") + " }"
			}
			fmt.Fprintf(b, "const %s%s = %s;\n", tc.ruleNames[i], typ, body)
		}
	}
	if !first {
		b.WriteString("\n")
	}
}

// validators writes the schema checks of the client, compiled by ajv on
// first use.
func (g *tsGen) validators(b *strings.Builder, form tsForm) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	ts := form == formTS
	w("// ---------------------------------------------------------------------------\n")
	w("// Validation: the schemas of the spec, compiled by ajv on first use.\n\n")
	w("const ajv = new Ajv2020({ allErrors: true, strict: false });\n")
	w("addFormats(ajv);\n\n")
	w("/** check returns a Check of schema, compiled on first use. */\n")
	if ts {
		w("function check(schema: object): Check {\n")
		w("  let validate: ReturnType<typeof ajv.compile> | undefined;\n")
	} else {
		w("function check(schema) {\n")
		w("  let validate;\n")
	}
	w("  return (data) => {\n")
	w("    validate ??= ajv.compile(schema);\n")
	w("    if (validate(data)) {\n      return [];\n    }\n")
	w("    return (validate.errors ?? []).map(\n")
	w("      (e) => `${e.instancePath || \"/\"}: ${e.message ?? \"is invalid\"}`,\n")
	w("    );\n")
	w("  };\n}\n\n")
	seen := map[string]bool{}
	for _, tc := range g.channels {
		for _, c := range []struct {
			name string
			s    *schema.Schema
		}{{tc.checkMsg, tc.ch.Message}, {tc.checkReq, tc.ch.Request}, {tc.checkReply, tc.ch.Reply}} {
			if c.name == "" || c.s == nil || seen[c.name] {
				continue
			}
			seen[c.name] = true
			prefix := "const " + c.name + " = check("
			w("%s%s);\n", prefix, ajvSchema(c.s.JSON, len(prefix)))
		}
	}
	w("\n")
}

// ajvSchema returns a schema as a JavaScript object literal for ajv, the
// $schema keyword dropped (one ajv instance, draft 2020-12, checks every
// schema). prefix is the length of what precedes it on its first line.
func ajvSchema(raw json.RawMessage, prefix int) string {
	n, err := parseNode(raw)
	if err != nil {
		return "{}"
	}
	if i := slices.Index(n.keys, "$schema"); i >= 0 {
		n.keys = slices.Delete(n.keys, i, i+1)
		n.vals = slices.Delete(n.vals, i, i+1)
	}
	return jsLiteral(n, "", prefix, len(");"))
}

// jsLiteral writes n as a JavaScript literal the way prettier lays it out:
// on one line when it fits in tsWidth columns with prefix columns before it
// and suffix after it, else an object or array one entry a line.
func jsLiteral(n *node, indent string, prefix, suffix int) string {
	flat := jsFlat(n)
	if prefix+len(flat)+suffix <= tsWidth || (n.kind != 'o' && n.kind != 'a') || flat == "{}" || flat == "[]" {
		return flat
	}
	inner := indent + "  "
	var b strings.Builder
	if n.kind == 'o' {
		b.WriteString("{\n")
		for i, k := range n.keys {
			key := tsKey(k) + ": "
			b.WriteString(inner + key + jsLiteral(n.vals[i], inner, len(inner)+len(key), 1) + ",\n")
		}
		b.WriteString(indent + "}")
		return b.String()
	}
	b.WriteString("[\n")
	for _, v := range n.arr {
		b.WriteString(inner + jsLiteral(v, inner, len(inner), 1) + ",\n")
	}
	b.WriteString(indent + "]")
	return b.String()
}

// jsFlat writes n as a JavaScript literal on one line.
func jsFlat(n *node) string {
	switch n.kind {
	case 'o':
		if len(n.keys) == 0 {
			return "{}"
		}
		parts := make([]string, len(n.keys))
		for i, k := range n.keys {
			parts[i] = tsKey(k) + ": " + jsFlat(n.vals[i])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case 'a':
		parts := make([]string, len(n.arr))
		for i, v := range n.arr {
			parts[i] = jsFlat(v)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case 'n':
		return jsNumber(n.num)
	}
	return string(n.marshal())
}

// jsNumber writes a JSON number in prettier's form: no trailing zeros after
// the point, no + in the exponent, a lower-case e.
func jsNumber(num string) string {
	mant, exp, hasExp := strings.Cut(strings.ToLower(num), "e")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(mant, "0")
		mant = strings.TrimSuffix(mant, ".")
	}
	if !hasExp {
		return mant
	}
	exp = strings.TrimPrefix(exp, "+")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
	if exp == "" {
		return mant
	}
	if neg {
		exp = "-" + exp
	}
	return mant + "e" + exp
}
