package schema

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// FuzzLoad feeds arbitrary bytes to Parse: it never panics nor hangs, and
// returns a spec or an ErrorList whose every error has a position,
// file:line:col, within the file. The seeds are the specs of
// testdata/load and the corpus in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	archives, _ := filepath.Glob("testdata/load/*/*.txtar")
	for _, file := range archives {
		a, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, af := range a.Files {
			if strings.HasSuffix(af.Name, ".yaml") || af.Name == "cometgen.json" {
				f.Add(af.Data)
			}
		}
	}
	f.Add([]byte(billionLaughs(3)))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("{"))
	dir := f.TempDir()
	file := filepath.Join(dir, "spec.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		spec, err := Parse(file, data, dir)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Parse took %v", took)
		}
		if err == nil {
			if spec == nil {
				t.Fatal("no spec and no error")
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %v (%T) is not an ErrorList", err, err)
		}
		// Lines as YAML counts them: a lone CR breaks a line too.
		lines := bytes.Count(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n")) +
			bytes.Count(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\r")) + 1
		for _, e := range list {
			if e.Pos.File == "" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
				t.Errorf("error without a file:line:col or message: %q", e.Error())
			}
			if e.Pos.File == file && e.Pos.Line > lines {
				t.Errorf("error at line %d of a file of %d lines: %q", e.Pos.Line, lines, e.Error())
			}
			if want := fmt.Sprintf("%s:%d:%d: ", e.Pos.File, e.Pos.Line, e.Pos.Col); !strings.HasPrefix(e.Error(), want) {
				t.Errorf("error %q does not start with %q", e.Error(), want)
			}
		}
	})
}
