// Package testbed boots a real systemd 252 manager in private namespaces and runs Go
// integration tests inside it. It is tenement's own harness: nothing outside this repository
// is needed except the host's systemd, util-linux (unshare, nsenter, flock) and bash.
//
// # Why
//
// The project's development and CI machines run as root but systemd is not PID 1 there, so
// there is no manager to talk to. Faking one on the host (for example creating
// /run/systemd/system) would mislead every other tool on the machine. Instead, the embedded
// script sdboot.sh starts the host's /lib/systemd/systemd as PID 1 of fresh mount, pid, uts,
// ipc, cgroup and (by default) network namespaces, on a throw-away overlay of the host root:
//
//   - the overlay's upper layer is a tmpfs, so whatever the tests do to /etc, /var, ... is lost
//     at the end; directories that must stay live and writable (the Go module, the run's share
//     dir) are bind-mounted at the same path;
//   - /dev is a minimal tmpfs, /proc/sys is read-only, and the manager boots a minimal
//     testmgr.target (journald + dbus), never multi-user.target: the guest can neither touch
//     host-global settings nor start the host's enabled services;
//   - the manager gets sub-cgroups named tenement-testbed-NAME at the root of every cgroup
//     hierarchy, so resource control (MemoryMax, CPUWeight, TasksMax, ...) really works. With
//     TENEMENT_TESTBED_CGROUP=unified it sees only the cgroup2 one and runs unified, as on
//     production Debian 12; on a hybrid host that tree has no controllers, and tests that
//     need one skip there with the reason (RequireController).
//
// Booting takes about one second. State lives under /var/lib/tenement-testbed/NAME (pid and
// owner records, logs, the system bus dir) and is keyed by NAME, so several managers (several
// packages of one `go test ./...`, other jobs) can run side by side.
//
// # How tests use it
//
// An integration test package calls Main from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testbed.Main(m, nil)) }
//
// On the host, Main boots a manager, copies the test binary into the run's share dir (outside
// /tmp, because units with PrivateTmp=yes cannot see /tmp), and re-runs the binary inside the
// manager with nsenter and the same arguments. Inside, Main just runs the tests: the product
// code's default go-systemd connections, scope units with the test's own PIDs, sd_notify and
// the journal then behave exactly as on a systemd host. Tests that need the manager call
// Require(t) first; when no manager could be booted (not root, tools missing, boot failed)
// the whole package runs on the host and Require skips, or fails when $CI is set or
// TENEMENT_REQUIRE_SYSTEMD=1 (Strict). A test that lacks another tool it needs (runsc,
// caddy, nfpm) says so with SkipOrFail, which does the same. Eventually and Repeat are the
// tests' small helpers for what happens asynchronously or under load.
//
// A manager whose owner process is gone (the test binary was killed) is stale; every Main
// removes stale managers first (CleanupStale). See README.md for debugging tips.
package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// StateRoot holds one directory per manager (NAME) and one per run of Main (NAME.share).
// It is deliberately not under /tmp.
const StateRoot = "/var/lib/tenement-testbed"

// Environment variables understood by the harness.
const (
	// EnvInside is set to the manager's name for the test binary that Main runs inside.
	EnvInside = "TENEMENT_TESTBED_INSIDE"
	// EnvShare is the run's share dir (see ShareDir), set inside.
	EnvShare = "TENEMENT_TESTBED_SHARE"
	// EnvKeep=1 leaves the manager and the share dir in place after the run (debugging).
	EnvKeep = "TENEMENT_TESTBED_KEEP"
	// EnvRequire=1 turns Require's skip into a failure, like a non-empty $CI does.
	EnvRequire = "TENEMENT_REQUIRE_SYSTEMD"
	// EnvCgroup is Main's Options.Cgroup: "unified" boots the manager with a cgroup2 tree
	// only; unset or "host", with the host's layout (hybrid on our machines).
	EnvCgroup = "TENEMENT_TESTBED_CGROUP"
)

// Options configure Start.
type Options struct {
	// Name keys everything that belongs to the manager; it must match ^[a-z0-9][a-z0-9-]{0,40}$.
	Name string
	// Net is "private" (the default: own network namespace with only lo, UP) or "host".
	Net string
	// Share lists absolute host directories bind-mounted read-write at the same path inside.
	// They must not contain white space.
	Share []string
	// Cgroup is the manager's cgroup tree: "host" (the default) mounts the host's layout,
	// hybrid on our machines (v1 controllers, systemd's name=systemd hierarchy and a cgroup2
	// one); "unified" mounts only a cgroup2 tree, so systemd runs unified as on a cgroup v2
	// host. On a hybrid host that tree has no controllers (the kernel binds each to one
	// hierarchy, and the host's init uses them in v1): limits are accepted but not enforced.
	Cgroup string
}

// Manager is a running systemd manager started by Start.
type Manager struct {
	Name string
	PID  int // host pid of the manager's PID 1
	// Cgroup is the layout of the manager's /sys/fs/cgroup as booted: "unified" (cgroup2
	// only), "hybrid" (v1 hierarchies and a cgroup2 one) or "legacy" (v1 only).
	Cgroup string
}

// SystemBus returns the D-Bus address of the manager's system bus, usable from the host
// (for example as DBUS_SYSTEM_BUS_ADDRESS). Scope units and systemd's private socket need
// processes inside the manager; see Command.
func (m *Manager) SystemBus() string {
	return "unix:path=" + filepath.Join(StateRoot, m.Name, "bus", "system_bus_socket")
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

// validName reports whether name is acceptable as a manager name. sdboot.sh applies the same
// rule (its check-name subcommand); a test keeps the two in agreement.
func validName(name string) bool { return nameRE.MatchString(name) }

// checkOptions validates opts and returns them with the defaults filled in.
func checkOptions(opts Options) (Options, error) {
	if !validName(opts.Name) {
		return opts, fmt.Errorf("testbed: invalid manager name %q (want %s)", opts.Name, nameRE)
	}
	switch opts.Net {
	case "", "private":
		opts.Net = "private"
	case "host":
	default:
		return opts, fmt.Errorf("testbed: Net must be \"private\" or \"host\", not %q", opts.Net)
	}
	switch opts.Cgroup {
	case "", "host":
		opts.Cgroup = "host"
	case "unified":
	default:
		return opts, fmt.Errorf("testbed: Cgroup must be \"host\" or \"unified\", not %q", opts.Cgroup)
	}
	for _, d := range opts.Share {
		if !filepath.IsAbs(d) || strings.ContainsAny(d, " \t\n\r") || filepath.Clean(d) == "/" {
			return opts, fmt.Errorf("testbed: cannot share %q: want an absolute path other than / without white space", d)
		}
	}
	return opts, nil
}

// noManager is why Main runs the tests on the host; it is written before m.Run.
var noManager string

// Inside reports whether this process runs inside a testbed manager started by Main.
func Inside() bool {
	if os.Getenv(EnvInside) == "" {
		return false
	}
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// ShareDir returns, inside, the run's shared scratch directory: it is outside /tmp, writable,
// visible at the same path on the host and inside, and holds the test binary and whatever the
// setup function of Main put there. It is "" outside a manager.
func ShareDir() string {
	if !Inside() {
		return ""
	}
	return os.Getenv(EnvShare)
}

// Require skips the test unless it runs inside a testbed manager. When $CI is non-empty or
// TENEMENT_REQUIRE_SYSTEMD=1, it fails the test instead: in CI a skipped integration test
// would hide a broken harness.
func Require(t testing.TB) {
	t.Helper()
	if Inside() {
		return
	}
	reason := noManager
	if reason == "" {
		reason = "testbed.Main was not called from TestMain"
	}
	SkipOrFail(t, "testbed: no systemd manager: "+reason)
}

// RequireController is Require for a test that needs cgroup controllers ("memory", "pids",
// "cpu", ...): MemoryMax= and the memory counters need "memory", TasksMax= and TasksCurrent
// "pids", CPUWeight= "cpu". When the manager's cgroup tree lacks one, the test is skipped
// with the reason, and that skip is expected (even in CI) in one case only: the manager runs
// unified (Options.Cgroup "unified") on a host whose init has bound the controller to a
// cgroup v1 hierarchy, so no cgroup2 tree can have it. Otherwise a missing controller fails
// the test when $CI or TENEMENT_REQUIRE_SYSTEMD=1 is set, as Require does.
func RequireController(t testing.TB, controllers ...string) {
	t.Helper()
	if msg := checkControllers(t, controllers); msg != "" {
		t.Skip(msg)
	}
}

// HasController is RequireController for a test that checks what happens without the
// controller where that is expected: it returns false (and logs why) instead of skipping.
func HasController(t testing.TB, controller string) bool {
	t.Helper()
	if msg := checkControllers(t, []string{controller}); msg != "" {
		t.Log(msg)
		return false
	}
	return true
}

// checkControllers returns "" when the manager's cgroup tree has the controllers, the
// reason when it lacks them as expected; otherwise it skips the test, or fails it in CI.
func checkControllers(t testing.TB, controllers []string) string {
	t.Helper()
	Require(t)
	tree, err := readCgroupTree()
	if err != nil {
		t.Fatalf("testbed: reading the manager's cgroup tree: %v", err)
	}
	msg, expected := tree.lacks(controllers)
	if msg == "" || expected {
		return msg
	}
	SkipOrFail(t, msg)
	return msg
}

// lacks says which of controllers the tree has not ("" if none), and whether that is
// expected: a unified tree on a host that binds them to cgroup v1 hierarchies.
func (tree cgroupTree) lacks(controllers []string) (msg string, expected bool) {
	var missing []string
	expected = tree.layout == "unified"
	for _, c := range controllers {
		if !tree.controllers[c] {
			missing = append(missing, c)
			expected = expected && tree.v1[c]
		}
	}
	if len(missing) == 0 {
		return "", false
	}
	noun, where := "controller", "it to a cgroup v1 hierarchy"
	if len(missing) > 1 {
		noun, where = "controllers", "them to cgroup v1 hierarchies"
	}
	msg = fmt.Sprintf("testbed: the manager's %s cgroup tree has no %s %s", tree.layout, strings.Join(missing, ", "), noun)
	if expected {
		msg += " (this host binds " + where + ", which a unified tree cannot use)"
	}
	return msg, expected
}

// Eventually retries f every 25ms until it returns nil, and fails the test
// with f's last error when timeout passes first. Tests against a real
// manager use it to wait for what systemd does asynchronously.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, timeout, err)
}
