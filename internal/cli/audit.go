package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
)

func (a *app) auditCmd() *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log: who changed what, when, and how it ended (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return fmt.Errorf("audit: -n %d: want 0 (all) or more", limit)
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				log, err := c.Audit(ctx, limit)
				return a.print(err, asJSON, log, func() error {
					if len(log) == 0 {
						a.Printf("The audit log is empty\n")
						return nil
					}
					tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tRESULT\tDETAILS")
					for _, e := range log {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Actor, e.Action,
							e.Target, OneLine(e.Result), e.Details)
					}
					return tw.Flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVarP(&limit, "lines", "n", 50, "show the newest N entries (0: all)")
	return cmd
}
