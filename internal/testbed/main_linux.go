//go:build linux

package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Main is what an integration test package's TestMain calls:
//
//	func TestMain(m *testing.M) { os.Exit(testbed.Main(m, nil)) }
//
// Inside a manager it runs the tests. On the host it boots a manager (NET=private; a unified
// cgroup tree if TENEMENT_TESTBED_CGROUP=unified), runs this test binary inside it with the
// same arguments and returns its exit code; the manager and the run's share dir are removed
// afterwards unless TENEMENT_TESTBED_KEEP=1. setup, if non-nil, runs on the host before the
// boot and may put extra files (binaries built for the tests) into the share dir, whose path
// it gets. If no manager can be had, Main runs the tests on the host and Require skips (or
// fails in CI).
func Main(m *testing.M, setup func(share string) error) int {
	if Inside() {
		dieWithLauncher()
		return m.Run()
	}
	if c := os.Getenv(EnvCgroup); c != "" && c != "host" && c != "unified" { // a typo must not test the default instead
		fmt.Fprintf(os.Stderr, "testbed: %s=%q: want \"unified\" or \"host\"\n", EnvCgroup, c)
		return 2
	}
	code, ran, err := runInManager(setup)
	if ran {
		return code
	}
	noManager = err.Error()
	fmt.Fprintf(os.Stderr, "testbed: no systemd manager (%s); running on the host, tests that Require it will %s\n",
		noManager, map[bool]string{false: "skip", true: "fail"}[Strict()])
	return m.Run()
}

// dieWithLauncher makes the test binary started by Main (its parent, nsenter, lives outside
// the manager's pid namespace, so getppid returns 0) die with it, e.g. when `go test` is killed.
func dieWithLauncher() {
	if os.Getppid() != 0 {
		return
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
	if os.Getppid() != 0 { // nsenter died before the prctl: we were reparented to PID 1
		os.Exit(1)
	}
}

// launcher is one run of Main on the host.
type launcher struct {
	name, share, cwd string
	keep             bool

	mu     sync.Mutex
	child  *os.Process // nsenter running the tests, once started
	caught os.Signal   // first SIGINT/SIGTERM/SIGQUIT received
}

// runInManager returns ran=false and the reason if the tests should run on the host instead.
func runInManager(setup func(string) error) (code int, ran bool, err error) {
	if err := available(); err != nil {
		return 0, false, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 0, false, err
	}
	l := &launcher{cwd: cwd, keep: os.Getenv(EnvKeep) == "1"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	done := make(chan struct{})
	defer func() { signal.Stop(sigc); close(done) }()
	go l.forwardSignals(sigc, done, cancel)

	if err := CleanupStale(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "testbed: warning:", err)
	}
	code, err = l.run(ctx, setup)
	if sig := l.signal(); sig != nil && err != nil { // boot aborted by a signal: do not run on the host
		fmt.Fprintf(os.Stderr, "testbed: %v during boot: %v\n", sig, err)
		return 128 + int(sig.(syscall.Signal)), true, nil
	}
	return code, err == nil, err
}

func (l *launcher) run(ctx context.Context, setup func(string) error) (int, error) {
	l.name = newName()
	bin, err := l.makeShare()
	if err != nil {
		return 0, err
	}
	var m *Manager
	defer func() { l.finish(m) }()
	if setup != nil {
		if err := setup(l.share); err != nil {
			return 0, fmt.Errorf("setup: %w", err)
		}
	}
	t0 := time.Now()
	owner := strconv.Itoa(os.Getpid())
	if l.keep {
		owner = "none"
	}
	m, err = start(ctx, Options{Name: l.name, Net: "private", Share: l.shares(), Cgroup: os.Getenv(EnvCgroup)}, owner)
	if err != nil {
		return 0, err
	}
	boot := time.Since(t0)
	version := "systemd"
	if out, err := m.Command(ctx, "systemctl", "--version").Output(); err == nil {
		version, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	fmt.Fprintf(os.Stderr, "testbed: %s manager %s (host pid %d, private netns) booted in %.2fs (cgroup: %s); running tests inside\n",
		version, l.name, m.PID, boot.Seconds(), m.Cgroup)

	cmd := exec.Command("nsenter", append(m.nsenterArgs(), append([]string{bin}, os.Args[1:]...)...)...)
	cmd.Env = append(os.Environ(), EnvInside+"="+l.name, EnvShare+"="+l.share, "TMPDIR="+filepath.Join(l.share, "tmp"))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	l.mu.Lock()
	if l.caught != nil {
		l.mu.Unlock()
		return 0, errors.New("interrupted")
	}
	err = cmd.Start()
	if err == nil {
		l.child = cmd.Process
	}
	l.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("nsenter: %w", err)
	}
	err = cmd.Wait()
	l.mu.Lock()
	l.child = nil
	l.mu.Unlock()
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "testbed: running the tests inside:", err)
		return 1, nil
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// finish stops the manager and removes the share dir, or explains how to do so later.
func (l *launcher) finish(m *Manager) {
	if l.keep && m != nil {
		stopper := filepath.Join(l.share, "sdboot.sh")
		if err := os.WriteFile(stopper, []byte(script), 0o755); err != nil {
			stopper = "internal/testbed/sdboot.sh"
		}
		fmt.Fprintf(os.Stderr, "testbed: %s=1: manager %s left running (host pid %d, share %s)\n"+
			"testbed:   enter it:  nsenter -t %d -a bash\n"+
			"testbed:   system bus: DBUS_SYSTEM_BUS_ADDRESS=%s\n"+
			"testbed:   stop it:   bash %s stop %s\n",
			EnvKeep, m.Name, m.PID, l.share, m.PID, m.SystemBus(), stopper, m.Name)
		return
	}
	if m == nil { // start failed or was not reached: the script already cleaned up after itself
		m = &Manager{Name: l.name}
	}
	err := m.Stop()
	if rerr := os.RemoveAll(l.share); err == nil {
		err = rerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbed: cleanup:", err)
	} else if m.PID != 0 {
		fmt.Fprintf(os.Stderr, "testbed: manager %s stopped\n", m.Name)
	}
}

// forwardSignals passes SIGINT/SIGTERM/SIGQUIT to the test binary running inside, or aborts
// the boot if the tests have not started yet.
func (l *launcher) forwardSignals(sigc <-chan os.Signal, done <-chan struct{}, cancel func()) {
	for {
		select {
		case <-done:
			return
		case sig := <-sigc:
			l.mu.Lock()
			if l.caught == nil {
				l.caught = sig
			}
			p := l.child
			l.mu.Unlock()
			if p == nil {
				cancel()
				continue
			}
			// nsenter forks the binary into the pid namespace and does not forward signals
			kids := children(p.Pid)
			if len(kids) == 0 {
				_ = p.Signal(sig)
			}
			for _, k := range kids {
				_ = syscall.Kill(k, sig.(syscall.Signal))
			}
		}
	}
}

func (l *launcher) signal() os.Signal {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.caught
}

func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var kids []int
	for _, f := range strings.Fields(string(b)) {
		if k, err := strconv.Atoi(f); err == nil {
			kids = append(kids, k)
		}
	}
	return kids
}

// newName returns a fresh manager name, tb-<pid>-<4 random hex digits>.
func newName() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("tb-%d-%s", os.Getpid(), hex.EncodeToString(b))
}
