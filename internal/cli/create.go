package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/names"
)

func (a *app) createCmd() *cobra.Command {
	var fromFile, host string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create [SERVICE:ID ...]",
		Short: "Register instances asleep, without starting them; each wakes on its first request",
		Long: `Register instances without starting anything: each is asleep, holds no port,
and wakes on its first request. Many at once, in one store transaction (all
or none): a sign-up flow registers its customers this way. Instances that
are known already are left as they are. --from-file reads one SERVICE:ID a
line ("-" for stdin); at most ` + fmt.Sprint(apitype.MaxCreate) + ` a call.

In a fleet each new instance is placed first (on --host, else on the live
host with the most free room), then registered by the host it is placed on;
each placement is its own etcd transaction, so a call that fails part-way
keeps what it placed, and calling again places the rest.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := args
			if fromFile != "" {
				more, err := readIDs(fromFile)
				if err != nil {
					return err
				}
				ids = append(ids, more...)
			}
			if len(ids) == 0 {
				return fmt.Errorf("create: want SERVICE:ID arguments or --from-file (see ten create --help)")
			}
			ns := make([]names.Instance, len(ids))
			for i, s := range ids {
				n, err := instanceArg(s)
				if err != nil {
					return err
				}
				ns[i] = n
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				r, err := c.CreateOn(ctx, ns, host)
				return a.print(err, asJSON, r, func() error {
					a.Printf("Created %d instances (%d known already); they wake on their first request\n", r.Created, r.Known)
					a.printHosts(r.Hosts)
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "in a fleet, place them on `HOST` (default: each on the live host with the most free room)")
	cmd.Flags().StringVar(&fromFile, "from-file", "", `read SERVICE:ID lines from this file ("-": stdin)`)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readIDs reads one SERVICE:ID per non-empty line.
func readIDs(path string) ([]string, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		defer f.Close()
	}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("create: %s: %w", path, err)
	}
	return out, nil
}
