package config

import (
	"errors"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestDataDirModeAndOwner(t *testing.T) {
	for _, tc := range []struct {
		svc       Service
		mode      uint32
		uid       int
		ok, isErr bool
	}{
		{Service{Isolation: IsolationProcess}, 0o750, 0, false, false},
		{Service{Isolation: IsolationProcess, User: "nobody"}, 0o750, 65534, true, false},
		{Service{Isolation: IsolationProcess, User: "no-such-user-here"}, 0o750, 0, false, true},
		{Service{Isolation: IsolationNamespace, User: "nobody"}, 0o700, 0, false, false},
		{Service{Isolation: IsolationSandbox}, 0o700, 0, false, false},
	} {
		if got := uint32(tc.svc.DataDirMode()); got != tc.mode {
			t.Errorf("%s user %q: mode %o, want %o", tc.svc.Isolation, tc.svc.User, got, tc.mode)
		}
		uid, _, ok, err := tc.svc.DataDirOwner()
		if ok != tc.ok || uid != tc.uid || (err != nil) != tc.isErr || (err != nil && !errors.Is(err, errdefs.ErrInvalid)) {
			t.Errorf("%s user %q: owner %d, %v, %v", tc.svc.Isolation, tc.svc.User, uid, ok, err)
		}
	}
}
