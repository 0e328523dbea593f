package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the expected output of the loader tests")

// extract writes the files of the archive, except want and want.json, into
// a new directory and returns it.
func extract(t *testing.T, a *txtar.Archive) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range a.Files {
		if f.Name == "want" || f.Name == "want.json" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// section returns the file named name of the archive, or nil.
func section(a *txtar.Archive, name string) *txtar.File {
	for i := range a.Files {
		if a.Files[i].Name == name {
			return &a.Files[i]
		}
	}
	return nil
}

// setSection sets the file named name of the archive to data.
func setSection(a *txtar.Archive, name string, data []byte) {
	if f := section(a, name); f != nil {
		f.Data = data
		return
	}
	a.Files = append(a.Files, txtar.File{Name: name, Data: data})
}

// loadArchive loads the spec of the archive at path (spec.yaml or
// cometgen.yaml, or the file the comment names after "spec:") and returns
// the spec, the error, and the directory to strip from positions.
func loadArchive(t *testing.T, a *txtar.Archive) (*Spec, error, string) {
	t.Helper()
	name := "spec.yaml"
	if section(a, name) == nil {
		name = "cometgen.yaml"
	}
	for _, line := range strings.Split(string(a.Comment), "\n") {
		if v, ok := strings.CutPrefix(line, "spec: "); ok {
			name = strings.TrimSpace(v)
		}
	}
	dir := extract(t, a)
	spec, err := Load(filepath.Join(dir, filepath.FromSlash(name)))
	return spec, err, dir + string(filepath.Separator)
}

// TestBadSpecs loads each archive of testdata/load/bad and compares the
// errors, one "file:line:col: message" a line, with its want file.
func TestBadSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/load/bad/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no archives: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			spec, err, dir := loadArchive(t, a)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Load: spec %v, error %v (%T); want an ErrorList", spec != nil, err, err)
			}
			if spec != nil {
				t.Errorf("Load returned a spec with its errors")
			}
			got := strings.ReplaceAll(list.Error(), dir, "") + "\n"
			got = strings.ReplaceAll(got, strings.TrimSuffix(dir, string(filepath.Separator)), "$DIR")
			got = filepath.ToSlash(got)
			if *update {
				setSection(a, "want", []byte(got))
				if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := section(a, "want")
			if want == nil {
				t.Fatalf("no want file (run with -update)\ngot:\n%s", got)
			}
			if got != string(want.Data) {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want.Data)
			}
		})
	}
}

// dump is the JSON of a loaded spec that the good cases compare.
func dump(t *testing.T, s *Spec, dir string) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(dir), nil)
	return append(b, '\n')
}

// TestGoodSpecs loads each archive of testdata/load/good and compares the
// loaded spec, as JSON, with its want.json file.
func TestGoodSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/load/good/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no archives: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			spec, err, dir := loadArchive(t, a)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := dump(t, spec, dir)
			if *update {
				setSection(a, "want.json", got)
				if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := section(a, "want.json")
			if want == nil {
				t.Fatalf("no want.json file (run with -update)")
			}
			if !bytes.Equal(got, want.Data) {
				t.Errorf("spec:\n%s\nwant:\n%s", got, want.Data)
			}
		})
	}
}

// TestLocate checks that Schema.Locate finds values written in the spec and
// in a file a $ref names.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	spec := "cometgen: 1\nname: x\nchannels:\n  /a:\n    message:\n      type: object\n      properties:\n        n: {$ref: n.yaml}\n"
	if err := os.WriteFile(filepath.Join(dir, "cometgen.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "n.yaml"), []byte("type: integer\nminimum: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(filepath.Join(dir, "cometgen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := s.Channels[0].Message
	for _, tc := range []struct {
		ptr, file string
		line, col int
	}{
		{"", "cometgen.yaml", 6, 7},
		{"/type", "cometgen.yaml", 6, 13},
		{"/properties/n/minimum", "n.yaml", 2, 10},
		{"/properties/nothing/here", "cometgen.yaml", 8, 9},
	} {
		p := m.Locate(tc.ptr)
		if filepath.Base(p.File) != tc.file || p.Line != tc.line || p.Col != tc.col {
			t.Errorf("Locate(%q) = %v, want %s:%d:%d", tc.ptr, p, tc.file, tc.line, tc.col)
		}
	}
}
