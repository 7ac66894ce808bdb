package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
)

// Tokens are made, listed and revoked by the daemon, through its API: the
// local socket is admin, so root and the tenement group need no token to
// make the first one.

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (admin)",
	}
	cmd.AddCommand(a.tokenCreateCmd("create"), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

// tokenGenCmd is `ten token create` under the original's name.
func (a *app) tokenGenCmd() *cobra.Command {
	cmd := a.tokenCreateCmd("token-gen")
	cmd.Hidden = true
	return cmd
}

func (a *app) tokenCreateCmd(use string) *cobra.Command {
	var tenant, description string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: "Create an API token (admin, or --tenant T) and print it once",
		Long: `Create an API token and print it alone on the first line of stdout. It is
shown only this once: tenement keeps only its hash. ten token-gen is the
same command, under the original's name.

Without --tenant the token is an admin token. With --tenant T it reads the
instances whose id is T (list, health, logs, storage, metrics), may restart
them and keep them awake; nothing else.

The daemon creates the token (POST /api/tokens): it must be running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				nt, err := c.CreateToken(ctx, tenant, description)
				return a.print(err, asJSON, nt, func() error {
					a.Printf("%s\n", nt.Token)
					scope := "an admin token"
					if nt.Tenant != "" {
						scope = "a token for tenant " + nt.Tenant
					}
					fmt.Fprintf(a.Stderr, "Created %s, id %s. It is shown only this once; send it as \"Authorization: Bearer <token>\" or set TENEMENT_TOKEN.\n", scope, nt.ID)
					return nil
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "scope the token to this tenant id (default: an admin token)")
	f.StringVar(&description, "description", "", "what the token is for (shown by ten token list)")
	f.BoolVar(&asJSON, "json", false, `print JSON: {"id", "token", "tenant", ...}`)
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
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.Tokens(ctx)
				return a.print(err, asJSON, list, func() error {
					return a.table(len(list), "No tokens (ten token create makes one)", []string{"ID", "SCOPE", "CREATED", "DESCRIPTION"},
						func(i int) []string {
							t, scope := list[i], "admin"
							if t.Tenant != "" {
								scope = "tenant:" + t.Tenant
							}
							return []string{t.ID, scope, t.CreatedAt.Local().Format(time.DateTime), t.Description}
						})
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token by its id (see ten token list); it stops working at once",
		Args:  exactArgs(1, "a token id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.RevokeToken(ctx, args[0]); err != nil {
					return err
				}
				a.Printf("Revoked token %s\n", args[0])
				return nil
			})
		},
	}
}
