package generator

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

// misuses of the typed Go client of testdata/goclient that the compiler
// must refuse, each with the error it must give (the Go form of the
// TypeScript client's @ts-expect-error lines).
var misuses = []struct {
	name, code, want string
}{
	{"publish on a channel only the server publishes on",
		`c.LotIDPrice("lot-7").Publish(ctx, &goclient.LotIDPriceMessage{Cents: 1})`,
		`has no field or method Publish`},
	{"publish another channel's message",
		`c.LotIDBids("lot-7").Publish(ctx, &goclient.LotIDPriceMessage{Cents: 1})`,
		`cannot use &goclient.LotIDPriceMessage.* as \*goclient.Bid value`},
	{"publish a message by value",
		`c.LotIDBids("lot-7").Publish(ctx, goclient.Bid{Amount: 1})`,
		`cannot use goclient.Bid.* as \*goclient.Bid value`},
	{"a handler of another message",
		`c.LotIDBids("lot-7").Subscribe(ctx, func(ch goclient.LotIDBids, msg *goclient.LotIDPriceMessage) {})`,
		`cannot use \(func.*literal\) .* as func\(ch goclient.LotIDBids, msg \*goclient.Bid\) value`},
	{"a handler of another channel's parameters",
		`c.LotIDBids("lot-7").Subscribe(ctx, func(ch goclient.LotIDPrice, msg *goclient.Bid) {})`,
		`cannot use \(func.*literal\) .* as func\(ch goclient.LotIDBids, msg \*goclient.Bid\) value`},
	{"a channel without its parameter",
		`c.LotIDBids().Publish(ctx, &goclient.Bid{Amount: 1})`,
		`not enough arguments in call to c.LotIDBids`},
	{"a parameter of the wrong type",
		`c.LotIDBids(7).Publish(ctx, &goclient.Bid{Amount: 1})`,
		`cannot use 7 .* as string value`},
	{"a currency outside the enum's type",
		`c.LotIDBids("lot-7").Publish(ctx, &goclient.Bid{Amount: 1, Currency: goclient.LotIDPriceMessage{}})`,
		`cannot use goclient.LotIDPriceMessage\{\} .* as goclient.BidCurrency value`},
	{"an amount in a float",
		`c.LotIDBids("lot-7").Publish(ctx, &goclient.Bid{Amount: 1.5})`,
		`cannot use 1.5 .*truncated|constant 1.5 truncated`},
	{"call with another request",
		`c.ServiceBid().Call(ctx, &goclient.ServicePingRequest{})`,
		`cannot use &goclient.ServicePingRequest\{\} .* as \*goclient.Bid value`},
	{"a reply taken for another type",
		`reply, _ := c.ServiceBid().Call(ctx, &goclient.Bid{}); var accepted bool = reply; _ = accepted`,
		`cannot use reply .* as bool value`},
	{"call a service only the server may call",
		`c.ServiceTick().Call(ctx, &goclient.ServiceTickRequest{})`,
		`has no field or method ServiceTick`},
	{"publish on a wildcard only the server publishes on",
		`c.FeedAll().PublishOn(ctx, "/feed/a", &goclient.FeedAllMessage{})`,
		`has no field or method PublishOn`},
	{"subscribe to a service channel",
		`c.ServiceBid().Subscribe(ctx, nil)`,
		`has no field or method Subscribe`},
}

// TestClientMisuseDoesNotCompile builds a program of each misuse against the
// generated client, and one of the right uses: the right one must build, and
// each misuse fail with its error.
func TestClientMisuseDoesNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated code with the go command")
	}
	mod := tempModule(t, generate(t, "testdata/goclient/cometgen.yaml"))
	program := func(dir, body string) {
		src := fmt.Sprintf(`package main

import (
	"context"

	"example.com/gen/goclient"
	"github.com/cometgen/cometgen/runtime/client"
)

func main() {
	ctx := context.Background()
	c := goclient.NewClient(client.New("http://127.0.0.1:1/cometd"))
	%s
}
`, body)
		os.MkdirAll(filepath.Join(mod, dir), 0o755)
		os.WriteFile(filepath.Join(mod, dir, "main.go"), []byte(src), 0o644)
	}
	program("good", `c.LotIDBids("lot-7").Publish(ctx, &goclient.Bid{Amount: 1, Currency: goclient.BidCurrencyEUR})
	c.LotIDBids("lot-7").Subscribe(ctx, func(ch goclient.LotIDBids, msg *goclient.Bid) { _ = ch.ID + string(msg.Currency) })
	c.LotIDPrice("lot-7").Subscribe(ctx, func(ch goclient.LotIDPrice, msg *goclient.LotIDPriceMessage) { _ = msg.Cents })
	c.AuditTypeC("bid", "x").Publish(ctx, new(goclient.AuditTypeCMessage))
	c.NewsAny().PublishOn(ctx, "/news/today", new(goclient.NewsAnyMessage))
	c.FeedAll().Subscribe(ctx, func(channel string, msg *goclient.FeedAllMessage) {})
	reply, _ := c.ServiceBid().Call(ctx, &goclient.Bid{})
	var accepted bool = reply.Accepted
	var closed goclient.ServiceLotIDCloseReply
	closed, _ = c.ServiceLotIDClose("lot-7").Call(ctx, &goclient.ServiceLotIDCloseRequest{})
	_, _ = accepted, closed`)
	for i, m := range misuses {
		program(fmt.Sprintf("bad%02d", i), m.code)
	}
	// One go vet of every program: it type-checks each package and
	// reports each one's errors under "# example.com/gen/<dir>".
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, _ := cmd.CombinedOutput()
	errs := map[string]string{}
	pkg := ""
	for _, line := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(line, "# example.com/gen/"); ok {
			pkg = p
			continue
		}
		if pkg != "" {
			errs[pkg] += line + "\n"
		}
	}
	for _, dir := range []string{"good", "goclient"} {
		if text, ok := errs[dir]; ok {
			t.Fatalf("%s does not build:\n%s", dir, text)
		}
	}
	for i, m := range misuses {
		t.Run(strings.ReplaceAll(m.name, " ", "_"), func(t *testing.T) {
			text, ok := errs[fmt.Sprintf("bad%02d", i)]
			if !ok {
				t.Fatalf("%s builds:\n%s", m.name, m.code)
			}
			if !regexp.MustCompile(m.want).MatchString(text) {
				t.Errorf("%s: the error is not %q:\n%s", m.name, m.want, text)
			}
		})
	}
}

// TestClientIsOptIn: without go.client or Options.GoClient there is no
// client.go, so a server's package links no client.
func TestClientIsOptIn(t *testing.T) {
	src := "cometgen: 1\nname: x\ngo: {package: x, out: x}\nchannels:\n  /a: {message: {type: string}}\n"
	spec, err := schema.Parse("s.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["x/client.go"]; ok {
		t.Error("client.go generated without go.client")
	}
	files, err = Generate(spec, Options{GoClient: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["x/client.go"]; !ok {
		t.Error("no client.go with Options.GoClient")
	}
}

// TestClientNames: the typed client's names are claimed like the others.
func TestClientNames(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"schemas: {Client: {type: string}}\nchannels:\n  /a: {message: Client}\n", "both become the Go name Client"},
		{"channels:\n  /client: {message: {type: string}}\n", "a name the typed client uses"},
	} {
		spec, err := schema.Parse("s.yaml", []byte("cometgen: 1\nname: x\ngo: {package: x, out: x, client: true}\n"+c.src), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Generate(spec, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.src, err, c.want)
		}
	}
}
