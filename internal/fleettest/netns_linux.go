//go:build linux

package fleettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// dieWithUs makes cmd's process die with this one, whatever kills it.
func dieWithUs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// inNetNS runs f on a thread that has joined the network namespace at
// path: sockets f creates belong to that namespace for good, while the
// rest of the process stays in its own. The thread returns to its own
// namespace afterwards; if it cannot, it stays locked and Go discards it.
func inNetNS(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := func() error {
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				return err
			}
			defer orig.Close()
			target, err := os.Open(path)
			if err != nil {
				return err
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("join %s: %w", path, err)
			}
			ferr := f()
			if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
				errc <- errors.Join(ferr, fmt.Errorf("return from %s: %w", path, err))
				runtime.Goexit() // still locked: the thread is not reused
			}
			return ferr
		}()
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// dialIn dials addr (an IP literal and port: no lookup, which could run
// on another thread) from the network namespace at path.
func dialIn(ctx context.Context, path, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) == nil {
		return nil, fmt.Errorf("fleettest: dial %s: want an IP address, not a name", addr)
	}
	var c net.Conn
	err = inNetNS(path, func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// listenIn listens on addr in the network namespace at path.
func listenIn(path, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetNS(path, func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}
