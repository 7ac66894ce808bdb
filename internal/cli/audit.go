package cli

import (
	"context"
	"fmt"
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
					return a.table(len(log), "The audit log is empty", []string{"TIME", "ACTOR", "ACTION", "TARGET", "RESULT", "DETAILS"},
						func(i int) []string {
							e := log[i]
							return []string{e.Time.Local().Format(time.DateTime), e.Actor, e.Action, e.Target, OneLine(e.Result), e.Details}
						})
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVarP(&limit, "lines", "n", 50, "show the newest N entries (0: all)")
	return cmd
}
