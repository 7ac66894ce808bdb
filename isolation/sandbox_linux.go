package isolation

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// runSandbox writes the instance's OCI bundle and runs `runsc run` on it.
// It stays the unit's main process because runsc run, without a terminal,
// does not pass signals on: the wrapper sends them to the sandbox process,
// which delivers them to the app (so the unit's KillMode is "mixed": the
// stop's SIGTERM reaches the app once, and only the final SIGKILL goes to
// every process). It ends as runsc ends.
func runSandbox(o Options) (int, error) {
	u, err := prepare(o)
	if err != nil {
		return ExitWrapperFailed, err
	}
	runsc, err := exec.LookPath("runsc")
	if err != nil {
		return ExitWrapperFailed, fmt.Errorf("isolation = \"sandbox\" needs gVisor's runsc (%s, installed by scripts/deps; see docs/isolation.md): %w", RunscVersion, err)
	}
	// State of an earlier run of this unit (a crash restart keeps the
	// private /tmp) would make runsc refuse the container id.
	if err := os.RemoveAll(sandboxDir); err != nil {
		return ExitWrapperFailed, err
	}
	bundle := filepath.Join(sandboxDir, "bundle")
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return ExitWrapperFailed, err
	}
	cwd, _ := os.Getwd()
	spec, err := BundleSpec(o, u, os.Environ(), cwd)
	if err != nil {
		return ExitWrapperFailed, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), spec, 0o600); err != nil {
		return ExitWrapperFailed, err
	}

	args := RunscArgs(runsc, sandboxDir, o.ID)
	cmd := exec.Command(runsc, args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = envWithout(os.Environ(), sandboxEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, signals()...)
	if err := cmd.Start(); err != nil {
		return ExitWrapperFailed, fmt.Errorf("start runsc: %w", err)
	}
	go func() {
		for s := range sigs {
			if pid := sandboxPID(); pid > 0 {
				syscall.Kill(pid, s.(syscall.Signal))
			} else {
				cmd.Process.Signal(s) // not started yet: runsc stops it
			}
		}
	}()
	werr := cmd.Wait()
	signal.Stop(sigs)
	if cmd.ProcessState == nil {
		return ExitWrapperFailed, werr
	}
	st := runscStatus(waitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus)))
	if st.signal != 0 {
		dieOf(st.signal)
	}
	return st.exitCode(), nil
}

// sandboxPID reads the pid runsc wrote for the sandbox process, or 0.
func sandboxPID() int {
	b, err := os.ReadFile(filepath.Join(sandboxDir, "sandbox.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
