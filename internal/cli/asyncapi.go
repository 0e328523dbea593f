package cli

import (
	"fmt"
	"os"

	"github.com/cometgen/cometgen/internal/asyncapi"
	"github.com/cometgen/cometgen/schema"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newAsyncAPICmd)
}

func newAsyncAPICmd() *cobra.Command {
	var out, version string
	cmd := &cobra.Command{
		Use:   "asyncapi [spec]",
		Short: "Write the spec as an AsyncAPI 3.0 document",
		Long: `Asyncapi writes the spec (` + defaultSpec + ` unless one is named) as an AsyncAPI
3.0 document (JSON): every channel with its address and parameters, its
messages with their JSON Schemas, the operations its rules allow (the server
receives what clients publish and sends what it delivers; a service channel
is a receive operation with a reply), the handshake's JWT as a security
scheme, and the Bayeux specifics (wildcards, lazy, local, filters, the rules'
entries, parameter patterns) under x-bayeux keys.`,
		Example: `  cometgen asyncapi > asyncapi.json
  cometgen asyncapi api/cometgen.yaml -o asyncapi.json --version 2.1.0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return renderSpec(cmd, args, out, "asyncapi", func(spec *schema.Spec) ([]byte, error) {
				return asyncapi.Document(spec, version)
			})
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the document to `FILE` instead of stdout")
	cmd.Flags().StringVar(&version, "version", "1.0.0", "the API `version` the document's info states")
	return cmd
}

// renderSpec loads the spec named by args (defaultSpec when none), renders
// it and writes the result to the file out, or stdout when out is "".
// what names the command in errors.
func renderSpec(cmd *cobra.Command, args []string, out, what string, render func(*schema.Spec) ([]byte, error)) error {
	path := defaultSpec
	if len(args) == 1 {
		path = args[0]
	}
	spec, err := schema.Load(path)
	if err != nil {
		return reportSpecErrors(cmd, "text", path, err)
	}
	b, err := render(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if out == "" {
		_, err := cmd.OutOrStdout().Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
