package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
)

func (a *app) psCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ps",
		Aliases: []string{"ls"},
		Short:   "List instances: state, health, port, uptime, restarts, memory, weight",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
			defer cancel()
			list, err := c.Instances(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(list)
			}
			if len(list) == 0 {
				a.printf("No instances (server %s)\n", c.Server)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INSTANCE\tUNIT\tSTATE\tHEALTH\tPORT\tUPTIME\tRESTARTS\tMEMORY\tWEIGHT")
			for _, i := range list {
				mem := "-"
				if i.MemoryBytes != nil {
					mem = fmtBytes(*i.MemoryBytes)
				}
				health, uptime := string(i.Health), fmtDuration(time.Duration(i.UptimeSecs)*time.Second)
				if i.State != "running" {
					health, uptime = "-", "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%d\n", i.Name, i.Unit, i.State, health, i.Port,
					uptime, i.Restarts, mem, i.Weight)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func fmtBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatUint(b, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func itoa(n int) string { return strconv.Itoa(n) }
