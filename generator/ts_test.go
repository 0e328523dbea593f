package generator

import (
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

func TestJSNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0", "0"}, {"12", "12"}, {"-3", "-3"}, {"1.50", "1.5"}, {"1.0", "1"}, {"0.25", "0.25"},
		{"1E+21", "1e21"}, {"2.50e-003", "2.5e-3"}, {"1e0", "1"}, {"-1.000E10", "-1e10"},
	} {
		if got := jsNumber(c.in); got != c.want {
			t.Errorf("jsNumber(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestTSKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"user", "user"}, {"$ref", "$ref"}, {"_id", "_id"}, {"2fa", `"2fa"`}, {"x-go-name", `"x-go-name"`},
		{"", `""`}, {"é", `"é"`}, {"a b", `"a b"`},
	} {
		if got := tsKey(c.in); got != c.want {
			t.Errorf("tsKey(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestTSNames checks the names of the client: a schema may not take a name
// the client exports, and two channels may not become one member.
func TestTSNames(t *testing.T) {
	for _, c := range []struct{ name, spec, want string }{
		{"reserved", "schemas:\n  Subscription: {type: string}\nchannels:\n  /a: {message: Subscription}\n",
			"the client runtime and schema Subscription both become the TypeScript name Subscription"},
		{"members", "channels:\n  /a-b: {message: {type: string}, x-go-name: AB}\n  /ab: {message: {type: string}, x-go-name: AB}\n",
			"both become"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := schema.Parse("cometgen.yaml", []byte("cometgen: 1\nname: n\n"+c.spec), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Generate(spec, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Generate: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestTSLayout checks the line breaking of long declarations and calls.
func TestTSLayout(t *testing.T) {
	short := tsUnionDecl("Shape", []string{"ShapeCircle", "ShapeSquare"})
	if short != "export type Shape = ShapeCircle | ShapeSquare;\n" {
		t.Errorf("short union:\n%s", short)
	}
	long := tsUnionDecl("Shape", []string{strings.Repeat("A", 40), strings.Repeat("B", 40), strings.Repeat("C", 40)})
	if !strings.HasPrefix(long, "export type Shape =\n  | AAAA") || strings.Count(long, "\n  | ") != 3 {
		t.Errorf("long union:\n%s", long)
	}
	call := tsCall("      x: ", "link.broadcast<Message>", []string{`"/a/" + param("/a/{b}", "b", b, aB)`}, ",")
	if strings.Count(call, "\n") != 1 {
		t.Errorf("a call that fits is broken:\n%s", call)
	}
	call = tsCall("        ", "link.service<"+strings.Repeat("R", 40)+", "+strings.Repeat("S", 40)+">", []string{`"/service/" + param("/service/{x}", "x", x, serviceX)`}, ",")
	want := "        link.service<" + strings.Repeat("R", 40) + ", " + strings.Repeat("S", 40) + ">(\n" +
		"          \"/service/\" + param(\"/service/{x}\", \"x\", x, serviceX),\n        ),\n"
	if call != want {
		t.Errorf("long call:\n%s\nwant:\n%s", call, want)
	}
}

func TestTSCompound(t *testing.T) {
	for _, c := range []struct {
		expr string
		want bool
	}{
		{"string | null", true},
		{"A & B", true},
		{"Record<string, string | null>", false},
		{"[string | number, boolean]", false},
		{`"a|b"`, false},
		{`"a\"|" | "b"`, true},
		{"Shape", false},
	} {
		if got := (tsType{expr: c.expr}).compound(); got != c.want {
			t.Errorf("compound(%s) = %v, want %v", c.expr, got, c.want)
		}
	}
}

// TestClientOut checks where the client goes and what Generate refuses.
func TestClientOut(t *testing.T) {
	spec, err := schema.Parse("cometgen.yaml", []byte("cometgen: 1\nname: n\nts: {out: web/api.ts}\nchannels:\n  /a: {message: {type: string}}\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts Options
		want string // the client's file, or the error's text
	}{
		{Options{}, "web/api.ts"},
		{Options{JS: true}, "web/api.js"},
		{Options{TSOut: "x/c.js"}, "x/c.js"},
		{Options{TSOut: "x/c.go"}, "the client's file x/c.go must end in .ts"},
		{Options{TSOut: "../c.ts"}, "must be relative to the spec's directory"},
	} {
		files, err := Generate(spec, c.opts)
		switch {
		case err != nil:
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
			}
		case files[c.want] == nil:
			t.Errorf("%+v: no %s in %v", c.opts, c.want, files.Paths())
		}
	}
}

func TestJSString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"room", `"room"`}, {"a\"b", `"a\"b"`}, {"<b>&", `"<b>&"`}, {"\a", `"\u0007"`}, {"é日", `"é日"`}, {"a\nb", `"a\nb"`},
	} {
		if got := jsString(c.in); got != c.want {
			t.Errorf("jsString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
