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
			return corruptStatus(daemon.Run(cmd.Context(), o), config.Find(e.ConfigPath))
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Port, "port", "p", 0, "HTTP listener port (overrides the port of settings.listen)")
	f.StringVarP(&o.Domain, "domain", "d", "", "root domain (overrides settings.domain)")
	return cmd
}

// ExitStoreCorrupt is ten's exit status when the store is corrupt: 78,
// EX_CONFIG of sysexits.h. The daemon cannot run until an operator acts
// (ten store recover), so tenement.service names this status in
// RestartPreventExitStatus=: systemd then does not restart it every
// RestartSec, forever. Every other error is exit status 1.
const ExitStoreCorrupt = 78

// corruptStatus gives an error of a corrupt store (the store of the
// config at path) its one line, the file, why and what to do, and
// ExitStoreCorrupt; other errors it returns as they are.
func corruptStatus(err error, path string) error {
	if !errors.Is(err, store.ErrCorrupt) {
		return err
	}
	return exitError{fmt.Errorf("%w; tenants keep running; run: %s", err, recoverCommand(path)), ExitStoreCorrupt}
}

// exitError is an error with ten's exit status for it (cli.Main).
type exitError struct {
	error
	status int
}

func (e exitError) Unwrap() error   { return e.error }
func (e exitError) ExitStatus() int { return e.status }
