package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

func (a *app) initCmd() *cobra.Command {
	var name, command string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter tenement.toml for the app in this directory",
		Long: `Write tenement.toml in the current directory (or at --config) for the app
here: one service, its command (guessed from the files present unless
--command is given), a health path, an idle timeout, and one instance,
"default". It fails when the file exists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.Getwd()
			if err != nil {
				return err
			}
			path := a.ConfigPath
			if path == "" {
				path = filepath.Join(dir, "tenement.toml")
			}
			if name == "" {
				if name = serviceNameFrom(filepath.Base(dir)); name == "" {
					return fmt.Errorf("init: cannot make a service name of %q: pass --name (lowercase letters and digits, starting with a letter)", filepath.Base(dir))
				}
			}
			if err := names.ValidateService(name); err != nil {
				return fmt.Errorf("init: --name: %w", err)
			}
			if command == "" {
				command = detectCommand(dir)
			}
			if err := writeInit(path, name, command); err != nil {
				return err
			}
			a.Printf("Created %s\n  service: %s\n  command: %s\n\nNext:\n  ten config check --config %s\n  ten serve --config %s\n  ten token create\n  ten ps\n",
				path, name, command, path, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "service name (default: from the directory's name)")
	cmd.Flags().StringVar(&command, "command", "", "the app's command (default: guessed from the files here)")
	return cmd
}

const initTemplate = `# tenement.toml, written by ten init. Every key and its default:
# docs/configuration.md.

[settings]
# data_dir = "/var/lib/tenement"   # the store and one directory per instance
# domain = "localhost"             # {id}.{service}.{domain} reaches an instance
# listen = ":8080"                 # the HTTP listener (proxy, API on {domain})

[service.%[1]s]
# The app listens on 127.0.0.1:$PORT; $DATA_DIR is its own directory.
command = %[2]q
workdir = "."
health = "/health"
idle_timeout = 300
storage_persist = true
# namespace (the default): every instance gets its own user, PID and mount
# namespace, a read-only system and only its own data dir. Keep the app
# outside /home (e.g. in /srv), which tenants cannot see. "process" runs
# tenants as root unless you set user: never for customers who do not
# trust each other.
isolation = "namespace"

[service.%[1]s.env]
# NAME = "value, with {name} {id} {data_dir} {port} {socket}"

[instances]
%[1]s = ["default"]
`

// writeInit writes the template to path, refusing to replace a file, and
// checks that the result loads.
func writeInit(path, name, command string) error {
	body := fmt.Sprintf(initTemplate, name, command)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("init: %s exists; not replacing it", path)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	_, werr := f.WriteString(body)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		_, werr = config.Load(path)
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("init: %w", werr)
	}
	return nil
}

// serviceNameFrom makes a service name of a directory's name: lowercase,
// letters and digits only, starting with a letter, at most 32 characters.
func serviceNameFrom(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > names.MaxServiceLen {
		out = out[:names.MaxServiceLen]
	}
	return out
}

// detectCommand guesses the app's command from the files in dir, as the
// original did.
func detectCommand(dir string) string {
	has := func(f string) bool {
		_, err := os.Stat(filepath.Join(dir, f))
		return err == nil
	}
	switch {
	case has("pyproject.toml") || has("requirements.txt"):
		if has("main.py") && !has("app.py") {
			return "uv run python main.py"
		}
		return "uv run python app.py"
	case has("package.json"):
		return "npm start"
	case has("go.mod"):
		return "go run ."
	case has("Cargo.toml"):
		return "cargo run --release"
	default:
		return "./app"
	}
}
