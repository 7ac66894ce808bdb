package supervisor

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
)

// prepareDataDir creates the instance's data dir before its unit starts.
//
// The service's dir above it is 0711: a tenant of a "process" service
// with a user must pass it to reach its own dir, and may not list it. For
// "process" the instance's dir is owned by the service's user when it has
// one. For
// "namespace" and "sandbox" the unit binds it over a tmpfs that hides the
// rest of the data root, so it must exist before the start (else systemd
// fails the unit with 226/NAMESPACE); the instance's dynamic user only
// exists while the unit runs, so the wrapper inside the unit makes that
// user own the dir (package isolation). The dirs above it stay root's.

func (s *Supervisor) prepareDataDir(in *inst, dir string, svc *config.Service) error {
	if err := serviceDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	mode := os.FileMode(0o750)
	if svc.Isolation != config.IsolationProcess {
		mode = 0o700
	}
	if err := os.Mkdir(dir, mode); err != nil && !os.IsExist(err) {
		return fmt.Errorf("data dir: %w", err)
	}
	if svc.Isolation != config.IsolationProcess || svc.User == "" {
		return nil
	}
	u, err := user.Lookup(svc.User)
	if err != nil {
		return fmt.Errorf("%w: user %q: %w", errdefs.ErrInvalid, svc.User, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// serviceDir makes {data_dir}/{service} with mode 0711, and corrects the
// mode of one made before (0750: a process tenant with a user could not
// enter its own data dir, and failed with 200/CHDIR).
func serviceDir(dir string) error {
	const mode = 0o711
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != mode {
		return os.Chmod(dir, mode)
	}
	return nil
}
