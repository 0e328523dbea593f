package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/mod/modfile"
)

// cometgenModule is the module path of cometgen itself.
const cometgenModule = "github.com/cometgen/cometgen"

// SourceEnv names the environment variable that points `cometgen new` at a
// cometgen source checkout: the scaffolded go.mod then replaces the
// cometgen requirement with that directory. It overrides what the binary
// finds by itself.
const SourceEnv = "COMETGEN_SOURCE"

// develVersion is the version a go.mod requires of a module it replaces
// with a directory: the conventional zero pseudo-version.
const develVersion = "v0.0.0-00010101000000-000000000000"

// cometgenSource says which cometgen a scaffolded project requires.
type cometgenSource struct {
	// Version is what go.mod requires.
	Version string
	// Checkout, when not empty, is the absolute directory of the source
	// checkout that go.mod's replace points the requirement at.
	Checkout string
}

// findSource decides the cometgen a new project requires, from the build
// information of the running binary:
//
//   - $COMETGEN_SOURCE set: that checkout (it must hold cometgen's go.mod);
//   - a development build — version "(devel)" (go build or go run in a
//     checkout, and test binaries), a "+dirty" version, or a binary whose
//     source directory is still a git checkout of cometgen — the checkout it
//     was built from, found from the path this file was compiled at;
//   - a release (go install github.com/cometgen/cometgen/cmd/cometgen@v1.2.3):
//     that version, downloaded like any module.
//
// getenv, compiledAt (the path this file was compiled from) and version
// (the binary's, from binaryVersion) are parameters for the tests.
func findSource(getenv func(string) string, compiledAt, version string) (cometgenSource, error) {
	if dir := getenv(SourceEnv); dir != "" {
		abs, err := checkoutRoot(dir)
		if err != nil {
			return cometgenSource{}, fmt.Errorf("$%s: %w", SourceEnv, err)
		}
		return cometgenSource{Version: develVersion, Checkout: abs}, nil
	}
	// The checkout this binary was compiled from: two levels up from
	// internal/cli. With -trimpath the path is not absolute.
	var checkout string
	if filepath.IsAbs(compiledAt) {
		if root, err := checkoutRoot(filepath.Join(filepath.Dir(compiledAt), "..", "..")); err == nil {
			checkout = root
		}
	}
	devel := version == "(devel)" || strings.HasSuffix(version, "+dirty")
	if !devel && checkout != "" {
		if _, err := os.Stat(filepath.Join(checkout, ".git")); err == nil {
			devel = true
		}
	}
	if !devel {
		return cometgenSource{Version: version}, nil
	}
	if checkout == "" {
		return cometgenSource{}, fmt.Errorf("this cometgen is a development build (version %s) and its source checkout is not found: set %s to the directory of the cometgen checkout", version, SourceEnv)
	}
	return cometgenSource{Version: develVersion, Checkout: checkout}, nil
}

// binaryVersion returns the version of cometgen the running binary was
// built as: "(devel)" when built in a checkout.
func binaryVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == cometgenModule && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// compiledAt is the path this file was compiled from.
func compiledAt() string {
	_, file, _, _ := goruntime.Caller(0)
	return file
}

// checkoutRoot returns dir, made absolute, if it holds cometgen's go.mod.
func checkoutRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("not a cometgen checkout: %w", err)
	}
	if p := modfile.ModulePath(b); p != cometgenModule {
		return "", fmt.Errorf("not a cometgen checkout: %s/go.mod is module %q", abs, p)
	}
	return abs, nil
}

// checkoutGoSum returns the go.sum of a checkout: a scaffolded project
// built against the checkout needs a subset of it, so `go mod tidy` has
// every checksum without asking the network.
func checkoutGoSum(checkout string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(checkout, "go.sum"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
