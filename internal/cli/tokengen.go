package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/store"
)

func (a *app) tokenGenCmd() *cobra.Command {
	var tenant, description string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "token-gen",
		Short: "Create an API token (admin, or --tenant T) and print it once",
		Long: `Create an API token and print it alone on the first line of stdout. It is
shown only this once: tenement keeps only its hash.

Without --tenant the token is an admin token. With --tenant T it reads the
instances whose id is T (list, health, logs, storage) and may restart them;
nothing else.

The token is created through the daemon when one runs, and directly in the
store of the config's data dir when none does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
			defer cancel()
			nt, err := a.issueToken(ctx, tenant, description)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(nt)
			}
			a.printf("%s\n", nt.Token)
			scope := "an admin token"
			if nt.Tenant != "" {
				scope = "a token for tenant " + nt.Tenant
			}
			fmt.Fprintf(a.stderr, "Created %s, id %s. It is shown only this once; send it as \"Authorization: Bearer <token>\" or set TENEMENT_TOKEN.\n", scope, nt.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "scope the token to this tenant id (default: an admin token)")
	f.StringVar(&description, "description", "", "what the token is for (shown by ten token list)")
	f.BoolVar(&asJSON, "json", false, `print JSON: {"id", "token", "tenant", ...}`)
	return cmd
}

// issueToken creates a token in the store directly when no daemon holds
// it, else through the daemon.
func (a *app) issueToken(ctx context.Context, tenant, description string) (apitype.NewToken, error) {
	var nt apitype.NewToken
	done, err := a.withStore(func(st *store.Store) error {
		secret, tok, err := auth.Issue(st, tenant, description)
		auditOffline(st, "token-create", "token:"+tok.ID, scopeDetails(tenant), err)
		if err != nil {
			return err
		}
		nt = apitype.NewToken{TokenInfo: apitype.TokenInfo{ID: tok.ID, Tenant: tok.Tenant, Admin: tok.Tenant == "",
			Description: tok.Description, CreatedAt: tok.CreatedAt}, Token: secret}
		return nil
	})
	if done || err != nil {
		return nt, err
	}
	c, err := a.client()
	if err != nil {
		return nt, err
	}
	return c.CreateToken(ctx, tenant, description)
}

// withStore runs f on the store of the config's data dir when no daemon
// runs (the store is not locked) and reports whether it did. With an
// explicit server (--server, TENEMENT_SERVER), without a config file, or
// when the store is locked or not accessible, it does nothing: the caller
// goes through the daemon.
func (a *app) withStore(f func(st *store.Store) error) (bool, error) {
	if a.server != "" || os.Getenv("TENEMENT_SERVER") != "" {
		return false, nil
	}
	path := config.Find(a.configPath)
	if path == "" {
		return false, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return false, err
	}
	st, err := store.Open(cfg.Settings.DataDir, 200*time.Millisecond)
	if errors.Is(err, store.ErrLocked) || errors.Is(err, os.ErrPermission) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer st.Close()
	st.SetAuditLimit(cfg.Settings.AuditMaxEntries)
	return true, f(st)
}

// auditOffline records a change made without the daemon.
func auditOffline(st *store.Store, action, target, details string, err error) {
	result := "ok"
	if err != nil {
		result = "error: " + err.Error()
	}
	if details != "" {
		details += " "
	}
	_, _ = st.Audit(store.AuditEntry{Actor: "uid:" + strconv.Itoa(os.Getuid()), Action: action, Target: target,
		Details: details + "(daemon not running)", Result: result})
}

func scopeDetails(tenant string) string {
	if tenant == "" {
		return "admin"
	}
	return "tenant=" + tenant
}
