package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/names"
)

func (a *app) keepAwakeCmd() *cobra.Command {
	var d time.Duration
	var asJSON bool
	cmd := a.instanceCmd("keep-awake", "Keep an instance from going to sleep for a while (--for 0 ends it)", func(ctx context.Context, c *client.Client, n names.Instance) error {
		r, err := c.KeepAwake(ctx, n, d)
		return a.print(err, asJSON, r, func() error {
			if r.Until.IsZero() {
				a.Printf("%s may sleep again after its idle_timeout\n", r.Instance)
			} else {
				a.Printf("%s stays awake until %s\n", r.Instance, r.Until.Local().Format(time.RFC1123))
			}
			return nil
		})
	})
	cmd.Long = `Keep an instance from going to sleep for a while: its idle_timeout does not
count until then (at most 7 days). It does not wake an asleep instance. The
instance's own tenant token may do this (an app with background work keeps
itself awake: POST /api/instances/{svc:id}/keep-awake). --for 0 ends it.
ten ps shows until when.`
	cmd.Flags().DurationVar(&d, "for", time.Hour, "how long, e.g. 30m, 2h")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
