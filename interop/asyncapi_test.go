package interop_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/internal/cli"
)

// asyncapiSpecs are the specs whose AsyncAPI documents are validated: every
// spec of the repository that the generators read.
func asyncapiSpecs(t *testing.T) []string {
	t.Helper()
	specs := append(tsCorpus(t), "../testdata/bench/cometgen.yaml")
	tmpl, err := filepath.Glob("../schema/testdata/jsonschema/good/*.cometgen.*")
	if err != nil {
		t.Fatal(err)
	}
	return append(specs, tmpl...)
}

// TestAsyncAPIValid writes the AsyncAPI document of every spec with
// `cometgen asyncapi` and validates it against the official AsyncAPI 3.0.0
// JSON Schema (npm @asyncapi/specs) with ajv.
func TestAsyncAPIValid(t *testing.T) {
	node := requireNode(t)
	if _, err := os.Stat("node_modules/@asyncapi/specs/package.json"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("interop/node_modules/@asyncapi/specs is missing: npm ci --prefix interop")
		}
		t.Skip("interop/node_modules/@asyncapi/specs is missing: npm ci --prefix interop")
	}
	dir := t.TempDir()
	var docs []string
	for _, spec := range asyncapiSpecs(t) {
		out := filepath.Join(dir, strings.ReplaceAll(strings.Trim(filepath.ToSlash(spec), "./"), "/", "_")+".json")
		var stderr bytes.Buffer
		if code := cli.Main([]string{"asyncapi", spec, "-o", out}, nil, &stderr, &stderr); code != 0 {
			t.Fatalf("cometgen asyncapi %s: exit %d\n%s", spec, code, stderr.String())
		}
		docs = append(docs, out)
	}
	t.Log(runTool(t, node, append([]string{"asyncapi/validate.mjs"}, docs...)...))

	// The validator refuses what AsyncAPI 3.0 does not allow: an
	// operation's action is send or receive, never AsyncAPI 2's publish.
	good, err := os.ReadFile(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, bytes.Replace(good, []byte(`"action": "receive"`), []byte(`"action": "publish"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), node, "asyncapi/validate.mjs", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/action") {
		t.Fatalf("the validator accepted an operation with action publish: %v\n%s", err, out)
	}
}
