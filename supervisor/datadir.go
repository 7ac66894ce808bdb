package supervisor

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tenement/tenement/config"
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
	if err := os.Mkdir(dir, svc.DataDirMode()); err != nil && !os.IsExist(err) {
		return fmt.Errorf("data dir: %w", err)
	}
	uid, gid, ok, err := svc.DataDirOwner()
	if err != nil || !ok {
		return err
	}
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
