package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/tenement/tenement/errdefs"
)

// UnitPath is the PATH systemd gives a unit's processes (and so the one a
// bare command name and runsc are found in).
const UnitPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ResolveProgram makes a command's program (argv[0]) an absolute path: a
// bare name is looked up in UnitPath, a relative path resolves against the
// config file's directory. It must be an executable file.
func ResolveProgram(argv0, cfgPath string) (string, error) {
	switch {
	case filepath.IsAbs(argv0):
	case strings.Contains(argv0, "/"):
		base := "/"
		if cfgPath != "" {
			base = filepath.Dir(cfgPath)
		}
		argv0 = filepath.Join(base, argv0)
	default:
		for _, dir := range filepath.SplitList(UnitPath) {
			if p := filepath.Join(dir, argv0); executable(p) == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("%w: command %q not found in PATH (%s)", errdefs.ErrInvalid, argv0, UnitPath)
	}
	if err := executable(argv0); err != nil {
		return "", fmt.Errorf("%w: command %w", errdefs.ErrInvalid, err)
	}
	return argv0, nil
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// CheckHost checks what the config needs of this machine, which loading
// does not (a config may be written on another machine): each command's
// program exists and is executable, each user exists, runsc is installed
// for the sandbox level. `ten config check` and a reload refuse a config
// that fails; the daemon's start logs the problems.
func (c *Config) CheckHost() Errors {
	var p problems
	for _, name := range c.serviceNames() {
		svc, key := c.Services[name], "service."+name
		argv, err := splitCommand(svc.Command, svc.Args)
		if err == nil && len(argv) > 0 && !strings.Contains(argv[0], "{") {
			if _, err := ResolveProgram(argv[0], c.Path); err != nil {
				p.add(key+".command", "%s", strings.TrimPrefix(err.Error(), "invalid argument: command "))
			}
		}
		if svc.User != "" {
			if _, err := user.Lookup(svc.User); err != nil {
				p.add(key+".user", "user %q does not exist on this machine", svc.User)
			}
		}
		if svc.Isolation == IsolationSandbox && !hasRunsc() {
			p.add(key+".isolation", "\"sandbox\" needs gVisor's runsc, which is not installed (looked in %s); see docs/isolation.md", runscPath)
		}
	}
	for _, e := range p {
		e.File = c.Path
		if c.loc != nil {
			e.Line = c.loc.line(e.Key)
		}
	}
	return Errors(p)
}

// runscPath is where CheckHost looks for runsc (tests change it).
var runscPath = UnitPath

func hasRunsc() bool {
	for _, dir := range filepath.SplitList(runscPath) {
		if executable(filepath.Join(dir, "runsc")) == nil {
			return true
		}
	}
	return false
}
