package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
)

// TestGeneratedCurrent fails when auction/ (package auction) and web/channels.js are not what cometgen
// generates from cometgen.yaml today, like `cometgen generate --check`.
// Regenerate with
//
//	go run ./cmd/cometgen generate examples/auction/cometgen.yaml
func TestGeneratedCurrent(t *testing.T) {
	spec, err := schema.Load("cometgen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Generate(spec, generator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("nothing generated")
	}
	dirs := map[string]bool{}
	for _, p := range files.Paths() {
		dirs[filepath.Dir(filepath.FromSlash(p))] = true
		got, err := os.ReadFile(filepath.FromSlash(p))
		if err != nil {
			t.Errorf("%s: %v (regenerate the code)", p, err)
			continue
		}
		if !bytes.Equal(got, files[p]) {
			t.Errorf("%s is not current: regenerate it with go run ./cmd/cometgen generate examples/auction/cometgen.yaml", p)
		}
	}
	// No stale generated file is left beside them.
	for dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := filepath.ToSlash(filepath.Join(dir, e.Name()))
			if _, ok := files[p]; ok || e.IsDir() {
				continue
			}
			if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && generator.IsCometgenFile(data) {
				t.Errorf("%s was generated but no longer is: delete it", p)
			}
		}
	}
}
