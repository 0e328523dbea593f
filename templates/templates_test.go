package templates

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
	"golang.org/x/mod/modfile"
)

func TestList(t *testing.T) {
	var names []string
	for _, a := range List() {
		names = append(names, a.Name)
		if a.Summary == "" || strings.Contains(a.Summary, "\n") {
			t.Errorf("%s: summary %q, want one line", a.Name, a.Summary)
		}
	}
	if want := []string{"auction", "blank", "chat"}; !slices.Equal(names, want) {
		t.Errorf("archetypes %v, want %v", names, want)
	}
	if _, ok := Lookup(commonDir); ok {
		t.Error("the common files are listed as an archetype")
	}
}

func TestOutputPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main.go.tmpl", "main.go"},
		{"_gitignore.tmpl", ".gitignore"},
		{"web/index.html", "web/index.html"},
		{"web/_well-known/x.tmpl", "web/.well-known/x"},
		{"go.mod.tmpl", "go.mod"},
	}
	for _, tt := range tests {
		if got := OutputPath(tt.in); got != tt.want {
			t.Errorf("OutputPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRender renders every archetype and checks what it wrote: Go files
// parse, go.mod names the module and the replace, the spec loads under the
// project's name, no template value is missing.
func TestRender(t *testing.T) {
	for _, a := range List() {
		t.Run(a.Name, func(t *testing.T) {
			dir := t.TempDir()
			data := Data{Name: "Demo_1", Module: "example.com/demo", CometgenVersion: "v0.0.0-00010101000000-000000000000", Replace: "/src/cometgen", CometdVersion: CometdVersion}
			written, err := Render(a.Name, data, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"go.mod", "cometgen.yaml", "main.go", "README.md", "Makefile", ".gitignore", "package.json", "web/index.html"} {
				if !slices.Contains(written, want) {
					t.Errorf("%s not written (wrote %v)", want, written)
				}
			}
			for _, p := range written {
				b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<no value>") {
					t.Errorf("%s: a template was not rendered", p)
				}
				if strings.HasSuffix(p, ".go") {
					if _, err := parser.ParseFile(token.NewFileSet(), p, b, parser.AllErrors); err != nil {
						t.Error(err)
					}
				}
			}
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			mf, err := modfile.Parse("go.mod", b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if mf.Module.Mod.Path != data.Module || len(mf.Replace) != 1 || mf.Replace[0].New.Path != data.Replace || len(mf.Tool) != 1 {
				t.Errorf("go.mod:\n%s", b)
			}
			spec, err := schema.Load(filepath.Join(dir, "cometgen.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if spec.Name != data.Name {
				t.Errorf("spec name %q, want %q", spec.Name, data.Name)
			}
			// Rendering again into the same directory refuses to
			// overwrite.
			if _, err := Render(a.Name, data, dir); !errors.Is(err, os.ErrExist) {
				t.Errorf("second render: %v, want a file-exists error", err)
			}
		})
	}
}

// TestRenderRelease: without a replace, go.mod requires the version alone.
func TestRenderRelease(t *testing.T) {
	dir := t.TempDir()
	if _, err := Render("blank", Data{Name: "x", Module: "x", CometgenVersion: "v1.2.3", CometdVersion: CometdVersion}, dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "require github.com/cometgen/cometgen v1.2.3\n") || strings.Contains(string(b), "replace") {
		t.Errorf("go.mod:\n%s", b)
	}
}

func TestRenderUnknown(t *testing.T) {
	if _, err := Render("nope", Data{}, t.TempDir()); !errors.Is(err, ErrUnknown) {
		t.Errorf("err = %v, want ErrUnknown", err)
	}
}

func TestEntries(t *testing.T) {
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"auction", []string{".gitignore", "Makefile", "README.md", "bidder", "cometgen.yaml", "go.mod", "house.go", "house_test.go", "login.go", "main.go", "package.json", "schemas", "web"}},
		{"blank", []string{".gitignore", "Makefile", "README.md", "cometgen.yaml", "go.mod", "main.go", "main_test.go", "package.json", "web"}},
		{"chat", []string{".gitignore", "Makefile", "README.md", "chat.go", "chat_test.go", "cometgen.yaml", "go.mod", "login.go", "main.go", "package.json", "web"}},
		{"nope", nil},
	} {
		if got := Entries(tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("Entries(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
