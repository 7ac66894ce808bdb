package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// teardownCmd is what the package's prerm runs when tenement is removed,
// after it stopped the daemon: a removed tenement must not leave tenants
// running that nothing supervises any more. An upgrade never runs it.
func (a *app) teardownCmd() *cobra.Command {
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
			if path := config.Find(a.configPath); path != "" {
				cfg, err := config.Load(path)
				if err != nil {
					fmt.Fprintf(a.stderr, "ten: teardown: %v; using the default data dir %s as the marker\n", oneLine(err.Error()), marker)
				} else {
					marker = cfg.Settings.DataDir
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return a.teardown(ctx, marker)
		},
	}
}

func (a *app) teardown(ctx context.Context, marker string) error {
	sd, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		return err
	}
	defer sd.Close()
	list, err := sd.List(ctx, names.UnitPattern)
	if err != nil {
		return err
	}
	var sockets, services []string
	seen := map[names.Instance]bool{}
	for _, u := range list {
		n, err := names.FromUnit(u.Name)
		if err != nil || seen[n] {
			continue
		}
		seen[n] = true
		st, err := sd.State(ctx, n.Unit())
		if err != nil || !st.Loaded() || !units.HasMarker(st.Environment, marker) {
			continue
		}
		sockets = append(sockets, n.SocketUnit())
		services = append(services, n.Unit())
	}
	sort.Strings(services)
	var errs []string
	// Sockets first, so that no connection starts a service again.
	for _, u := range append(sockets, services...) {
		if st, err := sd.State(ctx, u); err != nil || !st.Loaded() {
			continue
		}
		if err := sd.Stop(ctx, u); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		_ = sd.ResetFailed(ctx, u)
		if strings.HasSuffix(u, ".service") {
			a.printf("stopped %s\n", u)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("teardown: %s", strings.Join(errs, "; "))
	}
	return nil
}
