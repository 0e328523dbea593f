package main

import (
	"testing"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
)

// TestGeneratedCurrent fails when auction/ or web/channels.js is not what
// cometgen generates from cometgen.yaml today, as `cometgen generate
// --check` would. Regenerate with
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
	problems, err := generator.Check(".", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: regenerate with go run ./cmd/cometgen generate examples/auction/cometgen.yaml", p)
	}
}
