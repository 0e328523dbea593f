package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"
)

// TestJSONSchema checks the embedded JSON Schema: it is JSON, it compiles,
// it has the published $id, and JSONSchema returns a copy.
func TestJSONSchema(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatalf("JSONSchema is not JSON: %v", err)
	}
	if doc["$id"] != JSONSchemaID {
		t.Errorf("$id = %v, want %s", doc["$id"], JSONSchemaID)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", doc["$schema"])
	}
	if _, err := metaSchema(); err != nil {
		t.Fatal(err)
	}
	b := JSONSchema()
	b[0] = 'x'
	if JSONSchema()[0] == 'x' {
		t.Error("JSONSchema returns the embedded slice itself")
	}
}

// TestJSONSchemaDescribesEverything checks that every property the JSON
// Schema declares has a description, so editors show help for every key.
func TestJSONSchemaDescribesEverything(t *testing.T) {
	var doc any
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(pointer string, v any)
	walk = func(pointer string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for name, p := range props {
					p, _ := p.(map[string]any)
					_, hasRef := p["$ref"]
					if _, ok := p["description"]; !ok && !hasRef {
						t.Errorf("%s/properties/%s has no description", pointer, name)
					}
				}
			}
			for k, e := range v {
				walk(pointer+"/"+k, e)
			}
		case []any:
			for _, e := range v {
				walk(pointer+"/[]", e)
			}
		}
	}
	walk("", doc)
}

// isSpecFixture reports whether a file name is a spec's: cometgen.yaml,
// cometgen.json, or *.cometgen.{yaml,yml,json}.
func isSpecFixture(name string) bool {
	base := filepath.Base(name)
	for _, ext := range []string{".yaml", ".yml", ".json"} {
		if base == "cometgen"+ext || strings.HasSuffix(base, ".cometgen"+ext) {
			return true
		}
	}
	return false
}

// TestSpecFixturesMatchJSONSchema validates every spec fixture of the
// repository against the published JSON Schema, as sqlc validates its
// configuration fixtures: files named cometgen.yaml, cometgen.json or
// *.cometgen.{yaml,yml,json} under any testdata/ or examples/ directory,
// and files so named inside the txtar archives of testdata/. A fixture of a
// deliberately wrong spec must be named otherwise (bad.yaml).
func TestSpecFixturesMatchJSONSchema(t *testing.T) {
	n := 0
	check := func(name string, data []byte) {
		n++
		if errs := CheckAgainstJSONSchema(name, data); len(errs) > 0 {
			t.Errorf("%s does not match the JSON Schema:\n%v", name, errs)
		}
	}
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case name == "node_modules", path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")):
				return filepath.SkipDir
			}
			return nil
		}
		if !underFixtureDir(path) {
			return nil
		}
		switch {
		case isSpecFixture(path):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			check(path, data)
		case strings.HasSuffix(path, ".txtar"):
			a, err := txtar.ParseFile(path)
			if err != nil {
				return err
			}
			for _, f := range a.Files {
				if isSpecFixture(f.Name) {
					check(path+":"+f.Name, f.Data)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("found %d spec fixtures; want at least the 3 of schema/testdata/jsonschema/good", n)
	}
	t.Logf("%d spec fixtures valid", n)
}

// underFixtureDir reports whether path lies under a testdata or examples
// directory.
func underFixtureDir(path string) bool {
	for _, dir := range strings.Split(filepath.ToSlash(filepath.Dir(path)), "/") {
		if dir == "testdata" || dir == "examples" {
			return true
		}
	}
	return false
}

var updateBad = flag.Bool("update-bad", false, "rewrite the want files of testdata/jsonschema/bad")

// TestJSONSchemaBadSpecs checks the known-bad specs of
// testdata/jsonschema/bad: each archive holds spec.yaml and the errors
// expected, one "line:col: message" a line.
func TestJSONSchemaBadSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/jsonschema/bad/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no known-bad specs")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var spec, want []byte
			for _, f := range a.Files {
				switch f.Name {
				case "spec.yaml":
					spec = f.Data
				case "want":
					want = f.Data
				}
			}
			// The JSON Schema is never stricter than the loader: an editor
			// must not underline a spec cometgen accepts.
			if _, err := Parse("spec.yaml", spec, t.TempDir()); err == nil {
				t.Errorf("the loader accepts a spec the JSON Schema refuses")
			}
			var got bytes.Buffer
			for _, e := range CheckAgainstJSONSchema("spec.yaml", spec) {
				got.WriteString(strings.TrimPrefix(e.Error(), "spec.yaml:") + "\n")
			}
			if *updateBad {
				for i := range a.Files {
					if a.Files[i].Name == "want" {
						a.Files[i].Data = got.Bytes()
					}
				}
				if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got.String() != string(want) {
				t.Errorf("errors:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}

// TestJSONSchemaGoodSpecsLoad checks that the good specs of the JSON
// Schema's tests are good specs for the loader too.
func TestJSONSchemaGoodSpecsLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/jsonschema/good/*.cometgen.*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good specs: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestNodeAt(t *testing.T) {
	const doc = `cometgen: 1
base: &b
  deep: {x: 1}
channels:
  /chat/{room}:
    filters: [{trim: [text]}, {custom: "a~b"}]
  /other:
    <<: *b
    own: 2
"a~b": tilde
`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pointer    string
		key        bool // keyAt instead of nodeAt
		wantLine   int
		wantColumn int
	}{
		{pointer: "", wantLine: 1, wantColumn: 1},
		{pointer: "/cometgen", wantLine: 1, wantColumn: 11},
		{pointer: "/cometgen", key: true, wantLine: 1, wantColumn: 1},
		{pointer: "/channels/~1chat~1{room}", key: true, wantLine: 5, wantColumn: 3},
		{pointer: "/channels/~1chat~1{room}/filters/1/custom", wantLine: 6, wantColumn: 40},
		{pointer: "/channels/~1chat~1{room}/filters/0/trim/0", wantLine: 6, wantColumn: 23},
		{pointer: "/channels/~1other/deep/x", wantLine: 3, wantColumn: 13},
		{pointer: "/channels/~1other/own", wantLine: 9, wantColumn: 10},
		{pointer: "/a~0b", wantLine: 10, wantColumn: 8},
		// Nowhere: the deepest node reached.
		{pointer: "/channels/~1chat~1{room}/filters/7", wantLine: 6, wantColumn: 14},
		{pointer: "/channels/~1nope/message", wantLine: 5, wantColumn: 3},
	} {
		var n *yaml.Node
		if tc.key {
			n = keyAt(&root, tc.pointer)
		} else {
			n = nodeAt(&root, tc.pointer)
		}
		if n == nil || n.Line != tc.wantLine || n.Column != tc.wantColumn {
			got := "nil"
			if n != nil {
				got = strings.Join([]string{strconv.Itoa(n.Line), strconv.Itoa(n.Column)}, ":")
			}
			t.Errorf("node of %q (key %v) at %s, want %d:%d", tc.pointer, tc.key, got, tc.wantLine, tc.wantColumn)
		}
	}
}

// TestCheckAgainstJSONSchemaAliasBomb checks that a document whose aliases
// expand to billions of values is refused quickly.
func TestCheckAgainstJSONSchemaAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("cometgen: 1\nx-a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("x-a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	errs := CheckAgainstJSONSchema("bomb.yaml", []byte(b.String()))
	if len(errs) == 0 {
		t.Fatal("no error for an alias bomb")
	}
	if !strings.Contains(errs.Error(), "too large") && !strings.Contains(errs.Error(), "not YAML") {
		t.Errorf("errors: %v", errs)
	}
}

// TestCheckAgainstJSONSchemaJSON checks that JSON specs get positions too.
func TestCheckAgainstJSONSchemaJSON(t *testing.T) {
	spec := "{\n  \"cometgen\": 1, \"name\": \"j\",\n  \"auth\": {\"handshake\": \"maybe\"}\n}\n"
	errs := CheckAgainstJSONSchema("spec.json", []byte(spec))
	want := `spec.json:3:25: handshake: "maybe" is not one of none, optional, required`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", errs, want)
	}
}

// FuzzCheckAgainstJSONSchema checks that no document makes the check panic
// or report an error without a position.
func FuzzCheckAgainstJSONSchema(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/jsonschema/good/*")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	bad, _ := filepath.Glob("testdata/jsonschema/bad/*.txtar")
	for _, s := range bad {
		if a, err := txtar.ParseFile(s); err == nil && len(a.Files) > 0 {
			f.Add(a.Files[0].Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		for _, e := range CheckAgainstJSONSchema("f.yaml", data) {
			if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("error without a position or message: %#v", e)
			}
		}
	})
}
