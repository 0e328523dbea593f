package cli

import (
	"fmt"
	"path/filepath"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/schema"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newGenerateCmd) }

type generateFlags struct {
	check     bool
	goOut     string
	goPackage string
}

func newGenerateCmd() *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate [spec]",
		Short: "Generate typed Go code from a spec",
		Long: `Generate loads the spec (default cometgen.yaml), checks it, and writes the
generated Go files into go.out (relative to the spec) as package go.package.
A spec with problems is never generated: its problems are printed.

Only files carrying cometgen's "Code generated … DO NOT EDIT." header are
replaced; a hand-written file in the way stops generation. Generated files
that the spec no longer produces are removed.

With --check nothing is written: every stale, missing or orphaned file is
named and the exit status is 1, for CI.`,
		Example: `  cometgen generate
  cometgen generate --check api/cometgen.yaml`,
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
	return cmd
}

func runGenerate(cmd *cobra.Command, f generateFlags, path string) error {
	spec, err := schema.Load(path)
	if err != nil {
		return reportSpecErrors(cmd, "text", path, err)
	}
	files, err := generator.Generate(spec, generator.Options{GoOut: f.goOut, GoPackage: f.goPackage})
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
