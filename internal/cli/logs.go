package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
)

func (a *app) logsCmd() *cobra.Command {
	var q client.LogQuery
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "logs [SERVICE:ID]",
		Short: "Show an instance's logs from journald (-f follows them)",
		Long: `Show the logs of an instance (or of every instance you may read), from the
journal: the app's stdout and stderr, and systemd's messages about its unit.
The same lines as journalctl -u tenement@SERVICE-ID.service.

-n N shows the newest N lines (default 100; with -f, 10). --grep keeps the
lines that match a regular expression (Go syntax). --since takes a duration
ago (10m, 2h), a time (2006-01-02 15:04:05), today or yesterday.
--json prints one JSON object per line.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				n, err := instanceArg(args[0])
				if err != nil {
					return err
				}
				q.Instance = n
			}
			if q.Lines < 0 {
				return fmt.Errorf("logs: -n %d: want 0 or more", q.Lines)
			}
			if _, err := regexp.Compile(q.Grep); err != nil {
				return fmt.Errorf("logs: --grep: %w", err)
			}
			if _, err := apitype.ParseSince(q.Since, time.Now()); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			emit := a.logPrinter(asJSON)
			if follow {
				if !cmd.Flags().Changed("lines") {
					q.Lines = 10
				}
				return c.FollowLogs(cmd.Context(), q, emit)
			}
			if q.Lines == 0 && !cmd.Flags().Changed("lines") {
				q.Lines = 100
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
			defer cancel()
			entries, err := c.Logs(ctx, q)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := emit(e); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines as the instance writes them")
	f.IntVarP(&q.Lines, "lines", "n", 0, "show the newest N lines (default 100; 10 with -f)")
	f.StringVar(&q.Grep, "grep", "", "only lines matching this regular expression")
	f.StringVar(&q.Since, "since", "", "only lines since this time (10m, 2h, \"2006-01-02 15:04:05\", today)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per line")
	return cmd
}

// logPrinter prints an entry as "time instance message", or as a line of
// JSON.
func (a *app) logPrinter(asJSON bool) func(apitype.LogEntry) error {
	if asJSON {
		enc := json.NewEncoder(a.Stdout)
		return func(e apitype.LogEntry) error { return enc.Encode(e) }
	}
	return func(e apitype.LogEntry) error {
		who := e.Instance
		if e.Source == apitype.LogSourceSystemd {
			who += " [systemd]"
		}
		_, err := fmt.Fprintf(a.Stdout, "%s %s %s\n", e.Time.Local().Format(time.DateTime), who, e.Message)
		return err
	}
}
