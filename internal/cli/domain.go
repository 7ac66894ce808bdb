package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/names"
)

// Custom domains are bound by admins through the daemon's API; a tenant
// token lists its own instances'.

func (a *app) domainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain",
		Short: "Bind customers' own domains to instances (admin), and list them",
		Long: `A custom domain is a customer's own name (notes.alice-corp.com) that reaches
one instance, over HTTP and, with [settings.tls] or Caddy in front, over HTTPS
with a certificate obtained on demand at its first handshake. The customer
points it at this server (a CNAME to its name, or A/AAAA records); see
docs/production.md.

A domain is bound to at most one instance. Names under settings.domain, IP
addresses and wildcards are refused; internationalized names are stored in
punycode. An instance has at most max_domains_per_instance domains.`,
	}
	cmd.AddCommand(a.domainAddCmd(), a.domainListCmd(), a.domainRemoveCmd())
	return cmd
}

func (a *app) domainAddCmd() *cobra.Command {
	var move, asJSON bool
	cmd := &cobra.Command{
		Use:   "add SERVICE:ID HOST",
		Short: "Bind a custom domain to an instance",
		Long: `Bind HOST to the instance: requests for it reach that instance from now on.
A HOST bound to another instance is refused, unless --move, which moves it
at once (no request meets a 404 meanwhile, and its certificate is kept).`,
		Args: exactArgs(2, "SERVICE:ID HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := instanceArg(args[0])
			if err != nil {
				return err
			}
			if _, err := names.Domain(args[1]); err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				d, err := c.AddDomain(ctx, n, args[1], move)
				return a.print(err, asJSON, d, func() error {
					if d.MovedFrom != "" {
						a.Printf("Moved %s from %s to %s\n", d.Domain, d.MovedFrom, d.Instance)
					} else {
						a.Printf("Bound %s to %s\n", d.Domain, d.Instance)
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&move, "move", false, "move HOST from the instance it is bound to")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) domainListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [SERVICE:ID]",
		Aliases: []string{"ls"},
		Short:   "List custom domains: all (admin; a tenant token: its own), or one instance's",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n names.Instance
			if len(args) == 1 {
				var err error
				if n, err = instanceArg(args[0]); err != nil {
					return err
				}
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.Domains(ctx, n)
				return a.print(err, asJSON, list, func() error {
					return a.table(len(list), "No custom domains (ten domain add binds one)", []string{"DOMAIN", "INSTANCE", "ADDED"},
						func(i int) []string {
							return []string{list[i].Domain, list[i].Instance, list[i].CreatedAt.Local().Format(time.DateTime)}
						})
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) domainRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "remove HOST",
		Aliases: []string{"rm"},
		Short:   "Unbind a custom domain: requests for it get 404, and its certificate is dropped",
		Args:    exactArgs(1, "HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := names.Domain(args[0])
			if err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.RemoveDomain(ctx, d); err != nil {
					return err
				}
				a.Printf("Removed %s\n", d)
				return nil
			})
		},
	}
}
