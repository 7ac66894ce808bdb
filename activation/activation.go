// Package activation gives the daemon its listeners and talks to its
// service manager.
//
// Under systemd, tenement.socket holds the listening sockets and passes them
// to the daemon (LISTEN_FDS / LISTEN_FDNAMES): a daemon restart drops no
// connection, because the kernel keeps queueing on the sockets systemd
// holds. A socket's role is its name when that is one (FileDescriptorName=
// http, https, api or front), else its address (Classify). Run by hand, the
// daemon binds the same addresses itself. Notify sends sd_notify states
// (READY=1, RELOADING=1, STOPPING=1, STATUS=).
package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	sdact "github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
)

// Socket roles. A socket whose FileDescriptorName= is one of these plays
// that role. FileDescriptorName= is per .socket unit, so when one unit
// (tenement.socket) carries several sockets they share its name, and
// Classify tells them apart by address instead.
const (
	NameHTTP  = "http"
	NameHTTPS = "https"
	NameAPI   = "api"
	// NameFront is the front proxy's listener (settings.front_listen).
	NameFront = "front"
)

// Listeners holds the sockets systemd passed, by name, until they are
// taken.
type Listeners struct {
	mu        sync.Mutex
	inherited map[string][]net.Listener
	tcp       []string // the addresses of the TCP sockets systemd passed
}

// FromSystemd takes the sockets systemd passed to this process (none when
// it was not socket-activated) and unsets the LISTEN_* variables so
// children do not see them.
func FromSystemd() (*Listeners, error) {
	ls, err := sdact.ListenersWithNames()
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	l := &Listeners{inherited: ls}
	for _, lns := range ls {
		for _, ln := range lns {
			if a, ok := ln.Addr().(*net.TCPAddr); ok {
				l.tcp = append(l.tcp, a.String())
			}
		}
	}
	return l, nil
}

// TCPAddrs returns the addresses (host:port) of the TCP sockets systemd
// passed, whether taken yet or not.
func (l *Listeners) TCPAddrs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tcp...)
}

// Inherited reports whether any socket came from systemd.
func (l *Listeners) Inherited() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.inherited) > 0
}

// TCP returns the socket named name from systemd, else binds addr. The
// second result tells which it was.
func (l *Listeners) TCP(name, addr string) (net.Listener, bool, error) {
	if ln := l.take(name); ln != nil {
		return ln, true, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, false, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, false, nil
}

// Unix returns the socket named name from systemd, else creates a unix
// socket at path with the given mode, never looser even for a moment
// (replacing a stale socket file, never a live one). gid >= 0 sets the
// socket's group.
func (l *Listeners) Unix(name, path string, mode os.FileMode, gid int) (net.Listener, bool, error) {
	if ln := l.take(name); ln != nil {
		return ln, true, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, fmt.Errorf("listen %s: %w", path, err)
	}
	if err := removeStale(path); err != nil {
		return nil, false, err
	}
	// Connecting is the permission check of a unix socket, so it must
	// never exist with a looser mode than asked, not even until the
	// Chmod below: bind it under a umask that leaves exactly mode. (The
	// umask is the process's, changed for the moment of the bind, while
	// the daemon starts.)
	old := syscall.Umask(int(0o777 &^ mode.Perm()))
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, false, fmt.Errorf("listen %s: %w", path, err)
	}
	// The listener must not unlink the path on Close: a replacement
	// daemon may already own it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, false, fmt.Errorf("listen %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, 0, gid); err != nil {
			ln.Close()
			return nil, false, fmt.Errorf("listen %s: %w", path, err)
		}
	}
	return ln, false, nil
}

func (l *Listeners) take(name string) net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.inherited[name]
	if len(ls) == 0 {
		return nil
	}
	ln := ls[0]
	l.inherited[name] = ls[1:]
	return ln
}

// Unused returns the names of passed sockets nobody took, and closes them.
func (l *Listeners) Unused() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for name, ls := range l.inherited {
		for _, ln := range ls {
			ln.Close()
			out = append(out, name)
		}
	}
	l.inherited = nil
	return out
}

// removeStale removes a socket file nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("listen %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("listen %s: another process is serving it (is a daemon already running?)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("listen %s: %w", path, err)
	}
	return os.Remove(path)
}

// Notify sends an sd_notify state to the service manager; it does nothing
// when there is none.
func Notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// The states Notify sends.
const (
	Ready    = daemon.SdNotifyReady
	Stopping = daemon.SdNotifyStopping
)

// Reloading returns the RELOADING=1 message with the MONOTONIC_USEC=
// systemd 253+ wants (older systemd ignores the extra field).
func Reloading() string {
	return daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec()
}

// Status returns a STATUS= message.
func Status(s string) string { return "STATUS=" + s }
