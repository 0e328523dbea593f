package cli

import (
	"fmt"
	"path/filepath"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
	"github.com/cometgen/cometgen/schema/breaking"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newGenerateCmd) }

type generateFlags struct {
	check     bool
	goOut     string
	goPackage string
	tsOut     string
	js        bool
	validate  bool
	compat    []string
	goClient  bool
}

func newGenerateCmd() *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate [spec]",
		Short: "Generate typed Go code and a typed TypeScript client from a spec",
		Long: `Generate loads the spec (default cometgen.yaml), checks it, and writes the
generated Go files into go.out (relative to the spec) as package go.package
(with the typed Go client, client.go, when go.client is true or with
--go-client), and the typed client into ts.out (default client/channels.ts): TypeScript for
a .ts file, an ES module and its .d.ts for a .js file (or with --js).
A spec with problems is never generated: its problems are printed.

Only files carrying cometgen's "Code generated … DO NOT EDIT." header are
replaced; a hand-written file in the way stops generation. Generated files
that the spec no longer produces are removed.

With --check nothing is written: every stale, missing or orphaned file is
named and the exit status is 1, for CI.

The generated clients send a print of the spec in their handshakes, and
the generated server tells a client built against another version when a
channel it uses has changed in a way that breaks it. --compat-with names an
older version (a file, a directory or a git revision, as breaking --against
takes; repeatable) whose compatible changes the server then lets pass:
without it every change is reported as breaking. Name fixed revisions (a
release tag): the generated code depends on them, and --check needs the
same flags.`,
		Example: `  cometgen generate
  cometgen generate --check api/cometgen.yaml
  cometgen generate --compat-with v1.2.0 --compat-with v1.3.0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "cometgen.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			return runGenerate(cmd, f, path)
		},
	}
	cmd.Flags().BoolVar(&f.check, "check", false, "write nothing; report stale, missing and orphaned files and exit 1 if any")
	cmd.Flags().StringVar(&f.goOut, "go-out", "", "output directory of the Go code, relative to the spec (default: the spec's go.out)")
	cmd.Flags().StringVar(&f.goPackage, "go-package", "", "package name of the Go code (default: the spec's go.package)")
	cmd.Flags().BoolVar(&f.goClient, "go-client", false, "also write the typed Go client, client.go (default: the spec's go.client)")
	cmd.Flags().StringVar(&f.tsOut, "ts-out", "", "output file of the typed client, relative to the spec, .ts or .js (default: the spec's ts.out, else "+generator.DefaultTSOut+")")
	cmd.Flags().BoolVar(&f.js, "js", false, "write the client as an ES module (.js) with a .d.ts, for projects without a TypeScript build")
	cmd.Flags().BoolVar(&f.validate, "validate", false, "make the client validate messages against their schemas (npm ajv and ajv-formats; default: the spec's ts.validate)")
	cmd.Flags().StringArrayVar(&f.compat, "compat-with", nil, "an older version of the spec (file, directory or git revision) whose clients the server does not tell of compatible changes; repeatable")
	return cmd
}

func runGenerate(cmd *cobra.Command, f generateFlags, path string) error {
	spec, err := schema.Load(path)
	if err != nil {
		return reportSpecErrors(cmd, "text", path, err)
	}
	if ext := filepath.Ext(f.tsOut); f.tsOut != "" && ext != ".ts" && ext != ".js" {
		return fmt.Errorf("--ts-out %s: the client's file ends in .ts (TypeScript) or .js (JavaScript and a .d.ts)", f.tsOut)
	}
	opts := generator.Options{GoOut: f.goOut, GoPackage: f.goPackage, TSOut: f.tsOut, JS: f.js, Validate: f.validate, GoClient: f.goClient}
	for _, ref := range f.compat {
		old, err := breaking.LoadOld(ref, path)
		if err != nil {
			return fmt.Errorf("--compat-with %s: %w", ref, err)
		}
		opts.CompatWith = append(opts.CompatWith, old.Spec)
		_ = old.Close()
	}
	files, err := generator.Generate(spec, opts)
	if err != nil {
		return err
	}
	root := filepath.Dir(path)
	if f.check {
		problems, err := generator.Check(root, files)
		if err != nil {
			return err
		}
		if len(problems) == 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s up to date\n", plural(len(files), "generated file"))
			return nil
		}
		for _, p := range problems {
			fmt.Fprintln(cmd.ErrOrStderr(), p)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "cometgen: generated code is out of date; run cometgen generate %s\n", path)
		return exitError{code: 1}
	}
	written, removed, err := generator.Write(root, files)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, p := range written {
		fmt.Fprintf(out, "wrote %s\n", p)
	}
	for _, p := range removed {
		fmt.Fprintf(out, "removed %s\n", p)
	}
	if len(written)+len(removed) == 0 {
		fmt.Fprintf(out, "ok: %s up to date\n", plural(len(files), "generated file"))
	}
	return nil
}
