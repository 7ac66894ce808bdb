package supervisor

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
)

// prepareDataDir creates the instance's data dir, owned by the service's
// user when it has one.
func (s *Supervisor) prepareDataDir(dir string, svc *config.Service) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if svc.User == "" {
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
