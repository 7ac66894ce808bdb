package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
)

func (a *app) deployCmd() *cobra.Command {
	var weight int
	var timeout string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deploy SERVICE:VERSION",
		Short: "Start a new version, wait until it is healthy, then give it traffic",
		Long: `Start SERVICE:VERSION (an instance whose id is the version), wait until a
health check passes, then set its weight. When it does not get healthy
within --timeout, the deploy fails with the reason, and the new version is
given weight 0 and stopped. ten route then moves all traffic to it.`,
		Args: exactArgs(1, "SERVICE:VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := instanceArg(args[0])
			if err != nil {
				return err
			}
			if weight < 0 || weight > 100 {
				return fmt.Errorf("%w: --weight %d: want 0–100", errdefs.ErrInvalid, weight)
			}
			d, err := parseTimeout(timeout)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), d+time.Minute)
			defer cancel()
			r, err := c.Deploy(ctx, n, weight, d)
			return a.print(err, asJSON, r, func() error {
				a.Printf("Deployed %s (%s)\nWeight: %d\nStatus: %s\n", r.Instance, r.Unit, r.Weight, r.Status)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.IntVarP(&weight, "weight", "w", apitype.DefaultDeployWeight, "weight once healthy, 0–100")
	f.StringVar(&timeout, "timeout", apitype.DefaultDeployTimeout.String(), "how long to wait for health (seconds or a duration: 30, 2m)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// parseTimeout reads a whole number of seconds or a Go duration.
func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, fmt.Errorf("%w: --timeout %q: want seconds (30) or a duration (2m)", errdefs.ErrInvalid, s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < time.Second || d > apitype.MaxDeployTimeout {
		return 0, fmt.Errorf("%w: --timeout %s: want 1s–%s", errdefs.ErrInvalid, d, apitype.MaxDeployTimeout)
	}
	return d, nil
}
