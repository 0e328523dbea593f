// Package templates holds the project archetypes that `cometgen new`
// renders, embedded in the binary: one directory per archetype (auction,
// blank, chat), each a complete project once rendered.
//
// In an archetype's directory, a file whose name ends in ".tmpl" is a
// text/template rendered with [Data] and written without that suffix
// (main.go.tmpl becomes main.go: Go files and go.mod must not be real Go
// files or modules inside this repository); any other file is copied as
// it is. Templates may call lower (strings.ToLower) and modquote (a path
// quoted for go.mod when it needs it); Go files come out gofmt-clean. A
// leading "_" in a file name becomes "." (_gitignore becomes .gitignore),
// so that dot files survive embedding. A file named
// ARCHETYPE holds the archetype's one-line summary and is not written.
// The directory common holds the files every archetype gets (go.mod,
// Makefile, package.json…) unless the archetype has its own of that name.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"golang.org/x/mod/modfile"
)

//go:embed all:auction all:blank all:chat all:common
var archetypes embed.FS

// commonDir holds the files of every archetype.
const commonDir = "common"

// summaryFile is the file of an archetype that holds its one-line summary.
const summaryFile = "ARCHETYPE"

// Archetype is one project template.
type Archetype struct {
	Name    string // its directory: "auction", "blank", "chat"
	Summary string // one line: what the project is
}

// Data is what a template sees.
type Data struct {
	// Name is the project's name: the spec's name.
	Name string
	// Module is the Go module path of the project.
	Module string
	// Binary is the name go build gives the server: the last element of
	// Module.
	Binary string
	// CometgenVersion is the version of github.com/cometgen/cometgen that
	// go.mod requires.
	CometgenVersion string
	// Replace, when not empty, is the directory of a cometgen source
	// checkout that go.mod's replace directive points the requirement at.
	Replace string
	// CometdVersion is the version of the npm package cometd that
	// package.json requires.
	CometdVersion string
}

// CometdVersion is the version of the CometD JavaScript client (npm
// cometd) the archetypes' package.json pins: the one the interop suite
// tests against.
const CometdVersion = "9.0.0"

// List returns the archetypes, sorted by name.
func List() []Archetype {
	entries, err := archetypes.ReadDir(".")
	if err != nil {
		panic(err) // the embedded directory is always there
	}
	var out []Archetype
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := archetypes.ReadFile(path.Join(e.Name(), summaryFile))
		if err != nil {
			continue
		}
		out = append(out, Archetype{Name: e.Name(), Summary: strings.TrimSpace(string(b))})
	}
	slices.SortFunc(out, func(a, b Archetype) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the archetype called name.
func Lookup(name string) (Archetype, bool) {
	for _, a := range List() {
		if a.Name == name {
			return a, true
		}
	}
	return Archetype{}, false
}

// Entries returns the names of the top-level files and directories a
// project of the archetype called name starts with (as written: "web",
// "main.go", ".gitignore"…), sorted, or nil for an unknown name.
func Entries(name string) []string {
	if _, ok := Lookup(name); !ok {
		return nil
	}
	var out []string
	for _, src := range []string{name, commonDir} {
		des, err := fs.ReadDir(archetypes, src)
		if err != nil {
			continue
		}
		for _, de := range des {
			if de.Name() == summaryFile {
				continue
			}
			if e := OutputPath(de.Name()); !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ErrUnknown is returned by Render for a name that is no archetype.
var ErrUnknown = errors.New("unknown template")

// Render writes the archetype called name into dir, which must exist, and
// returns the paths it wrote (slash-separated, relative to dir, sorted).
// dir should be empty: Render never overwrites a file, one in the way is
// an error.
func Render(name string, data Data, dir string) ([]string, error) {
	if _, ok := Lookup(name); !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	var written []string
	for _, src := range []string{name, commonDir} {
		files, err := renderDir(src, data, dir)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		written = append(written, files...)
	}
	slices.Sort(written)
	return written, nil
}

// renderDir writes the files of the embedded directory src into dir,
// skipping those dir has already: an archetype's file wins over the
// common one.
func renderDir(src string, data Data, dir string) ([]string, error) {
	root, err := fs.Sub(archetypes, src)
	if err != nil {
		return nil, err
	}
	var written []string
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || p == summaryFile {
			return nil
		}
		out := OutputPath(p)
		dst := filepath.Join(dir, filepath.FromSlash(out))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if src == commonDir {
			if _, err := os.Lstat(dst); err == nil {
				return nil
			}
		}
		content, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".tmpl") {
			if content, err = execute(p, content, data); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(content); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		written = append(written, out)
		return nil
	})
	return written, err
}

// OutputPath returns the path a template file p is written to: without a
// ".tmpl" suffix, and with a leading "_" of each element turned into ".".
func OutputPath(p string) string {
	p = strings.TrimSuffix(p, ".tmpl")
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "_") {
			parts[i] = "." + s[1:]
		}
	}
	return strings.Join(parts, "/")
}

// funcs are the functions templates may call besides text/template's own:
// lower, and modquote, which quotes a path in go.mod when it needs it (a
// space in a checkout's path).
var funcs = template.FuncMap{"lower": strings.ToLower, "modquote": modfile.AutoQuote}

// execute renders one template file. A missing key is an error, so that a
// typo in a template fails the tests rather than writing "<no value>".
func execute(name string, content []byte, data Data) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(content))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, ".go.tmpl") {
		// As gofmt writes it: the module's own import sorts differently
		// for different module paths.
		src, err := format.Source(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", name, err)
		}
		return src, nil
	}
	return buf.Bytes(), nil
}
