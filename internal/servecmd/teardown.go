package servecmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/internal/cli"
)

// teardownCmd is what the package's prerm runs when tenement is removed,
// after it stopped the daemon: a removed tenement must not leave tenants
// running that nothing supervises any more. An upgrade never runs it.
func teardownCmd(e *cli.Env) *cobra.Command {
	return &cobra.Command{
		Use:    "teardown",
		Hidden: true,
		Short:  "Stop every tenant unit of this daemon through systemd (run on package removal)",
		Long: `Stop every unit tenement@*.service / .socket that carries this daemon's
marker (its data dir, from the config), directly through systemd: the daemon
need not run. The instances stay known in the store; a new daemon wakes them
on the next request. The package's prerm runs this on removal, after
stopping tenement.service.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			marker := config.DefaultDataDir
			if path := config.Find(e.ConfigPath); path != "" {
				cfg, err := config.Load(path)
				if err != nil {
					fmt.Fprintf(e.Stderr, "ten: teardown: %v; using the default data dir %s as the marker\n", cli.OneLine(err.Error()), marker)
				} else {
					marker = cfg.Settings.DataDir
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return teardown(ctx, e, marker)
		},
	}
}

// unitStopper is what teardown asks systemd; *dbusapi.Conn has it.
type unitStopper interface {
	unitReader
	Stop(ctx context.Context, name string) error
	ResetFailed(ctx context.Context, name string) error
}

var _ unitStopper = (*dbusapi.Conn)(nil)

func teardown(ctx context.Context, e *cli.Env, marker string) error {
	sd, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		return err
	}
	defer sd.Close()
	return stopUnits(ctx, e, sd, marker)
}

// stopUnits stops every unit of the daemon whose marker is marker: the
// sockets first, so that no connection starts a service again, then the
// services. It goes on past a unit it cannot read or stop, and says which
// at the end.
func stopUnits(ctx context.Context, e *cli.Env, sd unitStopper, marker string) error {
	ours, err := ourUnits(ctx, sd, marker)
	errs := []error{err}
	var sockets, services []string
	for _, u := range ours {
		sockets = append(sockets, u.n.SocketUnit())
		services = append(services, u.n.Unit())
	}
	for _, u := range append(sockets, services...) {
		if st, err := sd.State(ctx, u); err != nil || !st.Loaded() {
			continue
		}
		if err := sd.Stop(ctx, u); err != nil {
			errs = append(errs, err)
			continue
		}
		_ = sd.ResetFailed(ctx, u)
		if strings.HasSuffix(u, ".service") {
			e.Printf("stopped %s\n", u)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// One line, every unit named: the package's prerm prints it.
		return fmt.Errorf("teardown: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
