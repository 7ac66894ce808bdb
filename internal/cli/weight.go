package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/errdefs"
)

func (a *app) weightCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "weight SERVICE:ID WEIGHT",
		Short: "Set an instance's share of weighted traffic (0–100; 0 gets none)",
		Args:  exactArgs(2, "SERVICE:ID and a weight 0–100"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := instanceArg(args[0])
			if err != nil {
				return err
			}
			w, err := strconv.Atoi(args[1])
			if err != nil || w < 0 || w > 100 {
				return fmt.Errorf("%w: weight %q: want an integer 0–100", errdefs.ErrInvalid, args[1])
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				r, err := c.SetWeight(ctx, n, w)
				return a.print(err, asJSON, r, func() error {
					a.Printf("Set %s weight to %d\n", r.Instance, r.Weight)
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
