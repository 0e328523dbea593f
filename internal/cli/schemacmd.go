package cli

import (
	"fmt"
	"os"

	"github.com/cometgen/cometgen/schema"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newSchemaCmd)
}

func newSchemaCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the spec language",
		Long: `Schema prints the JSON Schema (draft 2020-12) of the cometgen spec language,
the one cometgen itself checks every spec against. Editors use it to complete
and check a spec as it is typed: save it next to the spec with --out and name
it on the spec's first line,

  # yaml-language-server: $schema=cometgen.schema.json

or point at the published copy, ` + schema.JSONSchemaID + `.`,
		Example: `  cometgen schema
  cometgen schema --out cometgen.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				_, err := cmd.OutOrStdout().Write(schema.JSONSchema())
				return err
			}
			if err := os.WriteFile(out, schema.JSONSchema(), 0o644); err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the JSON Schema to `FILE` instead of stdout")
	return cmd
}
