package fleettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvEtcd names the etcd binary to use instead of the one in PATH.
const EnvEtcd = "TENEMENT_ETCD"

// EnvRequireEtcd=1 turns RequireEtcd's skip into a failure, as a non-empty
// $CI does.
const EnvRequireEtcd = "TENEMENT_REQUIRE_ETCD"

// EtcdBinary returns the etcd server binary: $TENEMENT_ETCD, else etcd in
// PATH (scripts/deps unpacks Debian's etcd-server there).
func EtcdBinary() (string, error) {
	if p := os.Getenv(EnvEtcd); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("etcd")
	if err != nil {
		return "", errors.New("no etcd binary in PATH (scripts/deps installs Debian's etcd-server binary; or set " + EnvEtcd + ")")
	}
	return p, nil
}

// RequireEtcd returns the etcd binary, or skips the test without one; in
// CI ($CI non-empty) or with TENEMENT_REQUIRE_ETCD=1 it fails instead: a
// skipped test there would hide a missing dependency.
func RequireEtcd(t testing.TB) string {
	t.Helper()
	bin, err := EtcdBinary()
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" || os.Getenv(EnvRequireEtcd) == "1" {
		t.Fatalf("fleettest: %v (a skip counts as a failure because $CI or %s=1 is set)", err, EnvRequireEtcd)
	}
	t.Skipf("fleettest: %v", err)
	return ""
}

// EtcdOptions configure StartEtcd.
type EtcdOptions struct {
	// Dir is the data dir; it is created if missing and kept by Stop, so
	// that Start brings the same cluster back. Required.
	Dir string
	// IP is the address etcd listens on. Default 127.0.0.1.
	IP string
	// ClientPort and PeerPort default to free loopback ports when IP is
	// 127.0.0.1, else to 2379 and 2380.
	ClientPort, PeerPort int
	// NetNS is the path of a network namespace (/proc/PID/ns/net) to run
	// etcd in, through nsenter. Default: this process's.
	NetNS string
	// Dial reaches the client port for the ready check. Default: a plain
	// net.Dialer (right when NetNS is empty).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Etcd is one etcd server process, a single-member cluster.
type Etcd struct {
	opts EtcdOptions
	bin  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}

	logMu sync.Mutex
	logs  bytes.Buffer
}

// StartEtcd starts etcd and waits until it answers /health.
func StartEtcd(ctx context.Context, opts EtcdOptions) (*Etcd, error) {
	bin, err := EtcdBinary()
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("fleettest: etcd: no data dir")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	e := &Etcd{opts: opts, bin: bin}
	for try := 0; ; try++ {
		if err := e.ports(); err != nil {
			return nil, err
		}
		err = e.Start(ctx)
		// a free loopback port may be taken between the probe and the bind
		if err == nil || opts.ClientPort != 0 || try == 2 || !strings.Contains(e.Logs(), "address already in use") {
			return e, err
		}
		e.opts.ClientPort, e.opts.PeerPort = 0, 0
	}
}

// ports fills the ports not given: etcd's usual ones in a namespace of
// the test's own, free ones on the shared loopback.
func (e *Etcd) ports() error {
	for _, p := range []struct {
		port *int
		def  int
	}{{&e.opts.ClientPort, 2379}, {&e.opts.PeerPort, 2380}} {
		if *p.port != 0 {
			continue
		}
		if e.opts.IP != "127.0.0.1" {
			*p.port = p.def
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		*p.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return nil
}

// Endpoint is the client URL, http://IP:PORT.
func (e *Etcd) Endpoint() string {
	return "http://" + net.JoinHostPort(e.opts.IP, strconv.Itoa(e.opts.ClientPort))
}

// Dir is the data dir.
func (e *Etcd) Dir() string { return e.opts.Dir }

// Start (re)starts the process on the same data dir and ports and waits
// until it is healthy. It is what a test calls after Stop to bring etcd
// back.
func (e *Etcd) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.cmd != nil {
		e.mu.Unlock()
		return errors.New("fleettest: etcd is running")
	}
	peer := "http://" + net.JoinHostPort(e.opts.IP, strconv.Itoa(e.opts.PeerPort))
	args := []string{e.bin, "--name=test", "--data-dir=" + e.opts.Dir,
		"--listen-client-urls=" + e.Endpoint(), "--advertise-client-urls=" + e.Endpoint(),
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=test=" + peer, "--initial-cluster-state=new",
		"--logger=zap", "--log-outputs=stderr", "--log-level=warn"}
	if e.opts.NetNS != "" {
		args = append([]string{"nsenter", "--net=" + e.opts.NetNS, "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	// no ETCD_* variables of ours may configure it
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdout, cmd.Stderr = &lockedWriter{&e.logMu, &e.logs}, &lockedWriter{&e.logMu, &e.logs}
	dieWithUs(cmd)
	if err := cmd.Start(); err != nil {
		e.mu.Unlock()
		return fmt.Errorf("fleettest: start etcd: %w", err)
	}
	e.cmd, e.done = cmd, make(chan struct{})
	done := e.done
	e.mu.Unlock()
	go func() { cmd.Wait(); close(done) }()
	if err := e.waitHealthy(ctx, done); err != nil {
		e.Stop()
		return fmt.Errorf("fleettest: etcd at %s: %w\n%s", e.Endpoint(), err, e.Logs())
	}
	return nil
}

func (e *Etcd) waitHealthy(ctx context.Context, done <-chan struct{}) error {
	dial := e.opts.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var last error
	for {
		select {
		case <-done:
			return errors.New("exited during start")
		case <-ctx.Done():
			return fmt.Errorf("not healthy within 20s: %v", last)
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := c.Get(e.Endpoint() + "/health")
		if err != nil {
			last = err
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"health":"true"`)) {
			return nil
		}
		last = fmt.Errorf("%s: %s", resp.Status, b)
	}
}

// Stop stops the process (SIGTERM, SIGKILL after 10s) and keeps the data
// dir. It is idempotent.
func (e *Etcd) Stop() error {
	e.mu.Lock()
	cmd, done := e.cmd, e.done
	e.cmd = nil
	e.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	return nil
}

// PID returns the process's pid (of nsenter's exec, which is etcd), or 0.
func (e *Etcd) PID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

// Logs returns what etcd printed (warnings and errors only).
func (e *Etcd) Logs() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
