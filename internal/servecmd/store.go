package servecmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/store"
)

func storeCmd(e *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check the daemon's store, or rebuild a corrupt one from systemd's units",
		Long: `The store ({data_dir}/tenement.db) keeps the known instances, their ports,
weights and failed marks, the API tokens' hashes and the audit log. Tenants
do not depend on it: their units belong to systemd and keep running while
the daemon is down.

When the store is corrupt, the daemon refuses to start and says so in one
line, with exit status 78 (tenement.service does not restart it on that
status); ten store check exits 78 too. Then stop the daemon and its socket
(systemctl stop tenement.socket tenement.service), run ten store recover,
and start them again.`,
	}
	cmd.AddCommand(storeCheckCmd(e), storeRecoverCmd(e))
	return cmd
}

func storeCheckCmd(e *cli.Env) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check every page and record of the store without changing it (daemon stopped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := storeConfig(e)
			if err != nil {
				return err
			}
			path := filepath.Join(cfg.Settings.DataDir, store.FileName)
			if err := storeState(cfg, store.Verify(cfg.Settings.DataDir), false); err != nil {
				return err
			}
			e.Printf("store %s is healthy\n", path)
			return nil
		},
	}
}

// storeConfig loads the config whose data dir holds the store.
func storeConfig(e *cli.Env) (*config.Config, error) {
	path := config.Find(e.ConfigPath)
	if path == "" {
		return nil, fmt.Errorf("store: no config file: pass --config FILE or set TENEMENT_CONFIG (the store is in its data_dir)")
	}
	return config.Load(path)
}

// storeState turns the result of store.Verify into what a store command
// tells the user; recovering accepts a corrupt or a missing store.
func storeState(cfg *config.Config, err error, recovering bool) error {
	path := filepath.Join(cfg.Settings.DataDir, store.FileName)
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("the daemon holds the store %s: stop it first (systemctl stop tenement.socket tenement.service)", path)
	case errors.Is(err, store.ErrCorrupt):
		if recovering {
			return nil
		}
		return corruptStatus(err, cfg.Path)
	case errors.Is(err, fs.ErrNotExist):
		if recovering {
			return nil
		}
		return fmt.Errorf("no store at %s (the daemon creates it)", path)
	}
	return err
}

// recoverCommand is the command that recovers the store of the config at
// path.
func recoverCommand(path string) string {
	if path == "" || path == config.DefaultPath {
		return "ten store recover"
	}
	return "ten --config " + path + " store recover"
}

// recoverReport is what ten store recover did.
type recoverReport struct {
	Store     string           `json:"store"`
	Aside     string           `json:"old_copy,omitempty"`
	Corrupt   bool             `json:"corrupt"` // the old store was corrupt (not --force)
	Recovered []recoveredUnit  `json:"recovered"`
	Skipped   []string         `json:"skipped"`
	Lost      []string         `json:"lost"`
	records   []store.Instance `json:"-"`
}

type recoveredUnit struct {
	Instance string `json:"instance"`
	Port     int    `json:"port"`
	Unit     string `json:"unit"`
	State    string `json:"state"`
}

// lost is what a rebuilt store cannot know: only the units carry anything.
var lost = []string{
	"API tokens: create new ones (ten token create)",
	"custom domains: bind them again (ten domain add; in a fleet they come back from etcd)",
	"routing weights: every recovered instance has weight 0 (ten weight, ten route)",
	"failed marks and restart counts",
	"the audit log (the old file keeps it)",
	"instances that were asleep: they had no unit (ten spawn them again; their data dirs are kept)",
}

func storeRecoverCmd(e *cli.Env) *cobra.Command {
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Rebuild a corrupt store from this daemon's running units (daemon stopped)",
		Long: `Rebuild the store from systemd: move the corrupt file aside as
tenement.db.corrupt-<UTC time>, create a new store, and record every
tenement@*.service unit that carries this daemon's marker
(TENEMENT_DAEMON=<data_dir>) as an instance, with its port (from PORT=) and
weight 0. It prints what it recovered and what is lost (tokens, custom
domains, weights, failed marks, the audit log, asleep instances, which had
no unit).

It refuses while the daemon holds the store, and does nothing to a healthy
store without --force. Start the daemon afterwards: it re-adopts the
running instances without restarting them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := storeConfig(e)
			if err != nil {
				return err
			}
			verr := store.Verify(cfg.Settings.DataDir)
			if verr == nil && !force {
				return fmt.Errorf("store %s is healthy: nothing to recover (--force rebuilds it anyway, losing tokens, weights and the audit log)",
					filepath.Join(cfg.Settings.DataDir, store.FileName))
			}
			if err := storeState(cfg, verr, true); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			r, err := recoverStore(ctx, cfg)
			if err != nil {
				return err
			}
			r.Corrupt = errors.Is(verr, store.ErrCorrupt)
			if asJSON {
				return e.PrintJSON(r)
			}
			return printRecovery(e, r)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "rebuild even a healthy store")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func recoverStore(ctx context.Context, cfg *config.Config) (*recoverReport, error) {
	sd, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		return nil, err
	}
	defer sd.Close()
	r, err := scanUnits(ctx, sd, cfg, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	r.Aside, err = store.Rebuild(cfg.Settings.DataDir, r.records, time.Now())
	if err != nil {
		return nil, err
	}
	if st, err := store.Open(cfg.Settings.DataDir, time.Second); err == nil {
		// The new store's first entry: the daemon was not there to record it.
		_, _ = st.Audit(store.AuditEntry{Actor: "uid:" + strconv.Itoa(os.Getuid()), Action: "store-recover", Target: r.Store,
			Details: fmt.Sprintf("recovered=%d (daemon not running)", len(r.records)), Result: "ok"})
		st.Close()
	}
	return r, nil
}

func printRecovery(e *cli.Env, r *recoverReport) error {
	if r.Aside != "" {
		old := "old"
		if r.Corrupt {
			old = "corrupt"
		}
		e.Printf("Moved the %s store aside: %s\n", old, r.Aside)
	}
	e.Printf("Created a new store: %s\n", r.Store)
	e.Printf("Recovered %d instances from their systemd units, with weight 0:\n", len(r.Recovered))
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	for _, u := range r.Recovered {
		fmt.Fprintf(tw, "  %s\tport %d\t%s\t%s\n", u.Instance, u.Port, u.Unit, u.State)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Skipped {
		e.Printf("Skipped %s\n", s)
	}
	e.Printf("Lost: %s.\n", strings.Join(r.Lost, "; "))
	e.Printf("Now start the daemon (systemctl start tenement.socket tenement.service): it re-adopts the running instances.\n")
	return nil
}
