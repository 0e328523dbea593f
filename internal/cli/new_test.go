package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

func TestCheckModulePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"myapp", true},
		{"my-app/server", true},
		{"example.com/acme/chat", true},
		{"github.com/acme/chat/v2", true},
		{"", false},
		{"example.com/a b", false},
		{"example.com/", false},
		{"/abs/path", false},
		{"example.com/../x", false},
		{"-flag", false},
	}
	for _, tt := range tests {
		if err := checkModulePath(tt.path); (err == nil) != tt.ok {
			t.Errorf("checkModulePath(%q) = %v, want ok %v", tt.path, err, tt.ok)
		}
	}
}

func TestValidProjectName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"chat", true}, {"My_App-2", true}, {"a", true},
		{"", false}, {"2app", false}, {"_app", false}, {"my app", false}, {"app.go", false}, {"über", false},
	}
	for _, tt := range tests {
		if got := schema.ValidName(tt.name); got != tt.ok {
			t.Errorf("valid(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// TestFindSource covers how a binary decides which cometgen the project
// requires.
func TestFindSource(t *testing.T) {
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	here := filepath.Join(checkout, "internal", "cli", "source.go")
	notCheckout := t.TempDir()
	noEnv := func(string) string { return "" }
	env := func(dir string) func(string) string {
		return func(k string) string {
			if k == SourceEnv {
				return dir
			}
			return ""
		}
	}
	tests := []struct {
		name       string
		getenv     func(string) string
		compiledAt string
		version    string
		want       cometgenSource
		wantErr    string
	}{
		{"devel build in a checkout", noEnv, here, "(devel)", cometgenSource{develVersion, checkout}, ""},
		{"dirty build", noEnv, here, "v0.0.0-20260101000000-abcdef123456+dirty", cometgenSource{develVersion, checkout}, ""},
		{"release", noEnv, "github.com/cometgen/cometgen@v1.2.3/internal/cli/source.go", "v1.2.3", cometgenSource{Version: "v1.2.3"}, ""},
		{"release compiled in the module cache", noEnv, filepath.Join(notCheckout, "internal", "cli", "source.go"), "v1.2.3", cometgenSource{Version: "v1.2.3"}, ""},
		{"environment", env(checkout), "trimmed/source.go", "v1.2.3", cometgenSource{develVersion, checkout}, ""},
		{"environment not a checkout", env(notCheckout), here, "(devel)", cometgenSource{}, "$COMETGEN_SOURCE: not a cometgen checkout"},
		{"devel build, checkout gone", noEnv, "trimmed/internal/cli/source.go", "(devel)", cometgenSource{}, "set COMETGEN_SOURCE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findSource(tt.getenv, tt.compiledAt, tt.version)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("findSource = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// testScaffolder returns a scaffolder of template that builds against this
// checkout without npm, and its output. It skips the test where go mod
// tidy cannot run.
func testScaffolder(t *testing.T, template string) (*scaffolder, *bytes.Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go mod tidy")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := new(bytes.Buffer)
	return &scaffolder{
		flags:    newFlags{template: template, noInstall: true},
		stdout:   out,
		stderr:   out,
		lookPath: exec.LookPath,
		source:   func() (cometgenSource, error) { return cometgenSource{develVersion, checkout}, nil },
	}, out
}

// TestScaffoldFailureLeavesNothing makes the last step before the rename
// fail: neither the project, nor the temporary directory, nor the parents
// cometgen made may remain.
func TestScaffoldFailureLeavesNothing(t *testing.T) {
	s, out := testScaffolder(t, "blank")
	root := t.TempDir()
	var seen string
	s.beforeRename = func(tmp string) error {
		seen = tmp
		if _, err := os.Stat(filepath.Join(tmp, "internal", "channels", "types.go")); err != nil {
			t.Errorf("the project is not complete before the rename: %v", err)
		}
		return errors.New("injected failure")
	}
	_, err := s.scaffold(context.Background(), filepath.Join(root, "new", "parents", "app"))
	if err == nil || err.Error() != "injected failure" {
		t.Fatalf("scaffold: %v\n%s", err, out.String())
	}
	if seen == "" || filepath.Dir(seen) != filepath.Join(root, "new", "parents") {
		t.Errorf("temporary directory %q, want one beside the project", seen)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestScaffoldOverEmptyDir: an existing empty directory becomes the
// project, stays the same directory, and nothing is left beside it.
func TestScaffoldOverEmptyDir(t *testing.T) {
	s, out := testScaffolder(t, "chat")
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.scaffold(context.Background(), dir)
	if err != nil {
		t.Fatalf("scaffold: %v\n%s", err, out.String())
	}
	if p.dir != dir || p.name != "app" {
		t.Errorf("project %+v", p)
	}
	// The same directory, not a new one in its place: it may be the
	// shell's working directory (cometgen new .).
	if after, err := os.Stat(dir); err != nil || !os.SameFile(before, after) {
		t.Errorf("the directory was replaced (%v)", err)
	}
	for _, f := range []string{"go.mod", "go.sum", "chat.go", "internal/channels/register.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("%d entries beside the project, want none", len(entries)-1)
	}
	if !strings.Contains(out.String(), "cd "+dir) {
		t.Errorf("next steps do not say where the project is:\n%s", out.String())
	}
}
