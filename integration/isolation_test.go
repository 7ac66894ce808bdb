package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"

	"github.com/tenement/tenement/isolation"
	"github.com/tenement/tenement/names"
)

// whoami is the test app's /whoami answer.
type whoami struct {
	UID      int      `json:"uid"`
	GID      int      `json:"gid"`
	PID      int      `json:"pid"`
	PPID     int      `json:"ppid"`
	ProcPIDs []int    `json:"proc_pids"`
	Kernel   string   `json:"kernel"`
	DataDir  string   `json:"data_dir"`
	Tmp      []string `json:"tmp"`
}

// who asks an instance through the proxy who it is.
func (d *daemon) who(host string) whoami {
	d.t.Helper()
	code, body, err := d.request(host, "/whoami")
	if err != nil || code != 200 {
		d.t.Fatalf("%s/whoami: %d %v %s", host, code, err, body)
	}
	var w whoami
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		d.t.Fatalf("%s/whoami: %v: %s", host, err, body)
	}
	return w
}

// must sends a request through the proxy and fails the test unless it is
// answered 200.
func (d *daemon) must(host, path string) string {
	d.t.Helper()
	code, body, err := d.request(host, path)
	if err != nil || code != 200 {
		d.t.Fatalf("%s%s: %d %v %s", host, path, code, err, body)
	}
	return body
}

// refused sends a request that the tenant must fail (the test app answers
// 403 when the operation is denied to it).
func (d *daemon) refused(host, path string) {
	d.t.Helper()
	code, body, err := d.request(host, path)
	if err != nil || code == 200 {
		d.t.Errorf("%s%s was allowed: %d %v %s", host, path, code, err, body)
	}
}

// startIsolated starts a daemon and makes the dirs above its data root
// searchable by other users, as /var/lib is: t.TempDir() makes them 0700,
// and a tenant with its own UID must pass them to reach its data dir (the
// data root itself is hidden behind a tmpfs in its unit).
func startIsolated(t *testing.T, settings, services string) *daemon {
	t.Helper()
	d := startDaemon(t, settings, services)
	for dir := filepath.Dir(d.dataDir); dir != "/" && strings.HasPrefix(dir, os.TempDir()); dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, fi.Mode().Perm()|0o111); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

const namespaceServices = `
[service.ns]
command = "{app}"
health = "/health"
memory_limit_mb = 96
tasks_max = 64
`

func TestNamespaceIsolation(t *testing.T) {
	d := startIsolated(t, "", namespaceServices)
	d.ten("spawn", "ns:alice")
	d.ten("spawn", "ns:bob")
	const alice, bob = "alice.ns.test.local", "bob.ns.test.local"
	unit := "tenement@ns-alice.service"
	for prop, want := range map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "NoNewPrivileges": "yes", "ProtectKernelTunables": "yes",
		"SystemCallErrorNumber": "1", "MemoryMax": strconv.Itoa(96 << 20), "TasksMax": "64",
		"RestrictNamespaces": "mnt pid", "SystemCallArchitectures": "native", "PrivateIPC": "yes",
		"User": isolation.UserName(mustName(t, "ns:alice")),
	} {
		if got := show(t, unit, prop); got != want {
			t.Errorf("%s %s = %q, want %q", unit, prop, got, want)
		}
	}

	// Own PID namespace: /proc lists the tenant's own processes only,
	// and the app is not PID 1 (the wrapper's init is).
	wa, wb := d.who(alice), d.who(bob)
	for name, w := range map[string]whoami{"alice": wa, "bob": wb} {
		if w.PID == 1 || w.PPID != 1 {
			t.Errorf("%s: pid %d ppid %d, want the app under the namespace's init", name, w.PID, w.PPID)
		}
		sort.Ints(w.ProcPIDs)
		if !slices.Equal(w.ProcPIDs, []int{1, w.PID}) {
			t.Errorf("%s sees pids %v in /proc, want only [1 %d]", name, w.ProcPIDs, w.PID)
		}
	}
	// Own UID per instance, never root.
	if wa.UID == 0 || wb.UID == 0 || wa.UID == wb.UID || wa.GID == wb.GID {
		t.Errorf("uids: alice %d:%d bob %d:%d, want two different unprivileged users", wa.UID, wa.GID, wb.UID, wb.GID)
	}
	if filter := show(t, unit, "SystemCallFilter"); !strings.Contains(filter, "mount") || !strings.Contains(filter, "openat") {
		t.Errorf("SystemCallFilter %.200s…", filter)
	}

	// The data dir is the tenant's: written by it, owned by its UID, and
	// neither readable nor writable by its neighbour.
	aliceDir := filepath.Join(d.dataDir, "ns", "alice")
	d.must(alice, "/write?name=secret&value=alice-only")
	if fi, err := os.Stat(filepath.Join(aliceDir, "secret")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(wa.UID) {
		t.Errorf("alice's file: %v (want owner %d)", err, wa.UID)
	}
	d.refused(bob, "/read?path="+filepath.Join(aliceDir, "secret"))
	d.refused(bob, "/try-write?path="+filepath.Join(aliceDir, "planted"))
	d.refused(bob, "/read?path="+filepath.Join(d.dataDir, "tenement.db"))
	if _, err := os.Stat(filepath.Join(aliceDir, "planted")); !os.IsNotExist(err) {
		t.Errorf("bob planted a file in alice's data dir: %v", err)
	}
	if got := d.must(alice, "/read?name=secret"); got != "alice-only" {
		t.Errorf("alice reads back %q", got)
	}

	// A read-only system, and no secrets of it.
	d.refused(alice, "/read?path=/etc/shadow")
	for _, p := range []string{"/usr/tenant-was-here", "/etc/tenant-was-here", "/var/tenant-was-here", "/proc/sys/kernel/hostname"} {
		d.refused(alice, "/try-write?path="+p)
	}
	// A private /tmp.
	d.must(alice, "/try-write?path=/tmp/alice-marker")
	if w := d.who(alice); !slices.Contains(w.Tmp, "alice-marker") {
		t.Errorf("alice's /tmp lacks her file: %v", w.Tmp)
	}
	if w := d.who(bob); slices.Contains(w.Tmp, "alice-marker") {
		t.Errorf("bob sees alice's /tmp: %v", w.Tmp)
	}
	if _, err := os.Stat("/tmp/alice-marker"); !os.IsNotExist(err) {
		t.Errorf("alice's /tmp file is in the system's /tmp: %v", err)
	}
}

func TestNamespaceDataSurvivesWakeAndUIDChange(t *testing.T) {
	d := startIsolated(t, "", namespaceServices)
	const host = "carol.ns.test.local"
	d.ten("spawn", "ns:carol")
	d.must(host, "/write?name=note&value=v1")
	d.ten("stop", "ns:carol")

	// Pretend the dynamic UID changed while it slept: the files belong to
	// someone else now. The wrapper gives them back before the app runs.
	dir := filepath.Join(d.dataDir, "ns", "carol")
	for _, p := range []string{filepath.Join(dir, "note"), dir} {
		if err := os.Lchown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.must(host, "/read?name=note"); got != "v1" {
		t.Fatalf("after wake: %q", got)
	}
	d.must(host, "/write?name=note&value=v2")
	w := d.who(host)
	for _, p := range []string{dir, filepath.Join(dir, "note")} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != w.UID || int(st.Gid) != w.GID {
			t.Errorf("%s owned by %d:%d, want the tenant's %d:%d", p, st.Uid, st.Gid, w.UID, w.GID)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}
	// And again across a restart by systemd after a crash (straight to
	// the app's port: the proxy may retry a GET that broke).
	httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/crash", d.info("ns:carol").Port))
	testbed.Eventually(t, 10*time.Second, "restarted", func() error {
		if i := d.info("ns:carol"); i.State != apitype.StateRunning || i.Restarts < 1 {
			return fmt.Errorf("%s restarts=%d", i.State, i.Restarts)
		}
		return nil
	})
	if got := d.must(host, "/read?name=note"); got != "v2" {
		t.Fatalf("after crash restart: %q", got)
	}
}

func TestNamespaceRuntimes(t *testing.T) {
	td := testdata(t)
	d := startIsolated(t, "", fmt.Sprintf(`
[service.py]
command = "/usr/bin/python3 %s/app.py"
health = "/health"

[service.node]
command = "/usr/bin/node %s/app.js"
health = "/health"

[service.go]
command = "{app}"
health = "/health"
`, td, td))
	for _, rt := range []struct{ service, want, file string }{
		{"py", "hello from python", "python.txt"},
		{"node", "hello from node", "node.txt"},
		{"go", "hello from go:one", ""},
	} {
		t.Run(rt.service, func(t *testing.T) {
			n := rt.service + ":one"
			if out, err := d.tenErr("spawn", n); err != nil {
				t.Fatalf("spawn %s: %v %s\n%s", n, err, out, systemctl(t, "status", "--no-pager", "-n", "20", "tenement@"+rt.service+"-one.service"))
			}
			body := d.must("one."+rt.service+".test.local", "/")
			if !strings.HasPrefix(body, rt.want) || strings.Contains(body, "uid=0 ") {
				t.Errorf("%s answered %q", n, body)
			}
			if rt.file != "" {
				if _, err := os.Stat(filepath.Join(d.dataDir, rt.service, "one", rt.file)); err != nil {
					t.Errorf("%s could not write its data dir: %v", n, err)
				}
			}
			// The syscall filter must not have killed anything.
			unit := "tenement@" + rt.service + "-one.service"
			if s, r := show(t, unit, "NRestarts"), show(t, unit, "ActiveState"); s != "0" || r != "active" {
				t.Errorf("%s: NRestarts %s, %s", unit, s, r)
			}
		})
	}
	// Stop is SIGTERM to the app, through the wrapper's init.
	d.ten("stop", "py:one")
	if _, err := os.Stat(filepath.Join(d.dataDir, "py", "one", "sigterm")); err != nil {
		t.Errorf("the python app did not get SIGTERM: %v", err)
	}
}

// testdata returns the path of integration/testdata (the module root is
// bound into the test manager at its own path).
func testdata(t *testing.T) string {
	t.Helper()
	root, err := os.Getwd()
	root = testbed.ModuleRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "integration", "testdata")
}

func TestNamespaceNetwork(t *testing.T) {
	d := startIsolated(t, "", namespaceServices+`
[service.priv]
command = "{app}"
activation = "socket"
network = "private"
`)
	d.ten("spawn", "ns:alice")
	d.ten("spawn", "ns:bob")
	d.ten("spawn", "priv:eve")
	bob := fmt.Sprintf("127.0.0.1:%d", d.info("ns:bob").Port)

	// On the host network a namespace tenant reaches its neighbour's
	// port on 127.0.0.1: docs/isolation.md says so.
	if got := d.must("alice.ns.test.local", "/connect?addr="+bob); !strings.Contains(got, "connected") {
		t.Errorf("host network: %q", got)
	}
	// Socket activation through the wrapper: the app got systemd's
	// socket (it checks LISTEN_PID against its own pid, else it would
	// listen on $PORT in its empty network and never answer).
	w := d.who("eve.priv.test.local")
	if w.PID == 1 || w.UID == 0 {
		t.Errorf("private tenant: pid %d uid %d", w.PID, w.UID)
	}
	if got := d.must("eve.priv.test.local", "/env"); !strings.Contains(got, "LISTEN_PID="+strconv.Itoa(w.PID)+"\n") {
		t.Errorf("LISTEN_PID is not the app's pid %d:\n%s", w.PID, got)
	}
	if got := strings.TrimSpace(d.must("eve.priv.test.local", "/interfaces")); got != "lo" {
		t.Errorf("private tenant's interfaces: %q, want lo", got)
	}
	// With a private network it reaches no other tenant.
	d.refused("eve.priv.test.local", "/connect?addr="+bob)
}

func TestNamespaceLimitsSpareTheNeighbour(t *testing.T) {
	testbed.RequireController(t, "memory", "pids") // or the bombs are unbounded
	d := startIsolated(t, `health_check_interval = "30s"`, namespaceServices)
	d.ten("spawn", "ns:hog")
	d.ten("spawn", "ns:calm")
	const hog, calm = "hog.ns.test.local", "calm.ns.test.local"
	unit := "tenement@ns-hog.service"
	pid := mainPID(t, unit)

	// Past memory_limit_mb (96): the kernel kills the app, the wrapper
	// ends with its signal, systemd restarts the unit.
	// (Straight to the app's port: the proxy may retry a GET that broke.)
	if resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/alloc?mb=400", d.info("ns:hog").Port)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("allocating 400 MiB under a 96 MiB limit succeeded")
		}
	}
	d.must(calm, "/health")
	testbed.Eventually(t, 10*time.Second, "restart after the memory kill", func() error {
		if p := mainPID(t, unit); p == 0 || p == pid || show(t, unit, "ActiveState") != "active" {
			return fmt.Errorf("MainPID %d, %s", p, show(t, unit, "ActiveState"))
		}
		if n := show(t, unit, "NRestarts"); n != "1" {
			return fmt.Errorf("NRestarts %s", n)
		}
		return nil
	})
	d.must(hog, "/health")
	d.must(calm, "/health")

	// A fork bomb stops at TasksMax (64, the wrapper's threads included).
	code, body, _ := d.request(hog, "/forkbomb")
	t.Logf("fork bomb: %d %s", code, strings.TrimSpace(body))
	if code == 200 && !strings.Contains(body, "stopped after") {
		t.Errorf("fork bomb was not stopped: %s", body)
	}
	if n, _ := strconv.Atoi(show(t, unit, "TasksCurrent")); n > 64 {
		t.Errorf("TasksCurrent %d above TasksMax 64", n)
	}
	d.must(calm, "/health")
	d.ten("stop", "ns:hog")
	d.must(calm, "/")
}

func TestStorageQuotaIsReported(t *testing.T) {
	d := startIsolated(t, `health_check_interval = "200ms"`, `
[service.ns]
command = "{app}"
storage_quota_mb = 1
`)
	d.ten("spawn", "ns:fill")
	dir := filepath.Join(d.dataDir, "ns", "fill")
	testbed.Eventually(t, 5*time.Second, "first measurement", func() error {
		if i := d.info("ns:fill"); i.StorageBytes == nil || i.StorageQuota == nil || *i.StorageQuota != 1<<20 {
			return fmt.Errorf("storage %v of %v", i.StorageBytes, i.StorageQuota)
		}
		return nil
	})
	write := func(name string, kib int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("x", kib<<10)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 900)
	testbed.Eventually(t, 10*time.Second, "warning at 80%", func() error {
		if i := d.info("ns:fill"); i.StorageBytes == nil || *i.StorageBytes < 900<<10 {
			return fmt.Errorf("storage_used_bytes %v", i.StorageBytes)
		}
		if !strings.Contains(d.Logs(), "above 80% of its storage_quota_mb") {
			return fmt.Errorf("no warning in the daemon's log")
		}
		return nil
	})
	write("b", 200)
	testbed.Eventually(t, 10*time.Second, "error at 100%", func() error {
		if !strings.Contains(d.Logs(), "over its storage_quota_mb") {
			return fmt.Errorf("no error in the daemon's log")
		}
		return nil
	})
	// Reported, not enforced: the tenant can still write.
	d.must("fill.ns.test.local", "/write?name=c&value=still")
}

const sandboxServices = `
[service.box]
command = "{app}"
isolation = "sandbox"
health = "/health"
memory_limit_mb = 256
tasks_max = 96
startup_timeout = "30s"
`

func TestSandbox(t *testing.T) {
	requireRunsc(t)
	d := startIsolated(t, `health_check_interval = "30s"`, sandboxServices)
	const host = "alice.box.test.local"
	unit := "tenement@box-alice.service"

	// Woken by a request through the proxy, answered under gVisor.
	d.ten("spawn", "box:alice")
	w := d.who(host)
	var uts syscall.Utsname
	syscall.Uname(&uts)
	if !strings.Contains(w.Kernel, "gvisor") || w.Kernel == utsString(uts.Release) {
		t.Errorf("kernel %q, want gVisor's (host %q)", w.Kernel, utsString(uts.Release))
	}
	if w.UID == 0 {
		t.Errorf("the sandboxed app runs as root")
	}

	// Every sandbox process is in the unit's cgroup.
	procs := cgroupProcs(t, unit)
	sandbox := sandboxProcs(t, "tenement-box-alice")
	if len(sandbox) < 3 {
		t.Errorf("found only %v as runsc processes", sandbox)
	}
	for _, p := range sandbox {
		if !slices.Contains(procs, p) {
			t.Errorf("sandbox process %d (%s) is not in %s's cgroup %v", p, cmdline(p), unit, procs)
		}
	}

	// Data survives sleep and wake, and belongs to the tenant.
	d.must(host, "/write?name=kept&value=gvisor-data")
	d.ten("stop", "box:alice")
	if got := systemctl(t, "is-active", unit); got == "active" || got == "failed" {
		t.Fatalf("after stop: %s (an app ended by the stop's SIGTERM is a clean stop)", got)
	}
	if got := d.must(host, "/read?name=kept"); got != "gvisor-data" {
		t.Errorf("after wake: %q", got)
	}
	fi, err := os.Stat(filepath.Join(d.dataDir, "box", "alice", "kept"))
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(w.UID) {
		t.Errorf("data file: %v, want owner %d", err, w.UID)
	}
	// Read-only system, private /tmp, no secrets, no neighbour's data.
	d.refused(host, "/try-write?path=/usr/tenant-was-here")
	d.refused(host, "/read?path=/etc/shadow")
	d.must(host, "/try-write?path=/tmp/x")
	d.ten("spawn", "box:bob")
	d.refused("bob.box.test.local", "/read?path="+filepath.Join(d.dataDir, "box", "alice", "kept"))
	d.refused("bob.box.test.local", "/try-write?path="+filepath.Join(d.dataDir, "box", "alice", "planted"))
	if wb := d.who("bob.box.test.local"); wb.UID == w.UID {
		t.Errorf("two sandboxes share uid %d", w.UID)
	}
	d.ten("stop", "box:bob")
}

func TestSandboxLimits(t *testing.T) {
	requireRunsc(t)
	testbed.RequireController(t, "memory", "pids") // or the bombs are unbounded
	d := startIsolated(t, `health_check_interval = "30s"`, sandboxServices)
	const host = "alice.box.test.local"
	unit := "tenement@box-alice.service"
	d.ten("spawn", "box:alice")

	// A fork bomb stops at TasksMax: gVisor's processes are host tasks
	// of the unit (its own threads and the platform's stubs).
	code, body, _ := d.request(host, "/forkbomb")
	t.Logf("fork bomb in the sandbox: %d %s", code, strings.TrimSpace(body))
	if code == 200 && !strings.Contains(body, "stopped after") {
		t.Errorf("fork bomb was not stopped: %s", body)
	}
	if n, _ := strconv.Atoi(show(t, unit, "TasksCurrent")); n > 96 {
		t.Errorf("TasksCurrent %d above TasksMax 96", n)
	}
	d.ten("stop", "box:alice")

	// Past memory_limit_mb (gVisor's own memory counts too) the sandbox
	// is killed and systemd starts it again.
	d.must(host, "/health")
	pid := mainPID(t, unit)
	if resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/alloc?mb=600", d.info("box:alice").Port)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("allocating 600 MiB under a 256 MiB limit succeeded")
		}
	}
	testbed.Eventually(t, 30*time.Second, "restart after the memory kill", func() error {
		if p := mainPID(t, unit); p == 0 || p == pid || show(t, unit, "ActiveState") != "active" {
			return fmt.Errorf("MainPID %d, %s", p, show(t, unit, "ActiveState"))
		}
		return nil
	})
	testbed.Eventually(t, 30*time.Second, "answers again", func() error {
		if code, _, err := d.request(host, "/health"); code != 200 {
			return fmt.Errorf("%d %v", code, err)
		}
		return nil
	})
}

func TestSandboxPythonStopsGracefully(t *testing.T) {
	requireRunsc(t)
	d := startIsolated(t, "", fmt.Sprintf(`
[service.boxpy]
command = "/usr/bin/python3 %s/app.py"
isolation = "sandbox"
health = "/health"
startup_timeout = "30s"
`, testdata(t)))
	unit := "tenement@boxpy-one.service"
	d.ten("spawn", "boxpy:one")
	if got := d.must("one.boxpy.test.local", "/"); !strings.HasPrefix(got, "hello from python") || strings.Contains(got, "uid=0 ") {
		t.Errorf("python in gVisor answered %q", got)
	}
	if got := show(t, unit, "KillMode"); got != "mixed" {
		t.Errorf("KillMode %s, want mixed (the wrapper passes SIGTERM on)", got)
	}
	t0 := time.Now()
	d.ten("stop", "boxpy:one")
	if _, err := os.Stat(filepath.Join(d.dataDir, "boxpy", "one", "sigterm")); err != nil {
		t.Errorf("the sandboxed app did not get SIGTERM on stop: %v", err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("stop took %v", took)
	}
	if got := systemctl(t, "is-active", unit); got == "active" {
		t.Errorf("%s still %s", unit, got)
	}
}

func TestIsolationWakeLatency(t *testing.T) {
	services := strings.ReplaceAll(namespaceServices, "[service.ns]", "[service.proc]\nisolation = \"process\"\ncommand = \"{app}\"\nhealth = \"/health\"\n\n[service.ns]")
	levels := []string{"proc", "ns"}
	if runscPath() != "" {
		services += sandboxServices
		levels = append(levels, "box")
	}
	d := startIsolated(t, `health_check_interval = "30s"`, services)
	for _, svc := range levels {
		n := svc + ":lat"
		d.ten("spawn", n)
		var took []time.Duration
		for range 5 {
			d.ten("stop", n)
			t0 := time.Now()
			d.must("lat."+svc+".test.local", "/health")
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		t.Logf("measured: %-4s wake (stop, then a request through the proxy until 200): median %v, max %v", svc, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
}

// requireRunsc skips a sandbox test when gVisor's runsc is not installed
// (scripts/deps installs it); under CI it fails instead.
func requireRunsc(t *testing.T) {
	t.Helper()
	if runscPath() == "" {
		testbed.SkipOrFail(t, "runsc (gVisor) is not installed; scripts/deps installs it")
	}
}

func runscPath() string {
	for _, p := range []string{"/usr/local/bin/runsc", "/usr/bin/runsc"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func utsString(a [65]int8) string {
	var b []byte
	for _, c := range a {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// cgroupProcs returns the pids in a unit's cgroup (the manager's unified
// hierarchy, whose cgroup.procs lists every process of the unit).
func cgroupProcs(t *testing.T, unit string) []int {
	t.Helper()
	cg := show(t, unit, "ControlGroup")
	if cg == "" {
		t.Fatalf("%s has no ControlGroup", unit)
	}
	root := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(root); err != nil {
		root = "/sys/fs/cgroup"
	}
	b, err := os.ReadFile(filepath.Join(root, cg, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	return pids
}

// sandboxProcs returns the processes of a gVisor container: those whose
// command line names it (runsc, its gofer and its sandbox) and all their
// descendants (the platform's stub processes).
func sandboxProcs(t *testing.T, id string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	parent := map[int]int{}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		parent[pid], _ = strconv.Atoi(fields[1])
		if strings.Contains(cmdline(pid), id) {
			out = append(out, pid)
		}
	}
	for changed := true; changed; {
		changed = false
		for pid, pp := range parent {
			if slices.Contains(out, pp) && !slices.Contains(out, pid) {
				out = append(out, pid)
				changed = true
			}
		}
	}
	return out
}

func mustName(t *testing.T, s string) names.Instance {
	t.Helper()
	n, err := names.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}
