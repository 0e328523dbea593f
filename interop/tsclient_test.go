package interop_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/interop/servetest"
	"github.com/cometgen/cometgen/schema"
)

// tsCorpus are the specs whose typed clients must compile: the generator's
// golden specs, the example and the interop specs.
func tsCorpus(t *testing.T) []string {
	t.Helper()
	specs, err := filepath.Glob("../generator/testdata/*/cometgen.yaml")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no generator specs: %v", err)
	}
	return append(specs, "../examples/chat/cometgen.yaml", "spec/cometgen.yaml", "tsclient/chat-v2.yaml", "tsclient/corners.yaml")
}

// tsVariants are the forms of the client each spec is generated in.
var tsVariants = []struct {
	name string
	opts generator.Options
}{
	{"ts", generator.Options{TSOut: "client/channels.ts"}},
	{"ts-validate", generator.Options{TSOut: "client/channels.ts", Validate: true}},
	{"js", generator.Options{TSOut: "client/channels.js"}},
	{"js-validate", generator.Options{TSOut: "client/channels.js", Validate: true}},
}

// tsProject returns a new directory with interop's node_modules linked in,
// for TypeScript projects and generated clients.
func tsProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	modules, err := filepath.Abs("node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeClient generates the typed client of specPath with opts into the
// directory sub of project and returns the directory of the client's
// files.
func writeClient(t *testing.T, project, sub, specPath string, opts generator.Options) string {
	t.Helper()
	spec, err := schema.Load(specPath)
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	files, err := generator.Generate(spec, opts)
	if err != nil {
		t.Fatalf("generate %s: %v", specPath, err)
	}
	dir := filepath.Join(project, sub)
	copied := 0
	for p, b := range files {
		if !strings.HasPrefix(p, "client/") {
			continue
		}
		copied++
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "client/")))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if copied == 0 {
		t.Fatalf("generate %s: no client under client/ (ts.out %s)", specPath, opts.TSOut)
	}
	return dir
}

// tsconfig is the strictest usual configuration of a TypeScript project.
const tsconfig = `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "strict": true,
    "noImplicitOverride": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "noFallthroughCasesInSwitch": true,
    "verbatimModuleSyntax": true,
    "skipLibCheck": false,
    "outDir": "out"
  },
  "include": ["**/*.ts"]
}
`

// tsc runs the TypeScript compiler on the project in dir (see tscOutput)
// and fails the test with its output on an error.
func tsc(t *testing.T, node, dir string, noEmit bool) {
	t.Helper()
	if out, err := tscOutput(t, node, dir, noEmit); err != nil {
		t.Fatalf("tsc -p %s: %v\n%s", dir, err, out)
	}
}

// runTool runs node with args and fails the test with its output on an
// error.
func runTool(t *testing.T, node string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// requireTypeScript is requireNode plus the client's npm packages.
func requireTypeScript(t *testing.T) string {
	t.Helper()
	node := requireNode(t)
	for _, pkg := range []string{"typescript", "ajv", "ajv-formats", "prettier"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("interop/node_modules/%s is missing: run `npm ci --prefix interop`", pkg)
			}
			t.Skipf("interop/node_modules/%s is missing: run `npm ci --prefix interop`", pkg)
		}
	}
	return node
}

// TestTSClientCompiles checks, for every spec of the corpus and every form
// of the client, that `tsc --strict --noEmit` accepts the generated code
// (for the JavaScript form: its .d.ts). One tsc run checks them all.
func TestTSClientCompiles(t *testing.T) {
	node := requireTypeScript(t)
	project := tsProject(t)
	n := 0
	for i, specPath := range tsCorpus(t) {
		for _, v := range tsVariants {
			dir := writeClient(t, project, fmt.Sprintf("%d-%s", i, v.name), specPath, v.opts)
			if strings.HasPrefix(v.name, "js") {
				// A consumer makes tsc read the declarations.
				consumer := "import { createClient } from \"./channels.js\";\nexport const client = createClient;\n"
				if err := os.WriteFile(filepath.Join(dir, "consumer.ts"), []byte(consumer), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n++
		}
	}
	tsc(t, node, project, true)
	t.Logf("tsc --strict --noEmit: %d clients compile", n)
}

// TestTSClientFormatted checks that every client of the corpus, in every
// form, is formatted as prettier formats it with a print width of 100 (its
// other defaults: two spaces, double quotes, semicolons, trailing commas).
func TestTSClientFormatted(t *testing.T) {
	node := requireTypeScript(t)
	project := tsProject(t)
	args := []string{filepath.Join("node_modules", "prettier", "bin", "prettier.cjs"), "--check", "--print-width", "100", "--no-config"}
	for i, specPath := range tsCorpus(t) {
		for _, v := range tsVariants {
			dir := writeClient(t, project, fmt.Sprintf("%d-%s", i, v.name), specPath, v.opts)
			files, err := filepath.Glob(filepath.Join(dir, "channels.*"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no client in %s: %v", dir, err)
			}
			args = append(args, files...)
		}
	}
	t.Log(strings.TrimSpace(runTool(t, node, args...)))
}

// TestTSClientTypeErrors compiles tsclient/typetests.ts against the client
// of examples/chat in every form: the valid uses compile and every
// @ts-expect-error line is still an error.
func TestTSClientTypeErrors(t *testing.T) {
	node := requireTypeScript(t)
	tests, err := os.ReadFile("tsclient/typetests.ts")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(tests), "@ts-expect-error"); n < 15 {
		t.Fatalf("typetests.ts has %d @ts-expect-error lines; the suite expects at least 15", n)
	}
	project := tsProject(t)
	for _, v := range tsVariants {
		dir := writeClient(t, project, v.name, "../examples/chat/cometgen.yaml", v.opts)
		if err := os.WriteFile(filepath.Join(dir, "typetests.ts"), tests, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tsc(t, node, project, true)
}

// TestTSClientJSIsTSWithoutTypes checks that the JavaScript form of every
// client is its TypeScript form with the types removed, as the TypeScript
// compiler removes them (tsclient/same.mjs).
func TestTSClientJSIsTSWithoutTypes(t *testing.T) {
	node := requireTypeScript(t)
	project := tsProject(t)
	args := []string{"tsclient/same.mjs"}
	for i, specPath := range tsCorpus(t) {
		for _, validate := range []bool{false, true} {
			name := fmt.Sprint(i)
			if validate {
				name += "-validate"
			}
			tsDir := writeClient(t, project, name+"-ts", specPath, generator.Options{TSOut: "client/channels.ts", Validate: validate})
			jsDir := writeClient(t, project, name+"-js", specPath, generator.Options{TSOut: "client/channels.js", Validate: validate})
			args = append(args, filepath.Join(tsDir, "channels.ts"), filepath.Join(jsDir, "channels.js"))
		}
	}
	t.Log(strings.TrimSpace(runTool(t, node, args...)))
}

// TestTSClientEndToEnd runs test-tsclient/ (node:test) with the typed
// client of examples/chat, in its TypeScript form compiled by tsc and in
// its JavaScript form, against the examples/chat server built from the
// same spec, on every transport.
func TestTSClientEndToEnd(t *testing.T) {
	node := requireTypeScript(t)
	bin := servetest.BuildPackage(t, "github.com/cometgen/cometgen/examples/chat")
	srv := servetest.StartCommand(t, bin, "--addr", "127.0.0.1:0", "--notice-every", "0")
	url := strings.TrimSuffix(srv.URL, "/") + "/cometd"

	// The TypeScript clients, compiled by tsc into out/: the later spec's
	// (validating) and the example's; and the example's JavaScript form.
	project := tsProject(t)
	writeClient(t, project, "v2", "tsclient/chat-v2.yaml", generator.Options{})
	writeClient(t, project, "ts", "../examples/chat/cometgen.yaml", generator.Options{TSOut: "client/channels.ts"})
	tsc(t, node, project, false)
	jsDir := writeClient(t, tsProject(t), "js", "../examples/chat/cometgen.yaml", generator.Options{TSOut: "client/channels.js"})
	forms := map[string]string{
		"ts": filepath.Join(project, "out", "ts", "channels.js"),
		"js": filepath.Join(jsDir, "channels.js"),
	}
	for _, form := range []string{"ts", "js"} {
		for _, transport := range transports {
			t.Run(form+"/"+transport, func(t *testing.T) {
				runNode(t, node, url, transport, "test-tsclient/", 2*time.Minute,
					"COMETGEN_TS_CLIENT="+forms[form],
					"COMETGEN_TS_CLIENT_V2="+filepath.Join(project, "out", "v2", "channels.js"))
			})
		}
	}
}
