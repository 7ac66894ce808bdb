package isolation

import (
	"syscall"

	"github.com/tenement/tenement/portguard"
)

// runGuard is the unit's ExecStartPre=+: it attaches the port guard to
// the unit's cgroup and exits, before the app starts. A failure fails the
// start (no guard, no app).
//
// On success it exits at once, past os.Exit: the guard is on the path of
// every wake, and a race-enabled build (the integration tests') would
// otherwise sleep a second in os.Exit (GORACE's atexit_sleep_ms) each
// time. It has nothing to flush.
func runGuard(o Options) (int, error) {
	if _, err := portguard.Guard(portguard.Rule{Low: o.PortLow, High: o.PortHigh, Own: o.Port}); err != nil {
		return ExitWrapperFailed, err
	}
	syscall.Exit(0)
	return 0, nil
}
