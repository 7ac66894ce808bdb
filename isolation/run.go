package isolation

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
)

// Main runs the wrapper with the arguments that follow Command and returns
// the exit status to exit with. It does not return when it replaces itself
// with the app or with runsc, when it ends itself with the signal that
// ended the app, nor when the guard succeeds (it exits at once).
func Main(args []string, stderr io.Writer) int {
	o, err := Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ten %s: %v\n", Command, err)
		return ExitWrapperFailed
	}
	code, err := run(o)
	if err != nil {
		fmt.Fprintf(stderr, "ten %s %s: %v\n", Command, o.Mode, err)
		return ExitWrapperFailed
	}
	return code
}

// status is how the app ended, as the init reports it to the wrapper
// outside the namespaces: "exit N" or "signal N".
type status struct {
	signal syscall.Signal // 0 when it exited
	code   int
}

func (s status) String() string {
	if s.signal != 0 {
		return "signal " + strconv.Itoa(int(s.signal))
	}
	return "exit " + strconv.Itoa(s.code)
}

// exitCode is the shell's convention for the status: the code, or 128 plus
// the signal.
func (s status) exitCode() int {
	if s.signal != 0 {
		return 128 + int(s.signal)
	}
	return s.code
}

func waitStatus(ws syscall.WaitStatus) status {
	if ws.Signaled() {
		return status{signal: ws.Signal()}
	}
	return status{code: ws.ExitStatus()}
}

// runscStatus reads how the app ended from how runsc run ended: runsc
// exits with 128 plus the signal that killed the app (as a shell does; so
// does an app that exits with such a code itself, which is rare). Its own
// failures are 128.
func runscStatus(st status) status {
	if st.signal == 0 && st.code > 128 && st.code <= 128+64 {
		return status{signal: syscall.Signal(st.code - 128)}
	}
	return st
}

func parseStatus(s string) (status, bool) {
	kind, num, ok := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || n > 255 {
		return status{}, false
	}
	switch kind {
	case "exit":
		return status{code: n}, true
	case "signal":
		if n == 0 || n > 64 {
			return status{}, false
		}
		return status{signal: syscall.Signal(n)}, true
	}
	return status{}, false
}

// forwarded are the signals the wrapper and the init pass on to the app.
var forwarded = []syscall.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2,
}

// envWithout returns env without the variables named in drop.
func envWithout(env []string, drop ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		for _, d := range drop {
			if k == d {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// getenv returns the value of key in env.
func getenv(env []string, key string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, key+"="); ok {
			return v
		}
	}
	return ""
}
