package generator

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/*/want")

// TestGolden generates every spec under testdata/<case>/cometgen.yaml and
// compares the files with testdata/<case>/want, both ways: a missing or an
// extra file fails. Run with -update to rewrite the goldens.
func TestGolden(t *testing.T) {
	specs, _ := filepath.Glob("testdata/*/cometgen.yaml")
	if len(specs) == 0 {
		t.Fatal("no specs under testdata")
	}
	for _, specPath := range specs {
		dir := filepath.Dir(specPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files := generate(t, specPath)
			want := filepath.Join(dir, "want")
			if *update {
				os.RemoveAll(want)
				for p, b := range files {
					dst := filepath.Join(want, filepath.FromSlash(p))
					os.MkdirAll(filepath.Dir(dst), 0o755)
					if err := os.WriteFile(dst, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			seen := map[string]bool{}
			filepath.WalkDir(want, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(want, p)
				rel = filepath.ToSlash(rel)
				seen[rel] = true
				got, ok := files[rel]
				if !ok {
					t.Errorf("%s is in want/ but no longer generated", rel)
					return nil
				}
				if b, _ := os.ReadFile(p); !bytes.Equal(b, got) {
					t.Errorf("%s differs from the golden file (run go test ./generator -update and review the diff)", rel)
				}
				return nil
			})
			for p := range files {
				if !seen[p] {
					t.Errorf("%s is generated but has no golden file", p)
				}
			}
		})
	}
}

func generate(t *testing.T, specPath string) Files {
	t.Helper()
	spec, err := schema.Load(specPath)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	files, err := Generate(spec, Options{})
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	for p, b := range files {
		if !IsCometgenFile(b) {
			t.Errorf("%s lacks the generated header", p)
		}
	}
	again, _ := Generate(spec, Options{})
	for p := range files {
		if !bytes.Equal(files[p], again[p]) {
			t.Errorf("%s: two generations differ", p)
		}
	}
	return files
}

// TestGeneratedCodeBuilds writes each generated package into a module that
// uses this repository and runs go vet on it.
func TestGeneratedCodeBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated code with the go command")
	}
	specs, _ := filepath.Glob("testdata/*/cometgen.yaml")
	for _, specPath := range specs {
		t.Run(filepath.Base(filepath.Dir(specPath)), func(t *testing.T) {
			mod := tempModule(t, generate(t, specPath))
			cmd := exec.Command("go", "vet", "./...")
			cmd.Dir = mod
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go vet of the generated code: %v\n%s", err, out)
			}
		})
	}
}

// TestChannelClaimsOnlyWhatItEmits: a channel without parameters emits only
// its pattern constant, so a schema may have the channel's name.
func TestChannelClaimsOnlyWhatItEmits(t *testing.T) {
	spec, err := schema.Parse("s.yaml", []byte("cometgen: 1\nname: s\nschemas:\n  Status: {type: string}\nchannels:\n  /status:\n    message: Status\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(spec, Options{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if !bytes.Contains(files["channels/channels.go"], []byte("StatusPattern")) || !bytes.Contains(files["channels/types.go"], []byte("type Status string")) {
		t.Errorf("got %s", files.Paths())
	}
}

// TestLocalChannel: local: true makes Register mark the runtime channel
// node-local.
func TestLocalChannel(t *testing.T) {
	tests := []struct {
		local string
		want  bool
	}{{"true", true}, {"false", false}}
	for _, tt := range tests {
		src := "cometgen: 1\nname: s\nchannels:\n  /cursor/{table}:\n    params: {table: {}}\n    message: {type: object}\n    local: " + tt.local + "\n"
		var all []byte
		for _, b := range generateSource(t, src) {
			all = append(all, b...)
		}
		if got := regexp.MustCompile(`\bLocal:\s+true,`).Match(all); got != tt.want {
			t.Errorf("local: %s: Local: true emitted = %v, want %v", tt.local, got, tt.want)
		}
	}
}

// TestShapeWalk builds generated channels of several shapes with a test
// that compares, for every short name, the generated parser with
// bayeux.Segments and the literal segments, which it replaces.
func TestShapeWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated code with the go command")
	}
	src := "cometgen: 1\nname: shapes\ngo: {package: shapes, out: shapes}\nchannels:\n" +
		"  /a/{x}: {params: {x: {}}, message: {type: object}}\n" +
		"  /a/{x}/b: {params: {x: {}}, message: {type: object}}\n" +
		"  /b/{x}/{y}: {params: {x: {}, y: {}}, message: {type: object}}\n" +
		"  /a/b/{x}/{y}/c: {params: {x: {}, y: {}}, message: {type: object}}\n"
	spec, err := schema.Parse("s.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(spec, Options{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	files["shapes/shapes_test.go"] = []byte(`package shapes

import (
	"errors"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// segments is the parameters of name by bayeux.Segments, nil for another channel.
func segments(pattern, name string) []string {
	tsegs := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	segs := make([]string, len(tsegs))
	if !bayeux.Segments(name, segs) {
		return nil
	}
	var params []string
	for i, t := range tsegs {
		if !strings.HasPrefix(t, "{") {
			if segs[i] != t {
				return nil
			}
			continue
		}
		params = append(params, segs[i])
	}
	return params
}

func TestShapes(t *testing.T) {
	names := []string{""}
	for n := 0; n < 7; n++ {
		for _, s := range names {
			if len(s) == n {
				for _, c := range []string{"/", "a", "b", "c", "x"} {
					names = append(names, s+c)
				}
			}
		}
	}
	type check struct {
		pattern string
		parse   func(string) ([]string, error)
	}
	for _, c := range []check{
		{AXPattern, func(n string) ([]string, error) { c, err := ParseAX(n); return []string{c.X}, err }},
		{AXBPattern, func(n string) ([]string, error) { c, err := ParseAXB(n); return []string{c.X}, err }},
		{BXYPattern, func(n string) ([]string, error) { c, err := ParseBXY(n); return []string{c.X, c.Y}, err }},
		{ABXYCPattern, func(n string) ([]string, error) { c, err := ParseABXYC(n); return []string{c.X, c.Y}, err }},
	} {
		for _, name := range append(names, "/a/b/xx/yy/c", "/a/b/x//c", "/a/bb/x/y/c", "/a/b/x/y/cc") {
			params, err := c.parse(name)
			want := segments(c.pattern, name)
			switch {
			case want == nil:
				if !errors.Is(err, errOtherChannel) {
					t.Errorf("%s: parse %q: %v, want another channel", c.pattern, name, err)
				}
			case strings.Contains("|"+strings.Join(want, "|")+"|", "||"):
				// An empty parameter: its channel's shape, refused by its check.
				if err == nil || errors.Is(err, errOtherChannel) {
					t.Errorf("%s: parse %q: %v, want an empty parameter refused", c.pattern, name, err)
				}
			case err != nil || strings.Join(params, "|") != strings.Join(want, "|"):
				t.Errorf("%s: parse %q: %q, %v, want %q", c.pattern, name, params, err, want)
			}
		}
	}
}
`)
	mod := tempModule(t, files)
	cmd := exec.Command("go", "test", "./shapes/")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test of the generated shapes: %v\n%s", err, out)
	}
}

// TestDescriptionIsNoHeading: a short description that does not end a
// sentence stays a paragraph of the doc comment; gofmt would read it as a
// heading ("# ISO 4217 code").
func TestDescriptionIsNoHeading(t *testing.T) {
	src := "cometgen: 1\nname: money\nschemas:\n  Price:\n    description: ISO 4217 code\n    type: object\n    properties: {currency: {type: string}}\nchannels:\n  /price: {message: Price}\n"
	var types []byte
	for p, b := range generateSource(t, src) {
		if strings.HasSuffix(p, "types.go") {
			types = b
		}
	}
	if bytes.Contains(types, []byte("# ISO")) || !bytes.Contains(types, []byte("// ISO 4217 code.\n")) {
		t.Errorf("types.go does not keep the description as a sentence:\n%s", types)
	}
}

// generateSource returns what the generator writes for the spec src.
func generateSource(t *testing.T, src string) Files {
	t.Helper()
	spec, err := schema.Parse("s.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(spec, Options{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return files
}
