package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/names"
)

func (a *app) routeCmd() *cobra.Command {
	var from, to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "route SERVICE --from VERSION --to VERSION",
		Short: "Move a service's weighted traffic from one version to another, at once",
		Long: `Set the weight of SERVICE:FROM to 0 and of SERVICE:TO to 100 in one step:
no request sees one change without the other. Both keep running; stop the
old version when you are done with it.`,
		Args: exactArgs(1, "a SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Validate both names before contacting anything.
			fromN, err := names.New(args[0], from)
			if err != nil {
				return err
			}
			toN, err := names.New(args[0], to)
			if err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				r, err := c.Route(ctx, args[0], fromN.ID, toN.ID)
				return a.print(err, asJSON, r, func() error {
					a.Printf("Routed traffic: %s -> %s\n  %s weight = %d\n  %s weight = %d\n",
						r.FromInstance, r.ToInstance, r.FromInstance, r.FromWeight, r.ToInstance, r.ToWeight)
					return nil
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the version that gives up its traffic (required)")
	f.StringVar(&to, "to", "", "the version that gets all traffic (required)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
