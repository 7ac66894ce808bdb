//go:build linux

package testbed

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const setupMarker = "setup-marker"

func TestMain(m *testing.M) {
	if os.Getenv("TESTBED_HELPER") == "echo" { // main process of a transient unit, see below
		_, err := os.Stat("/tmp/" + setupMarker)
		fmt.Printf("helper ok unit=%t privatetmp-empty=%t\n", os.Getenv("INVOCATION_ID") != "", os.IsNotExist(err))
		os.Exit(0)
	}
	os.Exit(Main(m, func(share string) error {
		return os.WriteFile(filepath.Join(share, setupMarker), []byte("from the host\n"), 0o644)
	}))
}

func TestIntegrationManager(t *testing.T) {
	Require(t)
	ctx := context.Background()
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	t.Run("booted", func(t *testing.T) {
		if fi, err := os.Stat("/run/systemd/system"); err != nil || !fi.IsDir() {
			t.Fatalf("/run/systemd/system: %v", err)
		}
		if comm, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(comm)) != "systemd" {
			t.Fatalf("PID 1 is %q, not systemd", comm)
		}
		if h, _ := os.Hostname(); h != os.Getenv(EnvInside) {
			t.Errorf("hostname %q, want the manager's name %q", h, os.Getenv(EnvInside))
		}
	})
	t.Run("hazard fixes", func(t *testing.T) {
		// read-only checks only: never try to write /proc/sys from a test
		mi, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		mounts := map[string]string{} // mount point -> "options fstype"
		for _, l := range strings.Split(string(mi), "\n") {
			if f := strings.Fields(l); len(f) > 9 {
				i := 6
				for i < len(f) && f[i] != "-" {
					i++
				}
				mounts[f[4]] = f[5] + " " + f[i+1]
			}
		}
		if o := mounts["/proc/sys"]; !strings.HasPrefix(o, "ro,") {
			t.Errorf("/proc/sys is mounted %q, want read-only", o)
		}
		if o := mounts["/dev"]; !strings.HasSuffix(o, " tmpfs") {
			t.Errorf("/dev is mounted %q, want a private tmpfs", o)
		}
		if _, err := os.Stat("/dev/kmsg"); err == nil {
			t.Error("/dev/kmsg is visible inside")
		}
		if out, _ := exec.CommandContext(ctx, "systemctl", "is-active", "testmgr.target", "multi-user.target").Output(); string(out) != "active\ninactive\n" {
			t.Errorf("testmgr.target, multi-user.target: %q, want active, inactive", out)
		}
	})
	t.Run("cgroup tree", func(t *testing.T) {
		layout := cgroupLayout("/")
		if want := os.Getenv(EnvCgroup); want == "unified" && layout != want {
			t.Fatalf("%s=%s, but the manager's /sys/fs/cgroup is %s", EnvCgroup, want, layout)
		}
		// systemd agrees: it taints itself "cgroupsv1" unless the whole tree is cgroup2
		tainted := strings.Contains(run(t, "systemctl", "show", "-p", "Tainted", "--value"), "cgroupsv1")
		if tainted != (layout != "unified") {
			t.Errorf("layout %s, but systemd's Tainted has cgroupsv1: %t", layout, tainted)
		}
		if out := run(t, "systemd-cgls", "--no-pager"); !strings.Contains(out, "init.scope") {
			t.Errorf("systemd-cgls shows no init.scope:\n%s", out)
		}
		tree, err := readCgroupTree()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"memory", "pids", "cpu"} {
			// v1-bound controllers are in a hybrid tree and cannot be in a unified one
			if want := tree.v1[c] == (layout != "unified"); tree.controllers[c] != want {
				t.Errorf("%s tree: controller %s present %t, want %t (bound to v1: %t)", layout, c, tree.controllers[c], want, tree.v1[c])
			}
		}
		t.Logf("cgroup: %s, controllers %v", layout, tree.controllers)
	})
	t.Run("running", func(t *testing.T) {
		out, _ := exec.CommandContext(ctx, "systemctl", "is-system-running").Output()
		if st := strings.TrimSpace(string(out)); st != "running" && st != "degraded" {
			t.Fatalf("systemctl is-system-running = %q", st)
		}
	})
	t.Run("transient unit", func(t *testing.T) {
		// the test binary lives in the share dir, outside /tmp: a PrivateTmp unit can run it
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(exe, ShareDir()+"/") {
			t.Errorf("test binary %s is not in the share dir %s", exe, ShareDir())
		}
		if err := os.WriteFile("/tmp/"+setupMarker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove("/tmp/" + setupMarker)
		out := run(t, "systemd-run", "--wait", "--pipe", "--quiet", "-p", "PrivateTmp=yes",
			"-p", "MemoryMax=64M", "-p", "TasksMax=16", "-E", "TESTBED_HELPER=echo", "-E", "GORACE=atexit_sleep_ms=0", exe) // -race binaries sleep 1 s at exit otherwise
		// (a -cover build adds a warning line about GOCOVERDIR)
		if want := "helper ok unit=true privatetmp-empty=true"; strings.Split(out, "\n")[0] != want {
			t.Fatalf("unit output %q, want %q", out, want)
		}
	})
	t.Run("private network", func(t *testing.T) {
		lines := strings.Split(run(t, "ip", "-o", "link"), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "1: lo: <") || !strings.Contains(lines[0], ",UP") {
			t.Fatalf("ip -o link: want only lo, UP; got\n%s", strings.Join(lines, "\n"))
		}
		ifs, err := net.Interfaces()
		if err != nil || len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
			t.Fatalf("net.Interfaces() = %v, %v; want only lo, up", ifs, err)
		}
	})
	t.Run("share and tmpdir", func(t *testing.T) {
		share := ShareDir()
		if share == "" || strings.HasPrefix(share, "/tmp/") || strings.HasPrefix(share, "/var/tmp/") {
			t.Fatalf("ShareDir() = %q", share)
		}
		if b, err := os.ReadFile(filepath.Join(share, setupMarker)); err != nil || string(b) != "from the host\n" {
			t.Fatalf("file from setup: %q, %v", b, err)
		}
		for _, d := range []string{os.Getenv("TMPDIR"), os.TempDir(), t.TempDir()} {
			if d == "" || strings.HasPrefix(d, "/tmp") || strings.HasPrefix(d, "/var/tmp") || !strings.HasPrefix(d, share+"/") {
				t.Errorf("temp dir %q: want one inside the share dir %s", d, share)
			}
		}
	})
}

func TestValidName(t *testing.T) {
	for name, ok := range nameCases {
		if got := validName(name); got != ok {
			t.Errorf("validName(%q) = %t, want %t", name, got, ok)
		}
	}
	for range 20 {
		if n := newName(); !validName(n) || !strings.HasPrefix(n, "tb-") {
			t.Fatalf("newName() = %q is not a valid name", n)
		}
	}
	if _, err := Start(context.Background(), Options{Name: "Bad_Name"}); err == nil || !strings.Contains(err.Error(), "invalid manager name") {
		t.Errorf("Start with an invalid name: err = %v", err)
	}
	if _, err := checkOptions(Options{Name: "ok", Net: "bridge"}); err == nil {
		t.Error("checkOptions accepted Net=bridge")
	}
	if _, err := checkOptions(Options{Name: "ok", Share: []string{"rel/dir"}}); err == nil {
		t.Error("checkOptions accepted a relative share dir")
	}
	if _, err := checkOptions(Options{Name: "ok", Cgroup: "v2"}); err == nil {
		t.Error("checkOptions accepted Cgroup=v2")
	}
	if o, err := checkOptions(Options{Name: "ok"}); err != nil || o.Net != "private" || o.Cgroup != "host" {
		t.Errorf("checkOptions defaults: %+v, %v", o, err)
	}
}

func TestLacks(t *testing.T) {
	set := func(s ...string) map[string]bool {
		m := map[string]bool{}
		for _, c := range s {
			m[c] = true
		}
		return m
	}
	bound := set("memory", "pids", "cpu", "cpuacct")
	tests := []struct {
		name         string
		tree         cgroupTree
		want         []string
		wantMsg      string
		wantExpected bool
	}{
		{"hybrid has all", cgroupTree{"hybrid", set("memory", "pids", "cpu"), bound}, []string{"memory", "pids"}, "", false},
		{"unified on a hybrid host", cgroupTree{"unified", set(), bound}, []string{"memory", "pids"},
			"testbed: the manager's unified cgroup tree has no memory, pids controllers (this host binds them to cgroup v1 hierarchies, which a unified tree cannot use)", true},
		{"unified on a v2 host", cgroupTree{"unified", set("memory", "pids", "cpu", "io"), set()}, []string{"memory", "cpu"}, "", false},
		{"unified, controller not delegated", cgroupTree{"unified", set("memory"), set()}, []string{"memory", "pids"},
			"testbed: the manager's unified cgroup tree has no pids controller", false},
		{"hybrid without memory", cgroupTree{"hybrid", set("pids"), bound}, []string{"memory"},
			"testbed: the manager's hybrid cgroup tree has no memory controller", false},
		{"unified, one v1-bound, one not", cgroupTree{"unified", set(), set("memory")}, []string{"memory", "pids"},
			"testbed: the manager's unified cgroup tree has no memory, pids controllers", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, expected := tt.tree.lacks(tt.want)
			if msg != tt.wantMsg || expected != tt.wantExpected {
				t.Errorf("lacks(%v) = %q, %t; want %q, %t", tt.want, msg, expected, tt.wantMsg, tt.wantExpected)
			}
		})
	}
}

var nameCases = map[string]bool{
	"a": true, "tb-1234-ab12": true, "0": true, "x-": true, strings.Repeat("a", 41): true,
	"": false, "-a": false, "A": false, "a_b": false, "a.b": false, "a b": false, "a/b": false,
	"tb-1.share": false, strings.Repeat("a", 42): false, "a\n": false, "ä": false, "..": false,
}

// The script validates names too; both sides must agree.
func TestScriptAgreesOnNames(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for name, ok := range nameCases {
		err := exec.Command("bash", "-c", script, "sdboot.sh", "check-name", name).Run()
		if (err == nil) != ok {
			t.Errorf("sdboot.sh check-name %q: err = %v, want valid=%t", name, err, ok)
		}
	}
}

func TestFlagDirsAndShares(t *testing.T) {
	args := []string{"-test.v=true", "-test.testlogfile=/x/go-build1/b001/testlog.txt", "-test.timeout=10m0s",
		"-test.outputdir", "/x/out", "--test.coverprofile=c.out", "-test.trace=/tmp/t.out", "-test.run=Foo"}
	got := strings.Join(flagDirs(args, "/w/mod/pkg"), " ")
	if want := "/x/go-build1/b001 /x/out /w/mod/pkg"; got != want {
		t.Errorf("flagDirs = %q, want %q", got, want)
	}
	d := t.TempDir()
	for _, s := range []string{"a/b", "a-b", "c"} {
		if err := os.MkdirAll(filepath.Join(d, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in := []string{d + "/a/b", d + "/a-b", d + "/a", d + "/c/", d + "/a", d + "/missing", "/", "rel"}
	got = strings.Join(minimalDirs(in), " ")
	if want := d + "/a " + d + "/c " + d + "/a-b"; got != want {
		t.Errorf("minimalDirs = %q, want %q", got, want)
	}
}

func TestModuleRootAndStartTime(t *testing.T) {
	wd, _ := os.Getwd()
	root := ModuleRoot(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(wd, root) {
		t.Errorf("ModuleRoot(%s) = %s", wd, root)
	}
	a, err := procStartTime(os.Getpid())
	b, _ := procStartTime(os.Getpid())
	if err != nil || a == "" || a != b {
		t.Errorf("procStartTime = %q, %q, %v", a, b, err)
	}
}
