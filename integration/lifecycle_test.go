package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

const notesService = `
[service.notes]
command = "{app}"
health = "/health"
isolation = "process"
memory_limit_mb = 96
cpu_shares = 50
tasks_max = 64
[service.notes.env]
GREETING = "hi {id}"
`

// ps returns the daemon's instances via `ten ps --json`.
func (d *daemon) ps() map[string]apitype.Instance {
	d.t.Helper()
	var list []apitype.Instance
	if err := json.Unmarshal([]byte(d.ten("ps", "--json")), &list); err != nil {
		d.t.Fatal(err)
	}
	out := map[string]apitype.Instance{}
	for _, i := range list {
		out[i.Name] = i
	}
	return out
}

func (d *daemon) info(name string) apitype.Instance {
	d.t.Helper()
	i, ok := d.ps()[name]
	if !ok {
		d.t.Fatalf("%s not in ten ps", name)
	}
	return i
}

func TestSpawnIsATransientUnit(t *testing.T) {
	d := startDaemon(t, "", notesService)
	out := d.ten("spawn", "notes:alice")
	if !strings.Contains(out, "Spawned notes:alice (tenement@notes-alice.service)") {
		t.Fatalf("spawn output: %s", out)
	}
	unit := "tenement@notes-alice.service"
	if got := systemctl(t, "is-active", unit); got != "active" {
		t.Fatalf("systemctl is-active %s = %q", unit, got)
	}
	// The status shows what systemd accounts: memory with the memory
	// controller; in a unified tree without it, CPU (from cpu.stat).
	acct := "Memory:"
	if !testbed.HasController(t, "memory") {
		acct = "CPU:"
	}
	status := systemctl(t, "status", "--no-pager", unit)
	if !strings.Contains(status, "tenement instance notes:alice") || !strings.Contains(status, acct) {
		t.Errorf("systemctl status, want %q in it:\n%s", acct, status)
	}
	info := d.info("notes:alice")
	env := show(t, unit, "Environment")
	for _, want := range []string{
		"PORT=" + strconv.Itoa(info.Port),
		"DATA_DIR=" + filepath.Join(d.dataDir, "notes", "alice"),
		"TENEMENT_SERVICE=notes", "TENEMENT_ID=alice", "SOCKET_PATH=",
		`"GREETING=hi alice"`,
	} {
		if !strings.Contains(env, want) {
			t.Errorf("Environment lacks %s: %s", want, env)
		}
	}
	for prop, want := range map[string]string{"MemoryMax": strconv.Itoa(96 << 20), "CPUWeight": "50", "TasksMax": "64", "Slice": "tenement-notes.slice", "KillMode": "control-group"} {
		if got := show(t, unit, prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
	if info.Port < 20000 || info.Port > 29999 || info.State != apitype.StateRunning || info.Weight != 0 {
		t.Errorf("ps: %+v", info)
	}
	if got := get(t, info.Port, "/"); !strings.HasPrefix(got, "hello from notes:alice") {
		t.Errorf("app answered %q", got)
	}
	if _, err := os.Stat(filepath.Join(d.dataDir, "notes", "alice")); err != nil {
		t.Errorf("data dir: %v", err)
	}
	// The app's stdout is in the journal, by unit and by tenement's fields.
	testbed.Eventually(t, 5*time.Second, "journal by unit", func() error {
		return journalHas(unit, "-u", unit)
	})
	testbed.Eventually(t, 5*time.Second, "journal by field", func() error {
		return journalHas(unit, "TENEMENT_ID=alice", "TENEMENT_SERVICE=notes")
	})
	// Spawning again is a no-op that answers the same.
	if out := d.ten("spawn", "notes:alice"); !strings.Contains(out, fmt.Sprint(info.Port)) {
		t.Errorf("second spawn: %s", out)
	}
	if got := mainPID(t, unit); got != int(info.MainPID) {
		t.Errorf("second spawn changed MainPID %d -> %d", info.MainPID, got)
	}
}

func journalHas(unit string, args ...string) error {
	out, err := exec.Command("journalctl", append([]string{"--no-pager", "-o", "cat"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("journalctl: %v %s", err, out)
	}
	if !strings.Contains(string(out), "testapp starting") {
		return fmt.Errorf("%s: no app output in journalctl %v: %s", unit, args, out)
	}
	return nil
}

func TestSpawnRejectsBadNamesBeforeContact(t *testing.T) {
	d := startDaemon(t, "", notesService)
	for _, arg := range []string{"../x:y", "Notes:alice", "my-app:x", "notes", "notes:a.b", "notes:a/b"} {
		out, err := exec.Command(binPath("ten"), "--server", "unix:/nonexistent.sock", "spawn", arg).CombinedOutput()
		if err == nil {
			t.Errorf("ten spawn %q succeeded", arg)
			continue
		}
		line := strings.TrimSpace(string(out))
		if strings.Count(line, "\n") != 0 || !strings.Contains(line, "invalid argument") || strings.Contains(line, "cannot reach") {
			t.Errorf("ten spawn %q: %q; want one line about the name, before contacting anything", arg, line)
		}
	}
	// An unknown service is the daemon's answer.
	if out, err := d.tenErr("spawn", "blog:alice"); err == nil || !strings.Contains(out, `service "blog" is not configured`) {
		t.Errorf("unknown service: %v %s", err, out)
	}
}

func TestCrashIsRestartedBySystemdThenFails(t *testing.T) {
	d := startDaemon(t, "health_check_interval = \"30s\"\nmax_restarts = 3\nrestart_window = 60", notesService)
	d.ten("spawn", "notes:crash")
	unit := "tenement@notes-crash.service"
	info := d.info("notes:crash")
	pid := mainPID(t, unit)

	// One crash: systemd restarts the app (the health loop runs every 30s,
	// so it cannot be what restarts it).
	crash(info.Port)
	testbed.Eventually(t, 10*time.Second, "restart by systemd", func() error {
		if p := mainPID(t, unit); p == 0 || p == pid || show(t, unit, "ActiveState") != "active" {
			return fmt.Errorf("MainPID %d, state %s", p, show(t, unit, "ActiveState"))
		}
		return nil
	})
	if n := show(t, unit, "NRestarts"); n != "1" {
		t.Errorf("NRestarts = %s, want 1", n)
	}
	testbed.Eventually(t, 5*time.Second, "running again", func() error {
		if i := d.info("notes:crash"); i.State != apitype.StateRunning || i.Restarts != 1 {
			return fmt.Errorf("%s restarts=%d", i.State, i.Restarts)
		}
		return nil
	})

	// Now it crashes at every start: systemd gives up after max_restarts.
	if err := os.WriteFile(filepath.Join(d.dataDir, "notes", "crash", "crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	crash(info.Port)
	testbed.Eventually(t, 10*time.Second, "failed", func() error {
		if s := show(t, unit, "ActiveState"); s != "failed" {
			return fmt.Errorf("ActiveState %s", s)
		}
		if i := d.info("notes:crash"); i.State != apitype.StateFailed {
			return fmt.Errorf("ten ps state %s", i.State)
		}
		return nil
	})
	// systemd itself gave up after max_restarts (3) restarts: 4 runs in
	// all (its NRestarts also counts the refused attempt).
	if runs := starts(t, unit); runs != 4 {
		t.Errorf("the app ran %d times, want 4 (first run + max_restarts)", runs)
	}
	if got := systemctl(t, "is-failed", unit); got != "failed" {
		t.Errorf("systemctl is-failed = %q", got)
	}
	if status := systemctl(t, "status", "--no-pager", unit); !strings.Contains(status, "failed") {
		t.Errorf("systemctl status does not show the failure:\n%s", status)
	}
	// A request does not wake a failed instance.
	if code, _, _ := d.request("crash.notes.test.local", "/"); code != 503 {
		t.Errorf("request to failed instance: %d, want 503", code)
	}

	// It stays failed across a daemon restart.
	d.stop()
	d.start()
	if i := d.info("notes:crash"); i.State != apitype.StateFailed || !strings.Contains(i.Reason, "exit-code") {
		t.Fatalf("after daemon restart: %s (%s)", i.State, i.Reason)
	}

	// Fixed, `ten restart` brings it back.
	os.Remove(filepath.Join(d.dataDir, "notes", "crash", "crash"))
	d.ten("restart", "notes:crash")
	if i := d.info("notes:crash"); i.State != apitype.StateRunning {
		t.Fatalf("after ten restart: %+v", i)
	}
	if got := systemctl(t, "is-active", unit); got != "active" {
		t.Errorf("is-active after restart: %s", got)
	}
}

func TestUnhealthyRestartsWithBackoffThenFails(t *testing.T) {
	d := startDaemon(t, `health_check_interval = "150ms"
max_restarts = 3
restart_window = 120
backoff_base_ms = 300
backoff_max_ms = 5000`, strings.Replace(notesService, "health = ", "startup_timeout = \"1s\"\nhealth = ", 1))
	d.ten("spawn", "notes:sick")
	unit := "tenement@notes-sick.service"
	if err := os.WriteFile(filepath.Join(d.dataDir, "notes", "sick", "unhealthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[apitype.Health]bool{}
	var pids []int
	var starts []time.Time
	last := mainPID(t, unit)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		i := d.info("notes:sick")
		if i.State == apitype.StateRunning {
			seen[i.Health] = true
		}
		if p := mainPID(t, unit); p != 0 && p != last {
			pids, starts, last = append(pids, p), append(starts, time.Now()), p
		}
		if i.State == apitype.StateFailed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	i := d.info("notes:sick")
	if i.State != apitype.StateFailed || !strings.Contains(i.Reason, "unhealthy") {
		t.Fatalf("state %s (%s), want failed after repeated health restarts", i.State, i.Reason)
	}
	if !seen[apitype.HealthDegraded] || !seen[apitype.HealthUnhealthy] {
		t.Errorf("health states seen %v, want degraded and unhealthy", seen)
	}
	if len(pids) != 3 || i.Restarts != 3 {
		t.Fatalf("restarts: new pids %v, ps restarts %d; want 3", pids, i.Restarts)
	}
	// Each restart waits longer than the one before (300ms, 600ms, 1.2s
	// of backoff on top of three failed checks).
	for k := 2; k < len(starts); k++ {
		if gap, prev := starts[k].Sub(starts[k-1]), starts[k-1].Sub(starts[k-2]); gap <= prev {
			t.Errorf("restart gaps do not grow: %v then %v", prev, gap)
		}
	}
	if got := systemctl(t, "is-active", unit); got == "active" {
		t.Errorf("failed instance's unit still active")
	}
}

// killedWithTenants starts a daemon with notes:alice and notes:bob
// (weight 20), kills it with SIGKILL, and returns it, what ten ps said
// before, and the tenants' main PIDs by id.
func killedWithTenants(t *testing.T) (*daemon, map[string]apitype.Instance, map[string]int) {
	t.Helper()
	d := startDaemon(t, "", notesService)
	d.ten("spawn", "notes:alice")
	d.ten("spawn", "notes:bob")
	d.ten("weight", "notes:bob", "20")
	before := d.ps()
	pids := map[string]int{}
	for _, n := range []string{"alice", "bob"} {
		pids[n] = mainPID(t, "tenement@notes-"+n+".service")
	}
	d.kill9()
	return d, before, pids
}

func TestDaemonKill9KeepsTenants(t *testing.T) {
	d, before, pids := killedWithTenants(t)
	for n, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("%s (pid %d) died with the daemon: %v", n, pid, err)
		}
	}
	t0 := time.Now()
	d.start()
	after := d.ps()
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("ten ps answered %v after the daemon started", took)
	}
	for _, name := range []string{"notes:alice", "notes:bob"} {
		b, a := before[name], after[name]
		if a.State != apitype.StateRunning || a.Port != b.Port || a.Weight != b.Weight || a.MainPID != b.MainPID {
			t.Errorf("%s before %+v\nafter %+v", name, b, a)
		}
	}
	if after["notes:bob"].Weight != 20 {
		t.Errorf("bob's weight %d, want 20", after["notes:bob"].Weight)
	}
	for n, pid := range pids {
		if got := mainPID(t, "tenement@notes-"+n+".service"); got != pid {
			t.Errorf("%s MainPID %d -> %d", n, pid, got)
		}
	}
	// And a plain SIGTERM stops the daemon but not the tenants.
	d.stop()
	if got := systemctl(t, "is-active", "tenement@notes-alice.service"); got != "active" {
		t.Errorf("after SIGTERM: %s", got)
	}
}

func TestStopLeavesNoProcessBehind(t *testing.T) {
	d := startDaemon(t, "", notesService)
	d.ten("spawn", "notes:forker")
	info := d.info("notes:forker")
	child, err := strconv.Atoi(strings.TrimSpace(get(t, info.Port, "/fork")))
	if err != nil {
		t.Fatal(err)
	}
	app := mainPID(t, "tenement@notes-forker.service")
	d.ten("stop", "notes:forker")
	for _, pid := range []int{app, child} {
		if alive(pid) {
			t.Errorf("pid %d still alive after ten stop", pid)
		}
	}
	i := d.info("notes:forker")
	if i.State != apitype.StateAsleep {
		t.Errorf("after stop: %s", i.State)
	}
	if got := systemctl(t, "is-active", "tenement@notes-forker.service"); got == "active" {
		t.Errorf("unit still active")
	}
	// Stopped instances stay known and wake on a request.
	code, body, err := d.request("forker.notes.test.local", "/")
	if err != nil || code != 200 || !strings.HasPrefix(body, "hello from notes:forker") {
		t.Fatalf("wake after stop: %d %q %v", code, body, err)
	}
}

func TestStoragePersistAndDelete(t *testing.T) {
	d := startDaemon(t, "", notesService+`
[service.scratch]
command = "{app}"
isolation = "process"
storage_persist = false
`)
	for _, n := range []string{"notes:keep", "scratch:tmp"} {
		d.ten("spawn", n)
		get(t, d.info(n).Port, "/write?name=marker&value=v1")
		d.ten("stop", n)
	}
	if b, err := os.ReadFile(filepath.Join(d.dataDir, "notes", "keep", "marker")); err != nil || string(b) != "v1" {
		t.Errorf("persisted data: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(d.dataDir, "scratch", "tmp", "marker")); !os.IsNotExist(err) {
		t.Errorf("storage_persist=false kept data: %v", err)
	}
	// delete forgets the instance but keeps its data; --purge removes it.
	d.ten("delete", "notes:keep")
	if _, ok := d.ps()["notes:keep"]; ok {
		t.Error("deleted instance still listed")
	}
	if code, _, _ := d.request("keep.notes.test.local", "/"); code != 404 {
		t.Errorf("request for deleted instance: %d, want 404", code)
	}
	if _, err := os.Stat(filepath.Join(d.dataDir, "notes", "keep", "marker")); err != nil {
		t.Errorf("delete without --purge removed data: %v", err)
	}
	d.ten("spawn", "notes:keep")
	d.ten("delete", "--purge", "notes:keep")
	if _, err := os.Stat(filepath.Join(d.dataDir, "notes", "keep")); !os.IsNotExist(err) {
		t.Errorf("--purge kept the data dir: %v", err)
	}
}
