// Package portguard keeps each instance to its own port: a cgroup BPF
// program, attached to the instance's unit, refuses every bind() to a port
// of the tenant port range but the instance's own.
//
// Checking that a port is free and then letting the app bind it leaves a
// window: a co-tenant on the host network binds the port first (during a
// wake, or while systemd restarts a crashed app), passes the readiness
// check and receives the victim's traffic. systemd's SocketBindAllow= would
// close it, but Debian 12's systemd 252 is built without its BPF framework
// (-BPF_FRAMEWORK), and BPFProgram= refuses to work unless the whole
// cgroup tree is unified. So the unit attaches the program itself: its
// ExecStartPre=+ runs the isolation wrapper's guard mode (ten-isolate,
// package isolation: full privileges, in the unit's cgroup, before the
// app), which loads two programs (bind4, bind6) and
// attaches them to its own cgroup v2 with BPF_F_ALLOW_MULTI, then exits.
// The attachment lives as long as the cgroup; the app, without
// CAP_SYS_ADMIN or CAP_BPF, cannot detach it. Every process of the unit
// (the app, its children, gVisor's sentry with --network=host) is held to
// it; a bind the program refuses fails with EPERM.
//
// What bind() does not see: ports the kernel picks itself (listen or
// connect on an unbound socket) come from the ephemeral range, so the
// guard also refuses to run when the tenant range overlaps it (Overlap).
//
// Each program costs the kernel a few KiB while its unit runs; loading
// and attaching both takes about a millisecond.
package portguard

import (
	"fmt"

	"github.com/tenement/tenement/errdefs"
)

// Rule is what one instance may bind: any port outside [Low, High], and
// Own.
type Rule struct {
	Low, High int // the tenant port range, inclusive
	Own       int // the instance's own port
}

// Validate checks the rule's ports.
func (r Rule) Validate() error {
	switch {
	case r.Low < 1 || r.High > 65535 || r.Low > r.High:
		return fmt.Errorf("%w: port guard: range %d-%d: want 1 <= low <= high <= 65535", errdefs.ErrInvalid, r.Low, r.High)
	case r.Own < 1 || r.Own > 65535:
		return fmt.Errorf("%w: port guard: own port %d: want 1-65535", errdefs.ErrInvalid, r.Own)
	}
	return nil
}

// Allows reports whether the rule lets a process bind port, as the
// programs decide (port 0 asks the kernel for an ephemeral port).
func (r Rule) Allows(port int) bool {
	return port < r.Low || port > r.High || port == r.Own
}

// String is the rule as a test's message shows it.
func (r Rule) String() string {
	return fmt.Sprintf("port %d of %d-%d", r.Own, r.Low, r.High)
}
