// Package cli implements the cometgen command line. Main runs it in-process,
// so tests drive the real CLI without a subprocess.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the cometgen command with args and returns the process exit code.
// All output goes to stdout and stderr; it never calls os.Exit.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintf(stderr, "cometgen: %v\n", err)
		return 1
	}
	return 0
}

// exitError ends the command with a code after the command has already
// reported the problem itself.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "cometgen",
		Short:         "Typed Bayeux (CometD) channels for Go and TypeScript",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	return root
}

// extraCommands lets files of this package register further sub-commands
// from an init function, so each command lives in its own file.
var extraCommands []func() *cobra.Command
