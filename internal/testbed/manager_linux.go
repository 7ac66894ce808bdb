//go:build linux

package testbed

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// script is sdboot.sh; it runs as `bash -c script sdboot.sh SUBCOMMAND ...`.
//
//go:embed sdboot.sh
var script string

// available reports why this process cannot boot a manager, or nil.
func available() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	for _, tool := range []string{"bash", "unshare", "nsenter", "flock", "setsid", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found", tool)
		}
	}
	if _, err := os.Stat("/lib/systemd/systemd"); err != nil {
		return errors.New("/lib/systemd/systemd not found")
	}
	return nil
}

// runScript runs a subcommand of the embedded script and returns its stdout. Cancelling ctx
// sends SIGTERM, on which the script cleans up what it started.
func runScript(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", script, "sdboot.sh"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "(no output)"
		}
		return stdout.String(), fmt.Errorf("sdboot.sh %s: %v:\n%s", strings.Join(args, " "), err, msg)
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		fmt.Fprintln(os.Stderr, s)
	}
	return stdout.String(), nil
}

// Start boots a manager and returns once `systemctl is-system-running` inside says running or
// degraded. The manager is owned by this process: if the process dies without calling Stop,
// the manager becomes stale and the next CleanupStale removes it.
func Start(ctx context.Context, opts Options) (*Manager, error) {
	return start(ctx, opts, strconv.Itoa(os.Getpid()))
}

// start is Start with an explicit owner: a pid, or "none" for a manager kept until Stop.
func start(ctx context.Context, opts Options, owner string) (*Manager, error) {
	opts, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := available(); err != nil {
		return nil, fmt.Errorf("testbed: cannot boot a manager: %w", err)
	}
	env := []string{"NET=" + opts.Net, "CGROUP=" + opts.Cgroup, "SHARE=" + strings.Join(opts.Share, " "), "OWNER=" + owner}
	out, err := runScript(ctx, env, "start", opts.Name)
	if err != nil {
		return nil, fmt.Errorf("testbed: start %s: %w", opts.Name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || pid <= 1 {
		_ = (&Manager{Name: opts.Name}).Stop()
		return nil, fmt.Errorf("testbed: start %s: unexpected output %q", opts.Name, out)
	}
	// the manager's root, seen from the host through its mount namespace
	layout := cgroupLayout(fmt.Sprintf("/proc/%d/root", pid))
	if opts.Cgroup == "unified" && layout != "unified" {
		_ = (&Manager{Name: opts.Name}).Stop()
		return nil, fmt.Errorf("testbed: start %s: asked for a unified cgroup tree, booted %s", opts.Name, layout)
	}
	return &Manager{Name: opts.Name, PID: pid, Cgroup: layout}, nil
}

// Stop powers the manager off (SIGKILL after 10 s) and removes its cgroups, its state dir
// and its share dir (StateRoot/NAME.share). It is idempotent and also works when the manager
// has already died.
func (m *Manager) Stop() error {
	if !validName(m.Name) {
		return fmt.Errorf("testbed: invalid manager name %q", m.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := runScript(ctx, nil, "stop", m.Name); err != nil {
		return fmt.Errorf("testbed: stop %s: %w", m.Name, err)
	}
	return nil
}

// Command returns a command that runs name inside all of the manager's namespaces, in the
// current working directory (which must be visible inside, e.g. shared). It uses nsenter's
// --wdns, which resolves the directory inside; --wd would leave the process in the host's
// directory, outside its root, where getcwd fails.
func (m *Manager) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append(m.nsenterArgs(), append([]string{name}, args...)...)...)
}

func (m *Manager) nsenterArgs() []string {
	a := []string{"-t", strconv.Itoa(m.PID), "-a"}
	if cwd, err := os.Getwd(); err == nil {
		a = append(a, "--wdns="+cwd)
	}
	return append(a, "--")
}

// CleanupStale stops every manager under StateRoot whose owner process is gone (checked by
// pid and start time, so a reused pid does not count) or whose PID 1 has died, and removes
// share dirs and tenement-testbed-* cgroups left without a manager. Running managers of other
// owners are never touched. What it cleans is reported on stderr.
func CleanupStale(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("testbed: cleanup-stale needs root")
	}
	out, err := runScript(ctx, nil, "cleanup-stale")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			fmt.Fprintln(os.Stderr, "testbed: cleanup-stale:", line)
		}
	}
	if err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	return nil
}
