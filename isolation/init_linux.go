package isolation

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// readOnlyProc are the /proc paths systemd's ProtectKernelTunables= makes
// read-only; a fresh /proc mount would undo that, so the init does it again.
var readOnlyProc = []string{
	"/proc/sys", "/proc/sysrq-trigger", "/proc/latency_stats", "/proc/acpi",
	"/proc/apm", "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
	"/proc/mtrr", "/proc/scsi", "/proc/timer_stats",
}

// maskedProc are files ProtectKernelLogs= and ProtectKernelTunables= make
// inaccessible; /dev/null is bound over them.
var maskedProc = []string{"/proc/kmsg", "/proc/kcore"}

// runInit is PID 1 of the instance's own PID and mount namespace. It mounts
// a /proc that shows only the namespace's processes, drops to the
// instance's user, starts the app, passes signals on, reaps orphans, and
// exits as the app exits (the kernel then kills whatever is left).
func runInit(o Options) (int, error) {
	if os.Getpid() != 1 {
		return ExitWrapperFailed, fmt.Errorf("not PID 1 of a new PID namespace (pid %d)", os.Getpid())
	}
	var report *os.File
	if o.StatusFD > 2 {
		syscall.CloseOnExec(o.StatusFD)
		report = os.NewFile(uintptr(o.StatusFD), "status")
	}
	if err := mountProc(); err != nil {
		return ExitWrapperFailed, err
	}
	if err := dropTo(o.UID, o.GID); err != nil {
		return ExitWrapperFailed, err
	}

	path, argv := o.Argv[0], o.Argv
	env := os.Environ()
	files := []uintptr{0, 1, 2}
	if n, _ := strconv.Atoi(getenv(env, "LISTEN_FDS")); n > 0 {
		for i := 0; i < n && i < 64; i++ {
			files = append(files, uintptr(3+i))
		}
		// Only the app knows its pid: a last exec sets LISTEN_PID.
		self, err := os.Executable()
		if err != nil {
			return ExitWrapperFailed, err
		}
		path = self
		argv = append([]string{os.Args[0]}, Options{Mode: ModeExec, Argv: o.Argv}.Args()...)
	}

	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, append(signals(), syscall.SIGCHLD)...)
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files})
	if err != nil {
		return ExitWrapperFailed, fmt.Errorf("start %s: %w", o.Argv[0], err)
	}
	for s := range sigs {
		if s != syscall.SIGCHLD {
			syscall.Kill(pid, s.(syscall.Signal))
			continue
		}
		if st, done := reap(pid); done {
			if report != nil {
				fmt.Fprint(report, st.String())
			}
			return st.exitCode(), nil
		}
	}
	return ExitWrapperFailed, errors.New("signal channel closed")
}

// reap collects every exited child; done is true when app was one of
// them.
func reap(app int) (st status, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return st, done
		}
		if pid == app {
			st, done = waitStatus(ws), true
		}
	}
}

// mountProc makes the mount namespace private and mounts a /proc of the
// new PID namespace, with systemd's protections of /proc applied again.
func mountProc() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for _, p := range readOnlyProc {
		if err := bindReadOnly(p); err != nil {
			return err
		}
	}
	for _, p := range maskedProc {
		if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

func bindReadOnly(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("bind %s: %w", p, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("", p, "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}

// dropTo makes the process uid:gid with no supplementary groups. Go applies
// these to every thread.
func dropTo(uid, gid int) error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}
