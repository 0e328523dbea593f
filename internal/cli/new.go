package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
	"github.com/cometgen/cometgen/templates"
	"github.com/spf13/cobra"
	"golang.org/x/mod/module"
)

func init() { extraCommands = append(extraCommands, newNewCmd) }

// newFlags are the flags of cometgen new.
type newFlags struct {
	template  string
	module    string
	name      string
	force     bool
	noInstall bool
	list      bool
	run       bool
	addr      string
}

func newNewCmd() *cobra.Command {
	var f newFlags
	cmd := &cobra.Command{
		Use:   "new <dir>",
		Short: "Create a project from an archetype: spec, generated code, server, web page, tests",
		Long: `New creates a runnable project in dir from one of cometgen's archetypes
(--list shows them): a spec, the code generated from it, a Go server with a
web page on the typed client, tests and a README. It then runs go mod tidy
and npm install (the page's CometD client) in it, and prints what to run.

It never prompts. The project's name (the spec's name, the binary's) is the
directory's base name unless --name says otherwise; the module path is the
name unless --module says otherwise.

The project is built in a temporary directory next to dir and renamed to dir
at the end: a failure leaves nothing behind. A dir that exists and is not
empty is refused, unless --force, which writes the project's files over it.

The project requires the cometgen runtime at this binary's version. A
development build (go run ./cmd/cometgen, or a binary built in a checkout)
points the requirement at its source checkout with a replace directive, so
scaffolding needs no module download; ` + SourceEnv + ` names another
checkout.

With --run the project is then built and started: it prints its URL.`,
		Example: `  cometgen new myapp
  cometgen new --template chat --module example.com/chat ./chat
  cometgen new --template chat --run /tmp/chat
  cometgen new --list`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.list {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) != 1 {
				return errors.New("new needs one argument, the project's directory (cometgen new --list shows the templates)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.list {
				return listTemplates(cmd.OutOrStdout())
			}
			s := &scaffolder{
				flags:    f,
				stdout:   cmd.OutOrStdout(),
				stderr:   cmd.ErrOrStderr(),
				lookPath: exec.LookPath,
				source:   func() (cometgenSource, error) { return findSource(os.Getenv, compiledAt(), binaryVersion()) },
			}
			p, err := s.scaffold(cmd.Context(), args[0])
			if err != nil || !f.run {
				return err
			}
			return s.runProject(cmd.Context(), p)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.template, "template", "t", "blank", "the archetype (see --list)")
	fl.StringVar(&f.module, "module", "", "Go module path of the project (default: the name)")
	fl.StringVar(&f.name, "name", "", "project name: letters, digits, '-', '_', starting with a letter (default: dir's base name)")
	fl.BoolVar(&f.force, "force", false, "write into dir even if it is not empty, replacing files of the same names")
	fl.BoolVar(&f.noInstall, "no-install", false, "do not run npm install (the web page needs it before it works)")
	fl.BoolVar(&f.list, "list", false, "list the archetypes and exit")
	fl.BoolVar(&f.run, "run", false, "build and start the project once it is created")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "with --run, the `host:port` the project listens on")
	return cmd
}

func listTemplates(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range templates.List() {
		fmt.Fprintf(tw, "%s\t%s\n", a.Name, a.Summary)
	}
	return tw.Flush()
}

// checkModulePath accepts what go mod init accepts: a module path
// (module.CheckPath), or a local path whose first element has no dot
// ("myapp"), which no one can download but which builds.
func checkModulePath(p string) error {
	err := module.CheckPath(p)
	if err == nil {
		return nil
	}
	first, _, _ := strings.Cut(p, "/")
	if !strings.Contains(first, ".") && module.CheckImportPath(p) == nil {
		return nil
	}
	return err
}

// checkNotStd refuses a module path without a dot in its first element
// that names a standard-library package ("fmt", "net/http"): go would
// take its imports for the standard library's and fail only later, in go
// mod tidy. go list tells, for the toolchain that will build the project.
func (s *scaffolder) checkNotStd(ctx context.Context, goTool, mod string) error {
	first, _, _ := strings.Cut(mod, "/")
	if strings.Contains(first, ".") {
		return nil
	}
	out, err := exec.CommandContext(ctx, goTool, "list", "-e", "-f", "{{.Standard}}", mod).Output()
	if err != nil {
		return nil // go list itself failed: go mod tidy will say why
	}
	if strings.TrimSpace(string(out)) == "true" {
		return fmt.Errorf("invalid module path %q: it names a package of the Go standard library; use a path of your own, such as example.com/%s", mod, mod)
	}
	return nil
}

// scaffolder creates one project. Its function fields are what tests
// replace.
type scaffolder struct {
	flags          newFlags
	stdout, stderr io.Writer
	lookPath       func(string) (string, error)
	source         func() (cometgenSource, error)
	// beforeRename, when set, runs on the finished temporary directory
	// just before it becomes the project; an error aborts (tests).
	beforeRename func(tmp string) error
}

// project is a project scaffold created.
type project struct {
	dir    string // absolute
	name   string
	goTool string // the go command
}

// scaffold creates the project in dir.
func (s *scaffolder) scaffold(ctx context.Context, dir string) (_ project, err error) {
	f := s.flags
	if _, ok := templates.Lookup(f.template); !ok {
		var names []string
		for _, a := range templates.List() {
			names = append(names, a.Name)
		}
		return project{}, fmt.Errorf("unknown template %q: the templates are %s (cometgen new --list)", f.template, strings.Join(names, ", "))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return project{}, err
	}
	name := f.name
	if name == "" {
		name = filepath.Base(abs)
	}
	if !schema.ValidName(name) {
		hint := ""
		if f.name == "" {
			hint = " (it is the directory's name; give another with --name)"
		}
		return project{}, fmt.Errorf("invalid project name %q%s: use letters, digits, '-' and '_', starting with a letter", name, hint)
	}
	mod := f.module
	if mod == "" {
		mod = name
	}
	if err := checkModulePath(mod); err != nil {
		return project{}, fmt.Errorf("invalid module path: %w", err)
	}
	binary := path.Base(mod)
	if entries := templates.Entries(f.template); slices.Contains(entries, binary) {
		return project{}, fmt.Errorf("module path %q: go build would name the server %q, like the project's own %s: choose another name or --module", mod, binary, binary)
	}
	goTool, err := s.lookPath("go")
	if err != nil {
		return project{}, errors.New("the Go toolchain is not installed (go is not on PATH): cometgen new runs go mod tidy in the project; install Go 1.26 or later from https://go.dev/dl/")
	}
	if err := s.checkNotStd(ctx, goTool, mod); err != nil {
		return project{}, err
	}
	npm := ""
	if !f.noInstall {
		if npm, err = s.lookPath("npm"); err != nil {
			return project{}, errors.New("npm is not installed (not on PATH): the web page needs the CometD JavaScript client from npm; install Node.js and npm, or pass --no-install and run npm install in the project later")
		}
	}
	exists, empty, err := inspectDir(abs)
	if err != nil {
		return project{}, err
	}
	if exists && !empty && !f.force {
		return project{}, fmt.Errorf("%s exists and is not empty: choose another directory, or pass --force to write the project over it", dir)
	}
	src, err := s.source()
	if err != nil {
		return project{}, err
	}

	// Everything is built in a temporary directory beside dir, renamed at
	// the end; on any failure it is removed, with the parents we made.
	parent := filepath.Dir(abs)
	made, err := mkdirAllTracked(parent)
	if err != nil {
		return project{}, err
	}
	tmp, err := os.MkdirTemp(parent, ".cometgen-new-*")
	if err != nil {
		removeMade(made)
		return project{}, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			removeMade(made)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return project{}, err
	}

	fmt.Fprintf(s.stdout, "Creating %s (template %s, module %s) in %s\n", name, f.template, mod, abs)
	data := templates.Data{
		Name:            name,
		Module:          mod,
		Binary:          binary,
		CometgenVersion: src.Version,
		Replace:         src.Checkout,
		CometdVersion:   templates.CometdVersion,
	}
	if _, err := templates.Render(f.template, data, tmp); err != nil {
		return project{}, err
	}
	if err := generateIn(tmp, s.stdout); err != nil {
		return project{}, err
	}
	if err := s.tidy(ctx, goTool, tmp, src); err != nil {
		return project{}, err
	}
	if npm != "" {
		if err := s.npmInstall(ctx, npm, tmp); err != nil {
			return project{}, err
		}
	}
	if s.beforeRename != nil {
		if err := s.beforeRename(tmp); err != nil {
			return project{}, err
		}
	}
	if err := moveInto(tmp, abs, exists); err != nil {
		return project{}, err
	}
	s.nextSteps(dir, name, npm == "")
	return project{dir: abs, name: name, goTool: goTool}, nil
}

// inspectDir reports whether dir exists, and whether it is empty. A file
// that is not a directory is an error.
func inspectDir(dir string) (exists, empty bool, err error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.IsDir() {
		return true, false, fmt.Errorf("%s exists and is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, false, err
	}
	return true, len(entries) == 0, nil
}

// mkdirAllTracked makes dir and its missing parents, and returns the
// topmost directory it made ("" if dir existed).
func mkdirAllTracked(dir string) (string, error) {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return top, nil
}

func removeMade(top string) {
	if top != "" {
		os.RemoveAll(top)
	}
}

// generateIn runs cometgen generate on the project's spec.
func generateIn(dir string, stdout io.Writer) error {
	spec, err := schema.Load(filepath.Join(dir, "cometgen.yaml"))
	if err != nil {
		return fmt.Errorf("the template's spec: %w", err)
	}
	files, err := generator.Generate(spec, generator.Options{})
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	written, _, err := generator.Write(dir, files)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	fmt.Fprintf(stdout, "  generated %s\n", strings.Join(written, ", "))
	return nil
}

// tidy completes go.mod and go.sum. A project built against a checkout
// starts from the checkout's go.sum and resolves from the module cache
// alone (GOPROXY=off); if that fails it tries again with the network.
func (s *scaffolder) tidy(ctx context.Context, goTool, dir string, src cometgenSource) error {
	fmt.Fprintln(s.stdout, "  go mod tidy")
	env := append(os.Environ(), "GOWORK=off")
	if src.Checkout != "" {
		sum, err := checkoutGoSum(src.Checkout)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
			return err
		}
		out, err := goCommand(ctx, goTool, dir, append(env, "GOPROXY=off"), "mod", "tidy")
		if err == nil {
			return nil
		}
		fmt.Fprintf(s.stdout, "  go mod tidy offline failed, trying with the network:\n%s", indent(out))
	}
	out, err := goCommand(ctx, goTool, dir, env, "mod", "tidy")
	if err != nil {
		return fmt.Errorf("go mod tidy in the new project failed: %w\n%s", err, out)
	}
	return nil
}

func goCommand(ctx context.Context, goTool, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = env
	return cmd.CombinedOutput()
}

func indent(b []byte) string {
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "") + "\n"
}

// npmInstall installs the web page's npm packages, showing npm's progress.
func (s *scaffolder) npmInstall(ctx context.Context, npm, dir string) error {
	fmt.Fprintln(s.stdout, "  npm install (the CometD JavaScript client for the web page)")
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install failed (%w): nothing was created; fix npm (its output is above), or pass --no-install and run npm install in the project later", err)
	}
	return nil
}

// moveInto makes tmp the project at dir: one rename when dir does not
// exist; otherwise tmp's entries are moved into dir (an empty directory,
// perhaps the shell's working directory, which must stay the same
// directory), over dir's files of the same names (--force).
func moveInto(tmp, dir string, exists bool) error {
	if !exists {
		return os.Rename(tmp, dir)
	}
	err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil || rel == "." {
			return err
		}
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
				return nil // merge into the existing directory
			}
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
			if err := os.Rename(p, dst); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		return os.Rename(p, dst)
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(tmp)
}

// nextSteps tells what to run.
func (s *scaffolder) nextSteps(dir, name string, needInstall bool) {
	w := s.stdout
	fmt.Fprintf(w, "\nDone. Now run:\n\n  cd %s\n", dir)
	if needInstall {
		fmt.Fprintln(w, "  npm install      # the CometD JavaScript client for the web page")
	}
	fmt.Fprintln(w, "  go run .         # then open http://127.0.0.1:8080/ in two tabs")
	fmt.Fprintln(w, "  make test        # go tool cometgen generate --check, go vet, go test")
	fmt.Fprintf(w, "\nEdit cometgen.yaml, then make generate (go tool cometgen generate). README.md says more.\n")
}

// runProject builds the project and runs it until ctx ends. The project
// stays, whatever happens.
func (s *scaffolder) runProject(ctx context.Context, p project) error {
	dir, name := p.dir, p.name
	fmt.Fprintf(s.stdout, "\nBuilding and starting %s (Ctrl-C stops it)\n", name)
	bin := filepath.Join(dir, name)
	if out, err := goCommand(ctx, p.goTool, dir, append(os.Environ(), "GOWORK=off"), "build", "-o", bin, "."); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "--addr", s.flags.addr)
	cmd.Dir = dir
	cmd.Stdout = s.stdout
	cmd.Stderr = s.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil // interrupted: the project shut down
	}
	if err != nil {
		return fmt.Errorf("%s stopped (%w): its reason is above; if %s is taken, choose another address with --addr", name, err, s.flags.addr)
	}
	return nil
}
