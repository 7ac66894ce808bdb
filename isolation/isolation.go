// Package isolation runs an instance's app at its isolation level
// (docs/isolation.md): the wrapper that the namespace and sandbox levels
// put in front of the app, and the port guard every level runs first.
//
// The units package renders each level's systemd properties; this package
// is what runs inside the unit. Both levels start the wrapper as root with
// the "!" semantics of ExecStart= (D-Bus ExecStartEx flag "no-setuid"):
// systemd allocates the instance's dynamic user and applies its sandbox
// (read-only system, private /tmp, no devices, the data root hidden but for
// the instance's own dir) but leaves the change of user to the wrapper. The
// wrapper then
//
//   - learns the dynamic user's UID from systemd's userdb varlink service
//     (a CGO_ENABLED=0 binary's os/user cannot see dynamic users);
//   - makes that UID own the data dir when it does not (a dynamic UID can
//     change between runs);
//   - namespace: re-executes itself in a new PID and mount namespace as a
//     tiny init, which mounts a fresh /proc, drops to the UID, starts the
//     app (never as PID 1), forwards signals, reaps, and exits with the
//     app's status;
//   - sandbox: writes an OCI bundle into the unit's private /tmp and
//     replaces itself with gVisor's `runsc run`, which stays in the unit's
//     cgroup (--ignore-cgroups), so systemd's limits and kill apply.
//
// Every level, process included, also runs the wrapper's guard mode as the
// unit's ExecStartPre=+ (full privileges, in the unit's cgroup, before the
// app): it attaches the port guard (package portguard), so no process of
// the unit can bind a port of the tenant range but the instance's own.
//
// Units run it as ten-isolate, a small binary of its own (cmd/ten-isolate),
// or where that is not installed as ten's hidden command `ten isolate`
// (WrapperPath); Options.Args and Parse are the one definition of its
// arguments.
package isolation

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// The wrapper's modes. Namespace and Sandbox are what units render; Init
// and Exec are internal stages of the namespace mode.
const (
	ModeNamespace = "namespace"
	ModeSandbox   = "sandbox"
	ModeGuard     = "guard" // ExecStartPre=+ of every level: the port guard
	ModeInit      = "init"  // PID 1 of the new namespaces
	ModeExec      = "exec"  // sets LISTEN_PID to its own pid, then execs the app
)

// ExitWrapperFailed is the wrapper's exit status when it fails before the
// app runs (as container runtimes do, so it stands apart from the app's
// own statuses).
const ExitWrapperFailed = 125

// Command is the ten subcommand that runs the wrapper.
const Command = "isolate"

// WrapperName is the wrapper's own small binary, installed next to ten (a
// build tree) or in WrapperDir (the packages).
const WrapperName = "ten-isolate"

// WrapperDir is where the packages install the wrapper.
const WrapperDir = "/usr/lib/tenement"

// WrapperPath returns the wrapper for units to run: ten-isolate next to
// the ten executable exe, else in WrapperDir, else exe itself, whose hidden
// `isolate` command is the same wrapper (only slower to start). Either
// takes the command line Options.Args writes.
func WrapperPath(exe string) string {
	for _, p := range []string{filepath.Join(filepath.Dir(exe), WrapperName), filepath.Join(WrapperDir, WrapperName)} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return exe
}

// UserName returns the name of an instance's dynamic user (User= with
// DynamicUser=yes): "tn-" and 16 hex digits of a hash of the instance name.
// Every instance gets its own, so its own UID; it is short enough for
// systemd (at most 31 characters) and the same on every start.
func UserName(n names.Instance) string {
	sum := sha256.Sum256([]byte(n.String()))
	return "tn-" + hex.EncodeToString(sum[:8])
}

// ContainerID returns the gVisor container id of an instance's sandbox.
func ContainerID(n names.Instance) string { return "tenement-" + n.UnitInstance() }

// Options are the wrapper's arguments.
type Options struct {
	Mode string
	// User is the unit's dynamic user (namespace, sandbox).
	User string
	// DataDir is the instance's data dir; the wrapper makes User own it
	// (namespace, sandbox).
	DataDir string
	// ID is the gVisor container id (sandbox).
	ID string
	// UID and GID are the user the init drops to (init).
	UID, GID int
	// StatusFD is the pipe on which the init reports how the app ended
	// (init; 0 for none).
	StatusFD int
	// Port is the instance's own port, and PortLow-PortHigh the tenant
	// port range, in which the instance may bind only Port (guard).
	Port, PortLow, PortHigh int
	// Argv is the app's command line; Argv[0] is an absolute path (every
	// mode but guard, which runs no app).
	Argv []string
}

// Args returns the wrapper's arguments, after the program name.
func (o Options) Args() []string {
	a := []string{Command, o.Mode}
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--user", o.User)
	add("--data", o.DataDir)
	add("--id", o.ID)
	if o.Mode == ModeInit {
		a = append(a, "--uid", strconv.Itoa(o.UID), "--gid", strconv.Itoa(o.GID))
		if o.StatusFD > 0 {
			a = append(a, "--status-fd", strconv.Itoa(o.StatusFD))
		}
	}
	if o.Mode == ModeGuard {
		return append(a, "--port", strconv.Itoa(o.Port), "--range", strconv.Itoa(o.PortLow)+"-"+strconv.Itoa(o.PortHigh))
	}
	a = append(a, "--")
	return append(a, o.Argv...)
}

// Parse parses the arguments that follow Command.
func Parse(args []string) (Options, error) {
	var o Options
	if len(args) == 0 {
		return o, fmt.Errorf("%w: %s: want a mode: %s, %s or %s", errdefs.ErrInvalid, Command, ModeNamespace, ModeSandbox, ModeGuard)
	}
	o.Mode, args = args[0], args[1:]
	switch o.Mode {
	case ModeNamespace, ModeSandbox, ModeGuard, ModeInit, ModeExec:
	default:
		return o, fmt.Errorf("%w: %s: unknown mode %q", errdefs.ErrInvalid, Command, o.Mode)
	}
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			return o, fmt.Errorf("%w: %s: flag %s needs a value", errdefs.ErrInvalid, Command, args[0])
		}
		flag, v := args[0], args[1]
		args = args[2:]
		var err error
		switch flag {
		case "--user":
			o.User = v
		case "--data":
			o.DataDir = v
		case "--id":
			o.ID = v
		case "--uid":
			o.UID, err = strconv.Atoi(v)
		case "--gid":
			o.GID, err = strconv.Atoi(v)
		case "--status-fd":
			o.StatusFD, err = strconv.Atoi(v)
		case "--port":
			o.Port, err = strconv.Atoi(v)
		case "--range":
			o.PortLow, o.PortHigh, err = parseRange(v)
		default:
			return o, fmt.Errorf("%w: %s: unknown flag %s", errdefs.ErrInvalid, Command, flag)
		}
		if err != nil {
			return o, fmt.Errorf("%w: %s: %s %q: not a number", errdefs.ErrInvalid, Command, flag, v)
		}
	}
	if o.Mode == ModeGuard && len(args) == 0 {
		return o, o.validate() // the guard runs no app: "--" is optional
	}
	if len(args) == 0 {
		return o, fmt.Errorf("%w: %s: want \"--\" and the app's command line", errdefs.ErrInvalid, Command)
	}
	o.Argv = args[1:]
	return o, o.validate()
}

func (o Options) validate() error {
	var err error
	switch {
	case o.Mode == ModeGuard:
		err = o.validateGuard()
	case len(o.Argv) == 0 || !filepath.IsAbs(o.Argv[0]):
		err = errors.New("the app's program must be an absolute path")
	case (o.Mode == ModeNamespace || o.Mode == ModeSandbox) && o.User == "":
		err = errors.New("--user is required")
	case (o.Mode == ModeNamespace || o.Mode == ModeSandbox) && !filepath.IsAbs(o.DataDir):
		err = errors.New("--data must be an absolute path")
	case o.Mode == ModeSandbox && o.ID == "":
		err = errors.New("--id is required")
	case o.Mode == ModeInit && (o.UID <= 0 || o.GID <= 0):
		err = errors.New("--uid and --gid must name an unprivileged user")
	}
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", errdefs.ErrInvalid, Command, o.Mode, err)
	}
	return nil
}

func (o Options) validateGuard() error {
	switch {
	case len(o.Argv) > 0:
		return errors.New("the guard runs no app")
	case o.Port < 1 || o.Port > 65535:
		return errors.New("--port must be a port (1-65535)")
	case o.PortLow < 1 || o.PortHigh > 65535 || o.PortLow > o.PortHigh:
		return errors.New("--range must be LOW-HIGH, 1 <= LOW <= HIGH <= 65535")
	}
	return nil
}

// parseRange parses "LOW-HIGH".
func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("want LOW-HIGH")
	}
	if lo, err = strconv.Atoi(a); err == nil {
		hi, err = strconv.Atoi(b)
	}
	return lo, hi, err
}
