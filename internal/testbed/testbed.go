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
//     hierarchy, so resource control (MemoryMax, CPUWeight, TasksMax, ...) really works.
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
}

// Manager is a running systemd manager started by Start.
type Manager struct {
	Name string
	PID  int // host pid of the manager's PID 1
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

func checkOptions(opts Options) (net string, err error) {
	if !validName(opts.Name) {
		return "", fmt.Errorf("testbed: invalid manager name %q (want %s)", opts.Name, nameRE)
	}
	switch opts.Net {
	case "", "private":
		net = "private"
	case "host":
		net = "host"
	default:
		return "", fmt.Errorf("testbed: Net must be \"private\" or \"host\", not %q", opts.Net)
	}
	for _, d := range opts.Share {
		if !filepath.IsAbs(d) || strings.ContainsAny(d, " \t\n\r") || filepath.Clean(d) == "/" {
			return "", fmt.Errorf("testbed: cannot share %q: want an absolute path other than / without white space", d)
		}
	}
	return net, nil
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
