package servecmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/isolation"
)

// isolateCmd is the isolation wrapper (package isolation): the port guard
// every instance unit runs first, and what namespace and sandbox units run
// in front of the app. Units run it as ten-isolate, its own small binary
// (cmd/ten-isolate), and as `ten isolate` only where that is not installed
// (isolation.WrapperPath). It is not for people: units.Render writes its
// command line.
func isolateCmd(e *cli.Env) *cobra.Command {
	return &cobra.Command{
		Use:                isolation.Command + " MODE [flags] -- APP [ARGS...]",
		Short:              "run an app at its isolation level (used by instance units)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The exit status is the app's, so it cannot be an error.
			os.Exit(isolation.Main(args, e.Stderr))
			return nil
		},
	}
}
