// Package cli is the `ten` command: the daemon (`ten serve`) and the client
// commands that talk to it. One file per command.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// version is set at build time: -ldflags "-X github.com/tenement/tenement/internal/cli.version=1.2.3".
var version = "dev"

// app holds the global flags and the output streams.
type app struct {
	server, token, configPath string
	stdin                     io.Reader
	stdout, stderr            io.Writer
}

// ExitStoreCorrupt is ten's exit status when the store is corrupt: 78,
// EX_CONFIG of sysexits.h. The daemon cannot run until an operator acts
// (ten store recover), so tenement.service names this status in
// RestartPreventExitStatus=: systemd then does not restart it every
// RestartSec, forever. Every other error is exit status 1.
const ExitStoreCorrupt = 78

// exitStatus is the exit status of an error.
func exitStatus(err error) int {
	if errors.Is(err, store.ErrCorrupt) {
		return ExitStoreCorrupt
	}
	return 1
}

// Main runs ten with args (without the program name) and returns the exit
// status. Errors are printed as one line on stderr.
func Main(args []string) int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// run is Main with its context and streams given.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdin: os.Stdin, stdout: stdout, stderr: stderr}
	root := a.root()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(a.stderr, "ten: "+oneLine(err.Error()))
		return exitStatus(err)
	}
	return 0
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "ten",
		Short:         "tenement: many copies of one app on one server, as systemd units",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "daemon address: unix:/path or http(s)://host:port (default $TENEMENT_SERVER, else the config's api_socket)")
	pf.StringVar(&a.token, "token", "", "API token (default $TENEMENT_TOKEN)")
	pf.StringVar(&a.configPath, "config", "", "config file (default $TENEMENT_CONFIG, else "+config.DefaultPath+")")
	root.AddCommand(
		a.serveCmd(), a.createCmd(), a.spawnCmd(), a.stopCmd(), a.restartCmd(), a.deleteCmd(),
		a.psCmd(), a.healthCmd(), a.weightCmd(), a.configCmd(), a.versionCmd(),
		a.isolateCmd(),
		a.deployCmd(), a.routeCmd(), a.logsCmd(), a.initCmd(),
		a.tokenGenCmd(), a.tokenCmd(), a.auditCmd(),
		a.caddyCmd(), a.teardownCmd(), a.credentialCmd(), a.storeCmd(), a.keepAwakeCmd(),
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
		if path := config.Find(a.configPath); path != "" {
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

// instanceArg parses a service:id argument before anything is contacted.
func instanceArg(s string) (names.Instance, error) {
	return names.Parse(s)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
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
