// Package cli is the `ten` command's client side: the commands that talk to
// the daemon through its API (package client), and the ones that only read
// the config file (`ten config`, `ten init`, `ten caddy`). One file per
// command. The server side (`ten serve` and the commands that work on
// systemd and the store directly) is internal/servecmd, which cmd/ten adds
// to the root command; this package imports nothing of the server.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

// version is set at build time: -ldflags "-X github.com/tenement/tenement/internal/cli.version=1.2.3".
var version = "dev"

// Env is what every command of ten shares: the global --config flag and
// the streams. Commands defined outside this package get it through Root.
type Env struct {
	// ConfigPath is --config, once the flags are parsed ("": find the
	// config as config.Find does).
	ConfigPath string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// Printf prints to stdout.
func (e *Env) Printf(format string, args ...any) {
	fmt.Fprintf(e.Stdout, format, args...)
}

// PrintJSON prints v as indented JSON on stdout (--json).
func (e *Env) PrintJSON(v any) error {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Command makes a command of ten over the shared Env.
type Command func(e *Env) *cobra.Command

// app is the client side's commands: the Env and the flags that say how
// to reach the daemon.
type app struct {
	*Env
	server, token string
}

// Main runs ten with args (without the program name) and the commands
// more besides the client's, and returns the exit status. Errors are
// printed as one line on stderr.
func Main(args []string, more ...Command) int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	return Run(ctx, &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, args, more...)
}

// Run is Main over e, within ctx.
func Run(ctx context.Context, e *Env, args []string, more ...Command) int {
	root := Root(e, more...)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(e.Stderr, "ten: "+OneLine(err.Error()))
		return exitStatus(err)
	}
	return 0
}

// exitStatus is the exit status of an error: 1, or the status an error in
// its chain has (ExitStatus() int, as a command with a status of its own
// returns).
func exitStatus(err error) int {
	var es interface{ ExitStatus() int }
	if errors.As(err, &es) {
		return es.ExitStatus()
	}
	return 1
}

// Root returns ten's root command: the client's commands and more, over e.
func Root(e *Env, more ...Command) *cobra.Command {
	a := &app{Env: e}
	root := a.root()
	for _, c := range more {
		root.AddCommand(c(e))
	}
	return root
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "ten",
		Short:         "tenement: many copies of one app on one server, as systemd units",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "daemon address: unix:/path or http(s)://host:port (default $TENEMENT_SERVER, else the config's api_socket)")
	pf.StringVar(&a.token, "token", "", "API token (default $TENEMENT_TOKEN)")
	pf.StringVar(&a.ConfigPath, "config", "", "config file (default $TENEMENT_CONFIG, else "+config.DefaultPath+")")
	root.AddCommand(
		a.createCmd(), a.spawnCmd(), a.stopCmd(), a.restartCmd(), a.deleteCmd(),
		a.psCmd(), a.healthCmd(), a.weightCmd(), a.configCmd(), a.versionCmd(),
		a.deployCmd(), a.routeCmd(), a.logsCmd(), a.initCmd(),
		a.tokenGenCmd(), a.tokenCmd(), a.auditCmd(),
		a.caddyCmd(), a.credentialCmd(), a.keepAwakeCmd(), a.domainCmd(),
		a.moveCmd(), a.drainCmd(),
	)
	return root
}

// client returns an API client for the global flags.
func (a *app) client() (*client.Client, error) {
	server := a.server
	if server == "" {
		server = os.Getenv("TENEMENT_SERVER")
	}
	if server == "" {
		server = "unix:" + config.DefaultAPISocket
		if path := config.Find(a.ConfigPath); path != "" {
			cfg, err := config.Load(path)
			if err != nil {
				return nil, err
			}
			server = "unix:" + cfg.Settings.APISocket
		}
	}
	token := a.token
	if token == "" {
		token = os.Getenv("TENEMENT_TOKEN")
	}
	return client.New(server, strings.TrimSpace(token))
}

// ask runs f with a client of the daemon and a context that ends after
// client.DefaultTimeout.
func (a *app) ask(cmd *cobra.Command, f func(ctx context.Context, c *client.Client) error) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
	defer cancel()
	return f(ctx, c)
}

// print prints the daemon's answer v, unless err: as JSON with --json
// (asJSON), else as text says.
func (a *app) print(err error, asJSON bool, v any, text func() error) error {
	if err != nil {
		return err
	}
	if asJSON {
		return a.PrintJSON(v)
	}
	return text()
}

// table prints n rows under a header, in aligned columns (row(i) is row
// i's columns), or the line empty when there are none.
func (a *app) table(n int, empty string, header []string, row func(i int) []string) error {
	if n == 0 {
		a.Printf("%s\n", empty)
		return nil
	}
	rows := make([][]string, 0, n+1)
	rows = append(rows, header)
	for i := range n {
		rows = append(rows, row(i))
	}
	return writeTable(a.Stdout, rows)
}

// writeTable writes rows in columns, each as wide as its widest cell (in
// runes) plus two spaces; the last cell of a row is not padded. It is
// what text/tabwriter prints for tab-separated cells with padding 2, in
// one pass over the widths and one over the rows, which matters for a
// table of 10 000 instances.
func writeTable(w io.Writer, rows [][]string) error {
	var width []int
	for _, r := range rows {
		for c, cell := range r {
			if c == len(width) {
				width = append(width, 0)
			}
			if c < len(r)-1 {
				width[c] = max(width[c], utf8.RuneCountInString(cell))
			}
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	const pad = "                                                                "
	for _, r := range rows {
		for c, cell := range r {
			_, _ = bw.WriteString(cell)
			if c == len(r)-1 {
				break
			}
			for n := width[c] + 2 - utf8.RuneCountInString(cell); n > 0; n -= len(pad) {
				_, _ = bw.WriteString(pad[:min(n, len(pad))])
			}
		}
		_ = bw.WriteByte('\n')
	}
	return bw.Flush()
}

// instanceArg parses a service:id argument before anything is contacted.
func instanceArg(s string) (names.Instance, error) {
	return names.Parse(s)
}

// OneLine keeps an error message on one line.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// exactArgs is cobra.ExactArgs with a message naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: want %s (see ten %s --help)", cmd.Name(), what, cmd.Name())
		}
		return nil
	}
}
