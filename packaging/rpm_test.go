package packaging

import (
	"os"
	"strings"
	"testing"

	"github.com/tenement/tenement/internal/testbed"
)

// TestRPMLifecycle runs the .rpm's scriptlets for real: Debian's rpm can
// install it into the manager's throwaway root (--nodeps: systemd and dbus
// are Debian packages here, not in the rpm database). Install enables and
// starts the units, an upgrade restarts the daemon and no tenant, erase
// stops the daemon and its tenants and keeps the state.
func TestRPMLifecycle(t *testing.T) {
	p := requirePackages(t)
	allowServiceStarts(t)
	if _, err := shErr("dpkg -s tenement"); err == nil {
		sh(t, "dpkg -P tenement") // TestPackage stopped half-way
	}
	rpm := func(args string) string {
		return sh(t, "rpm --nodeps "+args+" 2>&1 | grep -v -e 'should not be used directly' -e 'assuming you know' || true")
	}
	sh(t, "rpm --initdb")
	t.Log(rpm("-i " + p.rpm1))
	for _, u := range []string{"tenement.socket", "tenement.service"} {
		if got := isActive(u); got != "active" {
			t.Fatalf("%s is %q after rpm -i", u, got)
		}
	}
	cfg := strings.Replace(notesCfg, "/usr/bin/python3 /srv/notes/app.py", "/usr/bin/python3 /srv/notes-rpm/app.py", 1)
	wd, _ := os.Getwd()
	root := testbed.ModuleRoot(wd)
	sh(t, "install -D -m 0644 "+root+"/examples/notes/app.py /srv/notes-rpm/app.py")
	if err := os.WriteFile("/etc/tenement/tenement.toml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "systemctl restart tenement && ten spawn notes:carol")
	tenant, daemon := mainPID(t, "tenement@notes-carol.service"), mainPID(t, "tenement.service")

	t.Log(rpm("-U " + p.rpm2))
	if got := sh(t, "ten version"); !strings.HasPrefix(got, "ten "+version2+" ") {
		t.Errorf("after rpm -U: %s", got)
	}
	if d := mainPID(t, "tenement.service"); d == daemon || d == 0 {
		t.Errorf("rpm -U did not restart the daemon (%d → %d)", daemon, d)
	}
	if got := mainPID(t, "tenement@notes-carol.service"); got != tenant {
		t.Errorf("rpm -U restarted a tenant (%d → %d)", tenant, got)
	}
	if b, _ := os.ReadFile("/etc/tenement/tenement.toml"); string(b) != cfg {
		t.Error("rpm -U replaced the edited config")
	}

	t.Log(rpm("-e tenement"))
	for _, u := range []string{"tenement.socket", "tenement.service", "tenement@notes-carol.service"} {
		if got := isActive(u); got == "active" {
			t.Errorf("%s still active after rpm -e", u)
		}
	}
	if _, err := os.Stat("/var/lib/tenement/notes/carol"); err != nil {
		t.Errorf("rpm -e removed the state: %v", err)
	}
	if out, _ := shErr("systemctl is-enabled tenement.socket tenement.service"); strings.Contains(out, "enabled") {
		t.Errorf("still enabled after rpm -e: %s", out)
	}
}
