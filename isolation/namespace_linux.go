package isolation

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func run(o Options) (int, error) {
	switch o.Mode {
	case ModeNamespace:
		return runNamespace(o)
	case ModeSandbox:
		return runSandbox(o)
	case ModeGuard:
		return runGuard(o)
	case ModeInit:
		return runInit(o)
	case ModeExec:
		return runExec(o)
	}
	return ExitWrapperFailed, fmt.Errorf("unknown mode %q", o.Mode)
}

// prepare learns the unit's dynamic user and makes it own the data dir.
// It runs as root, inside the unit's sandbox.
func prepare(o Options) (User, error) {
	if os.Geteuid() != 0 {
		return User{}, fmt.Errorf("must start as root (ExecStartEx flag no-setuid, the \"!\" prefix), not as uid %d", os.Geteuid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := LookupUser(ctx, DynamicUserSocket, o.User)
	if err != nil {
		return User{}, err
	}
	if err := ensureOwner(o.DataDir, u.UID, u.GID); err != nil {
		return User{}, err
	}
	return u, nil
}

// runNamespace is the wrapper outside the namespaces, the unit's main
// process. It starts itself again as the init of a new PID and mount
// namespace, passes on signals, and ends as the app ended.
func runNamespace(o Options) (int, error) {
	u, err := prepare(o)
	if err != nil {
		return ExitWrapperFailed, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return ExitWrapperFailed, err
	}
	defer r.Close()
	// Socket activation: fds 3… stay 3… in the init and the app; the
	// status pipe comes after them.
	extra := listenFiles()
	extra = append(extra, w)
	initOpts := Options{Mode: ModeInit, UID: u.UID, GID: u.GID, StatusFD: 2 + len(extra), Argv: o.Argv}
	cmd := exec.Command("/proc/self/exe", initOpts.Args()...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, signals()...)
	if err := cmd.Start(); err != nil {
		return ExitWrapperFailed, fmt.Errorf("start the namespace init: %w", err)
	}
	for _, f := range extra {
		f.Close()
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	report, _ := io.ReadAll(io.LimitReader(r, 64))
	werr := cmd.Wait()
	signal.Stop(sigs)
	st, ok := parseStatus(string(report))
	if !ok {
		// The init died before the app ended (it was killed): end as
		// it ended.
		if cmd.ProcessState == nil {
			return ExitWrapperFailed, werr
		}
		st = waitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus))
	}
	if st.signal != 0 {
		dieOf(st.signal)
	}
	return st.exitCode(), nil
}

// listenFiles returns the sockets systemd passed (LISTEN_FDS), fds 3….
func listenFiles() []*os.File {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	files := make([]*os.File, 0, n)
	for i := 0; i < n && i < 64; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "listen-"+strconv.Itoa(i)))
	}
	return files
}

func signals() []os.Signal {
	out := make([]os.Signal, len(forwarded))
	for i, s := range forwarded {
		out[i] = s
	}
	return out
}

// dieOf ends the process with sig, so systemd sees the app's signal (a
// memory kill is SIGKILL). Signals the Go runtime treats as crashes end
// with 128+sig instead.
func dieOf(sig syscall.Signal) {
	switch sig {
	case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGSYS:
		os.Exit(128 + int(sig))
	}
	signal.Reset(sig)
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
	os.Exit(128 + int(sig))
}

// runExec is the last step before the app when sockets are passed: the
// app must see LISTEN_PID as its own pid, which only it can know.
func runExec(o Options) (int, error) {
	env := envWithout(os.Environ(), "LISTEN_PID")
	env = append(env, "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	err := syscall.Exec(o.Argv[0], o.Argv, env)
	return ExitWrapperFailed, fmt.Errorf("exec %s: %w", o.Argv[0], err)
}
