package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/names"
)

// instanceCmd builds a command that takes one service:id argument, parses it
// before contacting anything, and runs f with a client.
func (a *app) instanceCmd(use, short string, f func(ctx context.Context, c *client.Client, n names.Instance) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " SERVICE:ID",
		Short: short,
		Args:  exactArgs(1, "one instance, SERVICE:ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := instanceArg(args[0])
			if err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error { return f(ctx, c, n) })
		},
	}
}

func (a *app) spawnCmd() *cobra.Command {
	var asJSON bool
	var host string
	cmd := a.instanceCmd("spawn", "Start an instance (creating it) and wait until it is ready", func(ctx context.Context, c *client.Client, n names.Instance) error {
		r, err := c.SpawnOn(ctx, n, host)
		return a.print(err, asJSON, r, func() error {
			a.Printf("Spawned %s (%s)\nListening on %s\n", r.Instance, r.Unit, r.Socket)
			if r.Host != "" {
				a.Printf("On fleet host %s\n", r.Host)
			}
			return nil
		})
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&host, "host", "", "in a fleet, place a new instance on `HOST` (default: the live host with the most free room)")
	return cmd
}

func (a *app) stopCmd() *cobra.Command {
	return a.instanceCmd("stop", "Stop an instance; it stays known and wakes on the next request", func(ctx context.Context, c *client.Client, n names.Instance) error {
		if err := c.Stop(ctx, n); err != nil {
			return err
		}
		a.Printf("Stopped %s\n", n)
		return nil
	})
}

func (a *app) restartCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restart SERVICE:ID | SERVICE",
		Short: "Restart an instance (also brings a failed one back), or every running instance of a service, one at a time",
		Long: `Restart an instance with the config in force (a failed one comes back).

With a service name, restart the service's running instances one at a time:
each is drained of its requests (new ones wait), stopped, started and waited
for until ready before the next, so the service keeps answering. This is how
a changed config (a reload marks running instances "restart pending")
reaches running instances. Asleep instances take the new config when they
wake. It stops at the first instance that does not get ready.`,
		Args: exactArgs(1, "one instance, SERVICE:ID, or a service, SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.Contains(args[0], ":") {
				return a.restartService(cmd, args[0], asJSON)
			}
			n, err := instanceArg(args[0])
			if err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				r, err := c.Restart(ctx, n)
				return a.print(err, asJSON, r, func() error {
					a.Printf("Restarted %s\n", r.Instance)
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// restartService restarts a service's running instances one at a time: it
// takes as long as the service does, so no timeout of its own.
func (a *app) restartService(cmd *cobra.Command, service string, asJSON bool) error {
	if err := names.ValidateService(service); err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	r, err := c.RestartService(cmd.Context(), service)
	return a.print(err, asJSON, r, func() error {
		a.Printf("Restarted %d running instances of %s, one at a time\n", len(r.Restarted), r.Service)
		for _, n := range r.Restarted {
			a.Printf("  %s\n", n)
		}
		return nil
	})
}

func (a *app) deleteCmd() *cobra.Command {
	var purge bool
	cmd := a.instanceCmd("delete", "Stop an instance and forget it (requests for it are then 404)", func(ctx context.Context, c *client.Client, n names.Instance) error {
		if err := c.Delete(ctx, n, purge); err != nil {
			return err
		}
		if purge {
			a.Printf("Deleted %s, its data and its own credentials\n", n)
		} else {
			a.Printf("Deleted %s (its data dir and credentials are kept; --purge removes them)\n", n)
		}
		return nil
	})
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the instance's data dir and its own credentials")
	return cmd
}

func (a *app) healthCmd() *cobra.Command {
	var asJSON bool
	cmd := a.instanceCmd("health", "Check an instance's health now", func(ctx context.Context, c *client.Client, n names.Instance) error {
		r, err := c.Health(ctx, n)
		return a.print(err, asJSON, r, func() error {
			a.Printf("%s: %s (%s)\n", r.Instance, r.Health, r.State)
			return nil
		})
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// fmtDuration prints a duration the way ps does: 42s, 5m, 3h, 2d.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Minute:
		return itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return itoa(int(d/time.Hour)) + "h"
	default:
		return itoa(int(d/(24*time.Hour))) + "d"
	}
}
