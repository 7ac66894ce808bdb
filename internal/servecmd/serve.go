package servecmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/daemon"
	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/store"
)

func serveCmd(e *cli.Env) *cobra.Command {
	var o daemon.Options
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: proxy, management API and supervisor",
		Long: `Run the tenement daemon. It loads the config, re-adopts the tenants it
started before (they keep running across daemon restarts), starts the
[instances] of the config, and serves the HTTP listener and the local API
socket, taking both from systemd when socket-activated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.ConfigPath = e.ConfigPath
			err := daemon.Run(cmd.Context(), o)
			if errors.Is(err, store.ErrCorrupt) {
				// One line: the file, why, and what to do.
				return fmt.Errorf("%w; tenants keep running; run: %s", err, recoverCommand(config.Find(e.ConfigPath)))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Port, "port", "p", 0, "HTTP listener port (overrides the port of settings.listen)")
	f.StringVarP(&o.Domain, "domain", "d", "", "root domain (overrides settings.domain)")
	return cmd
}
