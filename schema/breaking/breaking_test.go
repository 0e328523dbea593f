package breaking

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

var update = flag.Bool("update", false, "rewrite the want.txt files of the corpus")

// corpus is the before/after pairs: <case>/old.yaml, new.yaml and
// want.txt, the findings as cometgen breaking prints them (accepted ones
// marked "accepted:"). Cases named ok-* must find nothing.
const corpus = "../../testdata/breaking"

func TestCorpus(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(corpus, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in %s: %v", corpus, err)
	}
	reported := map[string]bool{}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			old, err := schema.Load(filepath.Join(dir, "old.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			new, err := schema.Load(filepath.Join(dir, "new.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			fs, err := Compare(old, new)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for _, f := range fs {
				f.Pos.File = filepath.Base(f.Pos.File)
				if f.Accepted {
					b.WriteString("accepted: ")
				} else {
					reported[f.Rule] = true
				}
				b.WriteString(f.String() + "\n")
			}
			want := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(want, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(w) {
				t.Errorf("got:\n%swant:\n%s", b.String(), w)
			}
			if strings.HasPrefix(name, "ok-") && b.Len() > 0 {
				t.Errorf("an ok- case must find nothing")
			}
		})
	}
	if t.Failed() || *update {
		return
	}
	for _, r := range Rules {
		if !reported[r.ID] {
			t.Errorf("rule %s: no case of the corpus reports it", r.ID)
		}
	}
}

// TestDoc checks that docs/breaking.md is what docDoc writes: every rule,
// with its example taken from the corpus (go test -update rewrites it).
func TestDoc(t *testing.T) {
	got, err := doc()
	if err != nil {
		t.Fatal(err)
	}
	const file = "../../docs/breaking.md"
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/breaking.md is stale: run go test ./schema/breaking -update")
	}
}
