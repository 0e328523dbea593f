package cli

import (
	"fmt"
	"os"

	"github.com/cometgen/cometgen/internal/contractdoc"
	"github.com/cometgen/cometgen/schema"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newDocsCmd)
}

func newDocsCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "docs [spec]",
		Short: "Write one self-contained HTML page documenting the spec's channels",
		Long: `Docs writes the spec (` + defaultSpec + ` unless one is named) as one HTML page
that loads nothing else: every channel with its parameters, who may subscribe
and publish, its filters, lazy and local, each schema as a table of fields
and as JSON, and the examples, with a list of the channels linking to each.`,
		Example: `  cometgen docs -o contract.html
  cometgen docs api/cometgen.yaml > contract.html`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := defaultSpec
			if len(args) == 1 {
				path = args[0]
			}
			spec, err := schema.Load(path)
			if err != nil {
				return reportSpecErrors(cmd, "text", path, err)
			}
			page, err := contractdoc.Page(spec)
			if err != nil {
				return fmt.Errorf("docs: %w", err)
			}
			if out == "" {
				_, err := cmd.OutOrStdout().Write(page)
				return err
			}
			if err := os.WriteFile(out, page, 0o644); err != nil {
				return fmt.Errorf("docs: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the page to `FILE` instead of stdout")
	return cmd
}
