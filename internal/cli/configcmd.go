package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/config"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check or show the config file",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the config file; exit non-zero with a one-line error when invalid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			errs := append(cfg.CheckHost(), cfg.CheckSockets(socketAddrs(cmd.Context()))...)
			if len(errs) > 0 {
				// One line each; the last is the command's error.
				for _, e := range errs[:len(errs)-1] {
					fmt.Fprintf(a.Stderr, "ten: %s\n", e)
				}
				return errs[len(errs)-1]
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(a.Stderr, "warning: %s\n", w)
			}
			a.Printf("%s: ok (%d services, %d configured instances)\n", cfg.Path, len(cfg.Services), countInstances(cfg))
			return nil
		},
	})
	var reloadJSON bool
	reload := &cobra.Command{
		Use:   "reload",
		Short: "Make the daemon reload its config file without a restart (what systemctl reload tenement runs)",
		Long: `Make the daemon reload its config file. A config that does not load, or fails
what ten config check checks, is refused with its one-line error (the exit
status is non-zero) and the previous config stays in force. Added services
work at once; changed ones apply at each instance's next start (running ones
are marked restart pending: ten restart SERVICE applies it one instance at a
time); the instances of removed services keep running as orphaned until
stopped or deleted. Settings only a restart applies are named.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.reloadClient()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), client.DefaultTimeout)
			defer cancel()
			r, err := c.ReloadConfig(ctx)
			if err != nil {
				return err
			}
			if reloadJSON {
				return a.PrintJSON(r)
			}
			a.Printf("Reloaded the config\n")
			for _, l := range []struct {
				what string
				list []string
			}{
				{"added services", r.Added}, {"changed services", r.Changed}, {"removed services", r.Removed},
				{"restart pending (ten restart SERVICE)", r.RestartPending}, {"orphaned (stop or delete them)", r.Orphaned},
				{"changed settings that take effect at the next restart", r.NeedsRestart},
			} {
				if len(l.list) > 0 {
					a.Printf("  %s: %s\n", l.what, strings.Join(l.list, ", "))
				}
			}
			return nil
		},
	}
	reload.Flags().BoolVar(&reloadJSON, "json", false, "print JSON")
	cmd.AddCommand(reload)
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective config, defaults filled in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if asJSON {
				return a.PrintJSON(cfg)
			}
			a.Printf("# effective config of %s (defaults filled in)\n", cfg.Path)
			enc := toml.NewEncoder(a.Stdout)
			enc.Indent = ""
			return enc.Encode(cfg)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(show)
	return cmd
}

func (a *app) loadConfig() (*config.Config, error) {
	path := config.Find(a.ConfigPath)
	if path == "" {
		return nil, fmt.Errorf("no config file: pass --config FILE, set TENEMENT_CONFIG, or create %s", config.DefaultPath)
	}
	return config.Load(path)
}

func countInstances(cfg *config.Config) int {
	n := 0
	for _, ids := range cfg.Instances {
		n += len(ids)
	}
	return n
}

// reloadClient is the client of ten config reload. The daemon reads the
// config file itself and refuses a bad one in one line (logged, and in its
// status line, which systemctl status shows), so a file that does not load
// here must not keep the request from the daemon: that would leave the
// daemon's status saying the last reload worked. The daemon is then found
// at the file's api_socket as far as it can be read (the file's TOML
// parses), else the file's own error is the answer.
func (a *app) reloadClient() (*client.Client, error) {
	c, err := a.client()
	if err == nil || a.server != "" || os.Getenv("TENEMENT_SERVER") != "" {
		return c, err
	}
	sock := apiSocketOf(config.Find(a.ConfigPath))
	if fi, serr := os.Stat(sock); sock == "" || serr != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, err
	}
	return client.New("unix:"+sock, "")
}

// apiSocketOf returns settings.api_socket of the config file at path, or
// its default, without validating anything else; "" when the file is not
// TOML or the value is not an absolute path.
func apiSocketOf(path string) string {
	var f struct {
		Settings struct {
			APISocket string `toml:"api_socket"`
		} `toml:"settings"`
	}
	if path == "" {
		return ""
	}
	if _, err := toml.DecodeFile(path, &f); err != nil {
		return ""
	}
	switch s := f.Settings.APISocket; {
	case s == "":
		return config.DefaultAPISocket
	case filepath.IsAbs(s):
		return s
	}
	return ""
}
