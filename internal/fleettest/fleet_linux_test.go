//go:build linux

package fleettest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tenement/tenement/internal/testbed"
)

// TestFleetSmoke: three managers up on their own network, each reaching the
// others and etcd; the test process reaches them through the hub; nothing
// is left behind at the end.
func TestFleetSmoke(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hostLinks := links(t)
	t0 := time.Now()
	f, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	t.Logf("measured: a fleet of %d hosts and etcd started in %v", len(f.Hosts), time.Since(t0).Round(10*time.Millisecond))
	// what must be gone after Stop
	netns := map[string]string{nsOf(t, f.HubPID()): "hub"}
	var mgrs []string
	for _, h := range f.Hosts {
		netns[nsOf(t, h.PID)] = h.Name
		mgrs = append(mgrs, h.Manager.Name)
	}
	for _, h := range f.Hosts {
		out, _ := h.Command(ctx, "systemctl", "is-system-running").Output()
		if st := strings.TrimSpace(string(out)); st != "running" && st != "degraded" {
			t.Errorf("%s: manager is %q", h.Name, st)
		}
	}
	// a stand-in server on every host's address, from this process
	for _, h := range f.Hosts {
		l, err := h.Listen("tcp", net.JoinHostPort(h.IP, "7000"))
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		defer l.Close()
		go serveGreeting(l, "hello from "+h.Name)
	}
	// every host reaches every other host and etcd, from inside its
	// manager (bash's /dev/tcp: no tool the host image may lack)
	for _, from := range f.Hosts {
		for _, to := range f.Hosts {
			out, err := from.Command(ctx, "bash", "-c", "exec 3<>/dev/tcp/"+to.IP+"/7000 && head -n1 <&3").CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != "hello from "+to.Name {
				t.Errorf("%s -> %s: %q %v", from.Name, to.Name, got, err)
			}
		}
		out, err := from.Command(ctx, "bash", "-c", "exec 3<>/dev/tcp/"+HubIP+"/2379 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"health":"true"`) {
			t.Errorf("%s -> etcd: %q %v", from.Name, out, err)
		}
	}
	// the test process reaches etcd and the hosts through the hub
	resp, err := f.HTTPClient().Get(f.EtcdEndpoint() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"health":"true"`) {
		t.Errorf("etcd from the hub: %s", b)
	}
	for _, h := range f.Hosts {
		c, err := f.DialContext(ctx, "tcp", net.JoinHostPort(h.IP, "7000"))
		if err != nil {
			t.Fatalf("hub -> %s: %v", h.Name, err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if line != "hello from "+h.Name+"\n" {
			t.Errorf("hub -> %s: %q", h.Name, line)
		}
	}
	// an etcd client in the test process, through the hub
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{f.EtcdEndpoint()}, DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(f.GRPCDialer)}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/smoke", "ok"); err != nil {
		t.Fatalf("etcd put through the hub: %v", err)
	}
	cli.Close()
	// the fleet's addresses exist only in its namespaces
	noFleetAddrs(t)

	// a host dies: the others and etcd stay connected (the bridge is in
	// the hub, not in a host)
	if err := f.Hosts[2].Stop(); err != nil {
		t.Fatal(err)
	}
	out, err := f.Hosts[0].Command(ctx, "bash", "-c", "exec 3<>/dev/tcp/"+f.Hosts[1].IP+"/7000 && head -n1 <&3").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello from h2" {
		t.Errorf("h1 -> h2 after h3 stopped: %q %v", out, err)
	}
	// etcd restarts on its data dir, in the hub
	if err := f.Etcd.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := f.Etcd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cli, err = clientv3.New(clientv3.Config{Endpoints: []string{f.EtcdEndpoint()}, DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(f.GRPCDialer)}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cli.Get(ctx, "/smoke")
	cli.Close()
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "ok" {
		t.Fatalf("etcd after its restart: %v %v", got, err)
	}

	share := f.Share // etcd's data dir is in it
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	// etcd ran in the hub's namespace: it is covered too
	if held := holders(t, netns); len(held) > 0 {
		t.Errorf("network namespaces still held after Stop: %v", held)
	}
	for _, p := range append([]string{share}, mgrs...) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(testbed.StateRoot, p)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is left behind", p)
		}
	}
	for _, m := range mgrs {
		if cg, _ := filepath.Glob("/sys/fs/cgroup/*/tenement-testbed-" + m); len(cg) > 0 {
			t.Errorf("cgroups left behind: %v", cg)
		} else if cg, _ := filepath.Glob("/sys/fs/cgroup/tenement-testbed-" + m); len(cg) > 0 {
			t.Errorf("cgroups left behind: %v", cg)
		}
	}
	if after := links(t); !equalSets(after, hostLinks) {
		t.Errorf("the host's interfaces changed: before %v, after %v", hostLinks, after)
	}
	noFleetAddrs(t)
}

func serveGreeting(l net.Listener, msg string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		fmt.Fprintln(c, msg)
		c.Close()
	}
}

// links returns the names of this (the host's) namespace's interfaces.
func links(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out
}

// noFleetAddrs fails the test if the host's own interfaces have an
// address of the fleet's subnet.
func noFleetAddrs(t *testing.T) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix(Subnet)
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && subnet.Contains(p.Addr()) {
			t.Errorf("the host has %s, an address of the fleet's network", a)
		}
	}
}

// nsOf returns the network namespace of pid ("net:[INODE]"), or "".
func nsOf(t *testing.T, pid int) string {
	t.Helper()
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	return s
}

// holders lists the processes (and this process's open files) that still
// hold one of the namespaces.
func holders(t *testing.T, netns map[string]string) []string {
	t.Helper()
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	fds, _ := filepath.Glob("/proc/self/fd/*")
	for _, p := range append(procs, fds...) {
		if s, err := os.Readlink(p); err == nil {
			if name, ok := netns[s]; ok {
				out = append(out, fmt.Sprintf("%s (%s's)", p, name))
			}
		}
	}
	return out
}

func equalSets(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
