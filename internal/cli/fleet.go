package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
)

func (a *app) moveCmd() *cobra.Command {
	var to string
	var withoutData, asJSON bool
	cmd := &cobra.Command{
		Use:   "move SERVICE:ID --to HOST",
		Short: "In a fleet, move an instance to another host with its data",
		Long: `Move an instance to another host of the fleet. Its host stops it (requests
get 503 with Retry-After meanwhile, which clients retry), sends its data dir
and its own credentials to HOST, places it there in etcd and removes its
copy; it wakes on HOST at its next request, with the weight and the
keep-awake it had. A move that fails leaves the instance where it was, with
its data. Any host may be asked: it asks the instance's host.

--without-data only places it on HOST: for an instance whose host is gone
for good (restore its data on HOST from a backup first, if there is one).`,
		Example: `  ten move notes:alice --to h2`,
		Args:    exactArgs(1, "one instance, SERVICE:ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := instanceArg(args[0])
			if err != nil {
				return err
			}
			if to == "" {
				return fmt.Errorf("move: want --to HOST")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			// as long as the copy takes: no timeout of its own
			r, err := c.Move(cmd.Context(), n, to, withoutData)
			return a.print(err, asJSON, r, func() error {
				if r.From == r.To {
					a.Printf("%s is on %s already\n", r.Instance, r.To)
					return nil
				}
				a.Printf("Moved %s from %s to %s (%s of data; unavailable for %.1fs)\n", r.Instance, r.From, r.To, fmtBytes(uint64(r.Bytes)), r.Seconds)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the fleet `HOST` to move it to")
	cmd.Flags().BoolVar(&withoutData, "without-data", false, "only place it on HOST; its data stays where it is (its host is gone)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) drainCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drain HOST",
		Short: "In a fleet, move every instance off a host",
		Long: `Move every instance of HOST to the other live hosts, each with its data (as
ten move does), two at a time, each to the host with the most free room.
HOST is marked draining first: nothing new is placed on it until its daemon
restarts. An instance that cannot move stays, and is listed; the exit status
is then 1.`,
		Example: `  ten drain h3`,
		Args:    exactArgs(1, "one fleet host"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			r, err := c.Drain(cmd.Context(), args[0])
			if err = a.print(err, asJSON, r, func() error { return a.printDrain(r) }); err != nil {
				return err
			}
			if len(r.Failed) > 0 {
				return fmt.Errorf("drain %s: %d instances could not move", r.Host, len(r.Failed))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) printDrain(r apitype.DrainResponse) error {
	a.Printf("Drained %s: %d moved, %d could not move\n", r.Host, len(r.Moved), len(r.Failed))
	for _, m := range r.Moved {
		a.Printf("  %s -> %s\n", m.Instance, m.To)
	}
	for _, f := range r.Failed {
		a.Printf("  %s stays: %s\n", f.Instance, OneLine(f.Error))
	}
	return nil
}

// printHosts prints how many new instances went to each fleet host.
func (a *app) printHosts(hosts map[string]int) {
	if len(hosts) == 0 {
		return
	}
	var parts []string
	for h, n := range hosts {
		parts = append(parts, fmt.Sprintf("%s %d", h, n))
	}
	slices.Sort(parts)
	a.Printf("Placed: %s\n", strings.Join(parts, ", "))
}
