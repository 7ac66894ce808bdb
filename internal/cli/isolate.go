package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/isolation"
)

// isolateCmd is the wrapper that instance units of the namespace and
// sandbox levels run in front of the app (package isolation). It is not
// for people: units.Render writes its command line.
func (a *app) isolateCmd() *cobra.Command {
	return &cobra.Command{
		Use:                isolation.Command + " MODE [flags] -- APP [ARGS...]",
		Short:              "run an app at its isolation level (used by instance units)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The exit status is the app's, so it cannot be an error.
			os.Exit(isolation.Main(args, a.stderr))
			return nil
		},
	}
}
