package cli

import (
	"fmt"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

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
			if errs := cfg.CheckHost(); len(errs) > 0 {
				// One line each; the last is the command's error.
				for _, e := range errs[:len(errs)-1] {
					fmt.Fprintf(a.stderr, "ten: %s\n", e)
				}
				return errs[len(errs)-1]
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			a.printf("%s: ok (%d services, %d configured instances)\n", cfg.Path, len(cfg.Services), countInstances(cfg))
			return nil
		},
	})
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
				return a.printJSON(cfg)
			}
			a.printf("# effective config of %s (defaults filled in)\n", cfg.Path)
			enc := toml.NewEncoder(a.stdout)
			enc.Indent = ""
			return enc.Encode(cfg)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(show)
	return cmd
}

func (a *app) loadConfig() (*config.Config, error) {
	path := config.Find(a.configPath)
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
