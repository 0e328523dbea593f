package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cometgen/cometgen/schema"
	"github.com/cometgen/cometgen/schema/breaking"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newBreakingCmd)
}

func newBreakingCmd() *cobra.Command {
	var against, format, failOn string
	cmd := &cobra.Command{
		Use:   "breaking --against REF [spec]",
		Short: "Report the changes of a spec that break clients built against an older one",
		Long: `Breaking compares the spec (` + defaultSpec + ` unless one is named), and every
schema file it references, with an older version and prints each change that
breaks clients built against the older one as "file:line:col: RULE_ID:
message": in the new spec, or in the old one for what was removed.

REF, the older version, is a spec file, a directory holding a file named like
the spec, or a git revision of the repository the spec is in: HEAD~1, main,
v1.2.0, or as buf writes it .git#branch=main, .git#tag=v1.2.0, .git#ref=HEAD~1.

The rules know direction: what clients publish (and service requests) must
not become stricter, what the server delivers (and service replies) must not
become looser; a broadcast channel clients publish on must do neither. Every
rule, its level and an example are in docs/breaking.md. A channel accepts a
deliberate break with x-accept-breaking: [RULE_ID, ...] (at the top level of
the spec: for every channel, and removed ones).

The exit status is 1 when a change at the --fail-on level or above is found,
2 when the comparison cannot be made (no such revision, a spec that does not
load), 0 otherwise.`,
		Example: `  cometgen breaking --against .git#branch=main
  cometgen breaking --against HEAD~1 api/cometgen.yaml
  cometgen breaking --against old/cometgen.yaml --format json
  cometgen breaking --against .git#branch=main --format github --fail-on warning`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "json", "github":
			default:
				return usageError(cmd, fmt.Errorf("breaking: --format %q: want text, json or github", format))
			}
			var fail breaking.Level
			switch failOn {
			case "error":
				fail = breaking.Error
			case "warning":
				fail = breaking.Warning
			default:
				return usageError(cmd, fmt.Errorf("breaking: --fail-on %q: want error or warning", failOn))
			}
			if against == "" {
				return usageError(cmd, errors.New("breaking: --against is required (a file, a directory or a git revision)"))
			}
			path := defaultSpec
			if len(args) == 1 {
				path = args[0]
			}
			spec, err := schema.Load(path)
			if err != nil {
				return breakingLoadError(cmd, err)
			}
			old, err := breaking.LoadOld(against, path)
			if err != nil {
				return breakingLoadError(cmd, err)
			}
			defer old.Close()
			findings, err := breaking.Compare(old.Spec, spec)
			if err != nil {
				return breakingLoadError(cmd, fmt.Errorf("%s: %w", path, err))
			}
			var shown []breaking.Finding
			failed := false
			for _, f := range findings {
				if f.Accepted {
					continue
				}
				f.Pos = old.Fix(f.Pos)
				shown = append(shown, f)
				if f.Level == breaking.Error || fail == breaking.Warning {
					failed = true
				}
			}
			if err := writeFindings(cmd.OutOrStdout(), format, shown); err != nil {
				return err
			}
			if failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&against, "against", "", "the older version: a spec `REF`erence (file, directory or git revision)")
	cmd.Flags().StringVar(&format, "format", "text", "output `format`: text, json or github (workflow annotations)")
	cmd.Flags().StringVar(&failOn, "fail-on", "error", "exit 1 on changes of this `level` or above: error or warning")
	return cmd
}

// usageError reports a misuse of the command: exit status 2, like a
// comparison that cannot be made.
func usageError(cmd *cobra.Command, err error) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "cometgen: %v\n", err)
	return exitError{code: 2}
}

// breakingLoadError prints why a spec could not be compared and ends the
// command with exit status 2.
func breakingLoadError(cmd *cobra.Command, err error) error {
	w := cmd.ErrOrStderr()
	var list schema.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
	} else {
		fmt.Fprintf(w, "cometgen: breaking: %v\n", err)
	}
	return exitError{code: 2}
}

// finding is a breaking change as --format json prints it.
type finding struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	Channel string `json:"channel,omitempty"`
	// Old is set when the position is in the old spec (what was removed).
	Old     bool   `json:"old,omitempty"`
	Message string `json:"message"`
}

func writeFindings(w io.Writer, format string, fs []breaking.Finding) error {
	switch format {
	case "json":
		out := make([]finding, len(fs))
		for i, f := range fs {
			out[i] = finding{File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Rule: f.Rule,
				Level: string(f.Level), Channel: f.Channel, Old: f.Old, Message: f.Message}
		}
		return writeJSON(w, out)
	case "github":
		for _, f := range fs {
			// Workflow commands: the message's %, CR and LF are escaped,
			// and the properties' , and : too.
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", f.Level,
				ghProp(f.Pos.File), f.Pos.Line, f.Pos.Col, f.Rule, ghData(f.Message))
		}
	default:
		for _, f := range fs {
			fmt.Fprintln(w, f.String())
		}
	}
	return nil
}

func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
