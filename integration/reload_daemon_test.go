package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// systemctl daemon-reload (what a package upgrade runs) reloads every unit;
// running instances stay running and keep answering, their units load
// whole again (systemd 252 drops a transient unit's ExecStartEx= at a
// reload: the daemon's drop-in restates it, units/dropin.go), and systemd
// can still restart one after a crash, port guard included.
func TestSystemdDaemonReloadKeepsInstances(t *testing.T) {
	d := startIsolated(t, `log_level = "debug"`, namespaceServices)
	d.ten("spawn", "ns:alice")
	d.ten("spawn", "ns:bob")
	for range 2 {
		if out := systemctl(t, "daemon-reload"); out != "" {
			t.Fatalf("daemon-reload: %s", out)
		}
		time.Sleep(300 * time.Millisecond)
		for _, n := range []string{"ns:alice", "ns:bob"} {
			if i := d.info(n); i.State != apitype.StateRunning || i.Port == 0 {
				t.Errorf("%s after daemon-reload: %s, port %d", n, i.State, i.Port)
			}
		}
		if code, body, err := d.request("alice.ns."+d.domain, "/"); code != 200 || !strings.Contains(body, "ns:alice") {
			t.Errorf("after daemon-reload: %d %q %v", code, body, err)
		}
	}
	unit := "tenement@ns-alice.service"
	if got := show(t, unit, "LoadState"); got != "loaded" {
		t.Errorf("%s after daemon-reload: LoadState %s", unit, got)
	}
	if got := show(t, unit, "ExecStartPre"); !strings.Contains(got, "guard") {
		t.Errorf("%s lost its port guard at the reload: ExecStartPre=%s", unit, got)
	}
	pid := mainPID(t, unit)
	crash(d.info("ns:alice").Port)
	testbed.Eventually(t, 10*time.Second, "restarted by systemd after a reload", func() error {
		if p := mainPID(t, unit); p == 0 || p == pid || show(t, unit, "ActiveState") != "active" {
			return fmt.Errorf("MainPID %d, %s", p, show(t, unit, "ActiveState"))
		}
		if i := d.info("ns:alice"); i.State != apitype.StateRunning {
			return fmt.Errorf("ten ps: %s", i.State)
		}
		return nil
	})
	// A package upgrade reloads systemd, then restarts the daemon: the
	// new daemon adopts the instances.
	systemctl(t, "daemon-reload")
	d.stop()
	d.start()
	for _, n := range []string{"ns:alice", "ns:bob"} {
		if i := d.info(n); i.State != apitype.StateRunning || i.Port == 0 {
			t.Errorf("%s after a daemon restart: %s, port %d", n, i.State, i.Port)
		}
	}
	if code, body, err := d.request("alice.ns."+d.domain, "/"); code != 200 || !strings.Contains(body, "ns:alice") {
		t.Errorf("after a daemon restart: %d %q %v", code, body, err)
	}
	if t.Failed() {
		t.Log(d.Logs())
		out, _ := exec.Command("journalctl", "-n", "60", "--no-pager", "-o", "cat").CombinedOutput()
		t.Logf("journal:\n%s", out)
	}
}
