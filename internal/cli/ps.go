package cli

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/names"
)

// psFlags are ps's filters and page, as the user gave them.
type psFlags struct {
	service, state, match, after string
	limit                        int
	asJSON                       bool
}

func (a *app) psCmd() *cobra.Command {
	var f psFlags
	cmd := &cobra.Command{
		Use:     "ps",
		Aliases: []string{"ls"},
		Short:   "List instances: state, health, port, uptime, restarts, memory, weight",
		Long: `Instances come ordered by service, then id: all of them, or those that
--service, --state and --match select.

--limit N prints at most N instances (1–` + strconv.Itoa(apitype.MaxList) + `). When more follow, ps ends
with a line on stderr that gives the command for the next page: the same one,
with --after set to this page's last instance. Stdout holds only the table
(or the JSON array), so a script pages by passing the last instance it got
as --after until a page comes back empty.`,
		Example: `  ten ps --state failed
  ten ps --service notes --match ali
  ten ps --state asleep --limit 50
  ten ps --state asleep --limit 50 --after notes:t049`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A list of 10 000 instances allocates ~20 MB once, in a
			// process that ends right after: collecting less often saves
			// a fifth of its time.
			debug.SetGCPercent(400)
			q, err := f.query()
			if err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				var next names.Instance
				var err error
				if f.asJSON {
					var list []apitype.Instance
					list, next, err = c.List(ctx, q)
					err = a.print(err, true, list, nil)
				} else {
					next, err = a.printInstances(ctx, c, q)
				}
				if err == nil && !next.IsZero() {
					fmt.Fprintf(a.Stderr, "More instances follow; the next page: %s\n", f.nextCommand(next.String()))
				}
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.service, "service", "", "only the instances of `SERVICE`")
	fl.StringVar(&f.state, "state", "", "only the instances in `STATE`: "+strings.Join(stateNames(), ", "))
	fl.StringVar(&f.match, "match", "", "only the instances whose SERVICE:ID contains `TEXT`")
	fl.IntVar(&f.limit, "limit", 0, "print at most `N` instances, and the command for the next page (default: all)")
	fl.StringVar(&f.after, "after", "", "start after `SERVICE:ID` (the previous page's last)")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	return cmd
}

// query checks the flags as the daemon will, before anything is sent.
func (f psFlags) query() (apitype.ListQuery, error) {
	v := url.Values{}
	for k, s := range map[string]string{"service": f.service, "state": f.state, "q": f.match, "after": f.after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.limit != 0 {
		v.Set("limit", strconv.Itoa(f.limit))
	}
	return apitype.ParseListQuery(v)
}

// nextCommand is the ps command line for the page after the instance
// after, with the user's filters (never the global flags: --token is a
// secret).
func (f psFlags) nextCommand(after string) string {
	args := []string{"ten", "ps"}
	for _, fl := range [][2]string{{"--service", f.service}, {"--state", f.state}, {"--match", f.match}} {
		if fl[1] != "" {
			args = append(args, fl[0], shellWord(fl[1]))
		}
	}
	args = append(args, "--limit", strconv.Itoa(f.limit), "--after", after)
	if f.asJSON {
		args = append(args, "--json")
	}
	return strings.Join(args, " ")
}

// printInstances prints the table of the instances q selects, keeping
// only each one's row while the list is decoded, and returns the next
// page's cursor.
func (a *app) printInstances(ctx context.Context, c *client.Client, q apitype.ListQuery) (names.Instance, error) {
	header := []string{"INSTANCE", "HOST", "UNIT", "STATE", "HEALTH", "PORT", "UPTIME", "RESTARTS", "MEMORY", "WEIGHT", "NOTE"}
	rows := [][]string{header}
	fleet := false // a HOST column only in a fleet
	next, err := c.ListEach(ctx, q, func(i *apitype.Instance) error {
		fleet = fleet || i.Host != ""
		rows = append(rows, instanceRow(i))
		return nil
	})
	if err != nil {
		return names.Instance{}, err
	}
	if len(rows) == 1 {
		if q.Limit = 0; q != (apitype.ListQuery{}) {
			a.Printf("No instances match (server %s)\n", c.Server)
		} else {
			a.Printf("No instances (server %s)\n", c.Server)
		}
		return next, nil
	}
	if !fleet {
		for k, r := range rows {
			rows[k] = slices.Delete(r, 1, 2)
		}
	}
	return next, writeTable(a.Stdout, rows)
}

// instanceRow is an instance's row of ps, HOST second.
func instanceRow(i *apitype.Instance) []string {
	mem := "-"
	if i.MemoryBytes != nil {
		mem = fmtBytes(*i.MemoryBytes)
	}
	health, uptime := string(i.Health), fmtDuration(time.Duration(i.UptimeSecs)*time.Second)
	if i.State != apitype.StateRunning {
		health, uptime = "-", "-"
	}
	port := "-"
	if i.Port > 0 {
		port = itoa(i.Port)
	}
	weight := itoa(i.Weight)
	if i.State == apitype.StateUnknown { // another fleet host's: known there
		weight = "-"
	}
	return []string{i.Name, i.Host, i.Unit, string(i.State), health, port, uptime, itoa(i.Restarts), mem, weight, note(i)}
}

// note says what else is true of an instance: a config change waiting for
// its restart, an orphan of a removed service, a fleet host that is down,
// a keep-awake, a throttle.
func note(i *apitype.Instance) string {
	var n []string
	if i.RestartPending {
		n = append(n, "restart pending")
	}
	if i.Orphaned {
		n = append(n, "orphaned")
	}
	if i.Throttled {
		n = append(n, "throttled")
	}
	if i.HostDown {
		n = append(n, "host down")
	}
	if !i.KeepAwakeUntil.IsZero() {
		n = append(n, "awake until "+i.KeepAwakeUntil.Local().Format("Jan 2 15:04"))
	}
	if len(n) == 0 {
		return "-"
	}
	return strings.Join(n, ", ")
}

func stateNames() []string {
	out := make([]string, len(apitype.States))
	for i, s := range apitype.States {
		out[i] = string(s)
	}
	return out
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9:._/-]+$`)

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
