package cli

import (
	"github.com/cometgen/cometgen/internal/contractdoc"
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
			return renderSpec(cmd, args, out, "docs", contractdoc.Page)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the page to `FILE` instead of stdout")
	return cmd
}
