package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenement/tenement/daemon"
)

func (a *app) serveCmd() *cobra.Command {
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
			o.ConfigPath = a.configPath
			return daemon.Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Port, "port", "p", 0, "HTTP listener port (overrides the port of settings.listen)")
	f.StringVarP(&o.Domain, "domain", "d", "", "root domain (overrides settings.domain)")
	return cmd
}
