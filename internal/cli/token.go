package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/store"
)

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "List and revoke API tokens (ten token-gen creates them)",
	}
	cmd.AddCommand(a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List API tokens: id, scope, description, creation time (never the secrets)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
			defer cancel()
			list, err := a.listTokens(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(list)
			}
			if len(list) == 0 {
				a.printf("No tokens (ten token-gen creates one)\n")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCOPE\tCREATED\tDESCRIPTION")
			for _, t := range list {
				scope := "admin"
				if t.Tenant != "" {
					scope = "tenant:" + t.Tenant
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, scope, t.CreatedAt.Local().Format(time.DateTime), t.Description)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) listTokens(ctx context.Context) ([]apitype.TokenInfo, error) {
	var out []apitype.TokenInfo
	done, err := a.withStore(func(st *store.Store) error {
		list, err := st.Tokens()
		for _, t := range list {
			out = append(out, apitype.TokenInfo{ID: t.ID, Tenant: t.Tenant, Admin: t.Tenant == "", Description: t.Description, CreatedAt: t.CreatedAt})
		}
		return err
	})
	if done || err != nil {
		if out == nil {
			out = []apitype.TokenInfo{}
		}
		return out, err
	}
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	return c.Tokens(ctx)
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token by its id (see ten token list); it stops working at once",
		Args:  exactArgs(1, "a token id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
			defer cancel()
			id := args[0]
			done, err := a.withStore(func(st *store.Store) error {
				tok, err := st.RevokeToken(id)
				auditOffline(st, "token-revoke", "token:"+id, scopeDetailsOK(tok, err), err)
				return err
			})
			if !done && err == nil {
				var c *client.Client
				if c, err = a.client(); err == nil {
					err = c.RevokeToken(ctx, id)
				}
			}
			if err != nil {
				return err
			}
			a.printf("Revoked token %s\n", id)
			return nil
		},
	}
}

func scopeDetailsOK(tok store.Token, err error) string {
	if err != nil {
		return ""
	}
	return scopeDetails(tok.Tenant)
}
