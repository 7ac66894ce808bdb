//go:build linux

package fleettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// The fleet's network: addresses that exist only inside the namespaces
// Start makes. The hub (bridge and etcd) is .1, host i is .10+i.
const (
	Subnet = "10.77.0.0/24"
	HubIP  = "10.77.0.1"
	// EtcdPort is etcd's client port on HubIP.
	EtcdPort = 2379
)

// HostIP returns the address of host i (1-based).
func HostIP(i int) string { return fmt.Sprintf("10.77.0.%d", 10+i) }

// Options configure Start.
type Options struct {
	// Hosts is how many hosts to boot, 1–9. Default 3.
	Hosts int
	// Share lists more host directories every manager sees at the same
	// path. The Go module (found from the working directory) and the
	// fleet's share dir are always shared.
	Share []string
	// Setup, if set, runs before the managers boot, with the share dir:
	// build the binaries the hosts run into it.
	Setup func(share string) error
}

// Fleet is a running multi-host harness (see the package comment).
type Fleet struct {
	// Name keys everything that belongs to the fleet: fl-<pid>-<hex>.
	Name string
	// Share is a dir on the host that every manager sees at the same path
	// (StateRoot/<name>.share), removed by Stop. etcd's data dir is in it.
	Share string
	// Hosts are the managers, host i at Hosts[i-1].
	Hosts []*Host
	// Etcd is the etcd server, in the hub's namespace at HubIP.
	Etcd *Etcd

	hub      *exec.Cmd // holds the hub's network namespace
	hubNS    string    // /proc/PID/ns/net of hub
	stopOnce sync.Once
	stopErr  error
}

// Host is one tenement host: a systemd manager with its own network
// namespace, whose eth0 has IP on the fleet's bridge.
type Host struct {
	// Name is the host's name in the fleet: h1, h2, ...
	Name string
	// IP is its address on the fleet's network.
	IP string
	*testbed.Manager
}

// NetNS is the path of the host's network namespace.
func (h *Host) NetNS() string { return fmt.Sprintf("/proc/%d/ns/net", h.PID) }

// Listen listens on addr (IP:port) in the host's network namespace, from
// this process: a stand-in server for tests of the network itself.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	return listenIn(h.NetNS(), network, addr)
}

// EtcdEndpoint is etcd's client URL, reachable from every host.
func (f *Fleet) EtcdEndpoint() string {
	return "http://" + net.JoinHostPort(HubIP, strconv.Itoa(EtcdPort))
}

// DialContext dials addr (an IP literal and port) from the hub, as a load
// balancer in front of the hosts would: the test process reaches the
// fleet's addresses only through it.
func (f *Fleet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return dialIn(ctx, f.hubNS, network, addr)
}

// GRPCDialer dials for an etcd client in the test process, through the
// hub: clientv3.Config{DialOptions: []grpc.DialOption{
// grpc.WithContextDialer(f.GRPCDialer)}}.
func (f *Fleet) GRPCDialer(ctx context.Context, addr string) (net.Conn, error) {
	return f.DialContext(ctx, "tcp", addr)
}

// HTTPClient returns a client whose connections start at the hub.
func (f *Fleet) HTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: f.DialContext, MaxIdleConnsPerHost: 64}}
}

// Require skips the test unless a fleet can be started here (root, the
// testbed's tools, ip, nsenter, etcd); in CI ($CI non-empty) or with
// TENEMENT_REQUIRE_SYSTEMD=1 it fails instead.
func Require(t testing.TB) {
	t.Helper()
	err := available()
	if err == nil {
		return
	}
	msg := "fleettest: cannot start a fleet: " + err.Error()
	if os.Getenv("CI") != "" || os.Getenv(testbed.EnvRequire) == "1" {
		t.Fatal(msg + " (a skip counts as a failure because $CI or " + testbed.EnvRequire + "=1 is set)")
	}
	t.Skip(msg)
}

func available() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	for _, tool := range []string{"ip", "nsenter", "unshare", "bash", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found", tool)
		}
	}
	if _, err := os.Stat("/lib/systemd/systemd"); err != nil {
		return errors.New("/lib/systemd/systemd not found")
	}
	_, err := EtcdBinary()
	return err
}

// Start boots the fleet: the hub namespace with its bridge, etcd in it,
// and the hosts' managers (in parallel), each joined to the bridge by a
// veth pair. It removes stale managers and share dirs of dead test
// processes first. On failure it removes whatever it made.
func Start(ctx context.Context, opts Options) (_ *Fleet, err error) {
	if opts.Hosts == 0 {
		opts.Hosts = 3
	}
	if opts.Hosts < 1 || opts.Hosts > 9 {
		return nil, fmt.Errorf("fleettest: %d hosts: want 1–9", opts.Hosts)
	}
	if err := available(); err != nil {
		return nil, fmt.Errorf("fleettest: %w", err)
	}
	if err := testbed.CleanupStale(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fleettest: warning:", err)
	}
	f := &Fleet{Name: newName()}
	defer func() {
		if err != nil {
			f.Stop()
		}
	}()
	if err := f.makeShare(); err != nil {
		return nil, err
	}
	if opts.Setup != nil {
		if err := opts.Setup(f.Share); err != nil {
			return nil, fmt.Errorf("fleettest: setup: %w", err)
		}
	}
	if err := f.startHub(); err != nil {
		return nil, err
	}
	if f.Etcd, err = StartEtcd(ctx, EtcdOptions{Dir: filepath.Join(f.Share, "etcd"), IP: HubIP,
		ClientPort: EtcdPort, NetNS: f.hubNS, Dial: f.DialContext}); err != nil {
		return nil, err
	}
	if err := f.bootHosts(ctx, opts); err != nil {
		return nil, err
	}
	for i, h := range f.Hosts {
		if err := f.wire(i+1, h); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// newName returns fl-<pid>-<4 hex digits>: short enough for the
// managers' names (NAME-hN) and the testbed's name rule.
func newName() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("fl-%d-%s", os.Getpid(), hex.EncodeToString(b))
}

// makeShare creates StateRoot/<name>.share with the testbed's owner record,
// so that the testbed's cleanup-stale removes it if this process dies.
func (f *Fleet) makeShare() error {
	f.Share = filepath.Join(testbed.StateRoot, f.Name+".share")
	if err := os.MkdirAll(f.Share, 0o755); err != nil {
		return fmt.Errorf("fleettest: share dir: %w", err)
	}
	st, err := startTime(os.Getpid())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.Share, ".testbed-owner"), fmt.Appendf(nil, "%d %s\n", os.Getpid(), st), 0o644)
}

// startHub starts the process that holds the hub's network namespace (it
// dies with this process) and makes the bridge there.
func (f *Fleet) startHub() error {
	cmd := exec.Command("sleep", "infinity")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("fleettest: hub namespace: %w", err)
	}
	f.hub, f.hubNS = cmd, fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	return f.ip(f.hubNS,
		"link set lo up",
		"link add br0 type bridge",
		"addr add "+HubIP+"/24 dev br0",
		"link set br0 up")
}

// bootHosts boots the managers in parallel.
func (f *Fleet) bootHosts(ctx context.Context, opts Options) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	share := append([]string{f.Share, testbed.ModuleRoot(cwd)}, opts.Share...)
	f.Hosts = make([]*Host, opts.Hosts)
	errs := make([]error, opts.Hosts)
	var wg sync.WaitGroup
	for i := range opts.Hosts {
		wg.Go(func() {
			name := fmt.Sprintf("h%d", i+1)
			m, err := testbed.Start(ctx, testbed.Options{Name: f.Name + "-" + name, Net: "private", Share: share})
			if err != nil {
				errs[i] = err
				return
			}
			f.Hosts[i] = &Host{Name: name, IP: HostIP(i + 1), Manager: m}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// wire joins host i to the bridge: a veth pair made in the hub, whose
// other end goes straight into the host's namespace as eth0.
func (f *Fleet) wire(i int, h *Host) error {
	veth := fmt.Sprintf("vh%d", i)
	if err := f.ip(f.hubNS,
		fmt.Sprintf("link add %s type veth peer name eth0 netns %d", veth, h.PID),
		"link set "+veth+" master br0",
		"link set "+veth+" up"); err != nil {
		return err
	}
	return f.ip(h.NetNS(), "addr add "+h.IP+"/24 dev eth0", "link set eth0 up")
}

// ip runs ip commands in the network namespace at ns.
func (f *Fleet) ip(ns string, cmds ...string) error {
	for _, c := range cmds {
		out, err := exec.Command("nsenter", append([]string{"--net=" + ns, "--", "ip"}, strings.Fields(c)...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("fleettest: ip %s: %v: %s", c, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Stop stops the managers, etcd and the hub, and removes the share dir:
// the namespaces go with their last process, and the veths and the bridge
// with their namespaces. It is idempotent.
func (f *Fleet) Stop() error {
	f.stopOnce.Do(func() {
		var errs []error
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, h := range f.Hosts {
			if h == nil {
				continue
			}
			wg.Go(func() {
				if err := h.Stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if f.Etcd != nil {
			errs = append(errs, f.Etcd.Stop())
		}
		if f.hub != nil {
			_ = f.hub.Process.Kill()
			_ = f.hub.Wait()
		}
		if f.Share != "" {
			errs = append(errs, os.RemoveAll(f.Share))
		}
		f.stopErr = errors.Join(errs...)
	})
	return f.stopErr
}

// HubPID is the pid of the process holding the hub's namespace.
func (f *Fleet) HubPID() int { return f.hub.Process.Pid }

// startTime returns field 22 of /proc/PID/stat, as the testbed records
// owners.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return f[19], nil
}
