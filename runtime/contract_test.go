package runtime

import (
	"context"
	"strings"
	"testing"
)

// TestContractResolve: every concrete name belongs to the one template the
// precedence rules give it, or to none.
func TestContractResolve(t *testing.T) {
	cc, err := compileContract(&Contract{Templates: []Template{
		{Pattern: "/room/{id}/talk"},
		{Pattern: "/room/{id}/log"},
		{Pattern: "/room/lobby/log"},
		{Pattern: "/a/{x}/c"},
		{Pattern: "/a/b/d"},
		{Pattern: "/news/*"},
		{Pattern: "/news/sports/live"},
		{Pattern: "/news/**"},
		{Pattern: "/news/world/**"},
		{Pattern: "/**"},
		{Pattern: "/color/{c}", Params: []Param{{Name: "c", Enum: []string{"red", "blue"}}}},
		{Pattern: "/color/{shade}", Params: []Param{{Name: "shade", Enum: []string{"dark", "light"}}}},
		{Pattern: "/service/lot/{id}/ask"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"/room/1/talk", "/room/{id}/talk"},
		{"/room/1/log", "/room/{id}/log"},
		{"/room/lobby/log", "/room/lobby/log"},
		{"/room/lobby/talk", "/room/{id}/talk"},
		{"/room/1/other", "/**"},
		{"/a/b/c", "/a/{x}/c"}, // the literal b leads nowhere: back to the parameter
		{"/a/b/d", "/a/b/d"},
		{"/news/today", "/news/*"},
		{"/news/sports/live", "/news/sports/live"},
		{"/news/sports/other", "/news/**"},
		{"/news/world/europe", "/news/world/**"},
		{"/news/world/europe/paris", "/news/world/**"},
		{"/news/world", "/news/*"},
		{"/color/red", "/color/{c}"},
		{"/color/dark", "/color/{shade}"},
		{"/color/green", "/color/{c}"}, // neither accepts it: the first, whose check refuses it
		{"/service/lot/7/ask", "/service/lot/{id}/ask"},
		{"/elsewhere", "/**"},
	}
	for _, tt := range tests {
		got := "(none)"
		if tmpl := cc.resolve(tt.name); tmpl != nil {
			got = tmpl.pattern
		}
		if got != tt.want {
			t.Errorf("%s belongs to %s, want %s", tt.name, got, tt.want)
		}
	}
	if cc.resolve("/color/green").checkParams("/color/green") == nil {
		t.Error("/color/green passes the checks of /color/{c}")
	}
}

// TestContractRefusesMalformed: SetContract says what is wrong with a
// template.
func TestContractRefusesMalformed(t *testing.T) {
	tests := []struct {
		t    Template
		want string
	}{
		{Template{Pattern: "chat"}, "not a channel pattern"},
		{Template{Pattern: "/meta/x"}, "/meta channels cannot be declared"},
		{Template{Pattern: "/a/**/b"}, "a wildcard can only be the last segment"},
		{Template{Pattern: "/a/{x}/*"}, "parameters and wildcards cannot mix"},
		{Template{Pattern: "/a/x{y}"}, "a parameter or a wildcard is a whole segment"},
		{Template{Pattern: "/a/{x}", Params: []Param{{Name: "y"}}}, "y is not a parameter of the pattern"},
		{Template{Pattern: "/a/{x}", Params: []Param{{Name: "x", Pattern: "("}}}, "parameter x"},
		{Template{Pattern: "/a/{x}", Subscribe: Rule{Self("y")}}, "{self: y}: not a parameter of the pattern"},
		{Template{Pattern: "/a", Schema: "{"}, "schema"},
		{Template{Pattern: "/a", Publish: Rule{{}}}, "an Allow built without"},
		{Template{Pattern: "/service/a", Handler: OnMessage("M", func(context.Context, *ServerSession, string, *struct{}) error { return nil })}, "not messages"},
	}
	srv := New(Options{})
	defer srv.Shutdown(context.Background())
	for _, tt := range tests {
		err := srv.SetContract(&Contract{Templates: []Template{tt.t}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.t.Pattern, err, tt.want)
		}
	}
	if err := srv.SetContract(&Contract{Templates: []Template{{Pattern: "/a"}, {Pattern: "/a"}}}); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("a template declared twice: %v", err)
	}
}
