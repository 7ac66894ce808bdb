package config

import (
	"fmt"
	"io/fs"
	"os/user"
	"strconv"

	"github.com/tenement/tenement/errdefs"
)

// DataDirMode is the mode of an instance's data dir: 0750 for "process"
// (its user, when the service has one, owns it), 0700 for "namespace" and
// "sandbox" (the instance's dynamic user owns it while the unit runs).
func (s *Service) DataDirMode() fs.FileMode {
	if s.Isolation != IsolationProcess {
		return 0o700
	}
	return 0o750
}

// DataDirOwner is the uid and gid that own an instance's data dir: the
// service's user for "process" with a user; false for the others (root
// keeps it, and the isolation wrapper gives a dynamic user its dir when the
// instance starts).
func (s *Service) DataDirOwner() (uid, gid int, ok bool, err error) {
	if s.Isolation != IsolationProcess || s.User == "" {
		return 0, 0, false, nil
	}
	u, err := user.Lookup(s.User)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: user %q: %w", errdefs.ErrInvalid, s.User, err)
	}
	uid, err = strconv.Atoi(u.Uid)
	if err == nil {
		gid, err = strconv.Atoi(u.Gid)
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("user %q: %w", s.User, err)
	}
	return uid, gid, true, nil
}
