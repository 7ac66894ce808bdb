package packaging

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// reloadCfg adds the service memo to the test's config.
const reloadCfg = notesCfg + `
[service.memo]
command = "/usr/bin/python3 /srv/notes/app.py"
health = "/health"
memory_limit_mb = 128
`

func writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile("/etc/tenement/tenement.toml", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reload changes the config and runs systemctl reload tenement (the
// unit's ExecReload=): an added service can be spawned at once, by the same
// daemon. A broken config fails the reload, systemctl status shows its
// one-line error, and the previous config still serves.
func (e *e2e) reload(t *testing.T) {
	daemon0 := mainPID(t, "tenement.service")
	writeConfig(t, reloadCfg)
	t.Log(sh(t, "systemctl reload tenement && journalctl -u tenement.service --no-pager -o cat -n 3"))
	if out := sh(t, "ten spawn memo:carol"); !strings.Contains(out, "tenement@memo-carol.service") {
		t.Errorf("ten spawn memo:carol after the reload: %s", out)
	}
	if code, body, err := request("GET", "carol.memo."+domain, "/", ""); err != nil || code != 200 || !strings.Contains(body, "notes for carol") {
		t.Errorf("GET carol.memo: %d %q %v", code, body, err)
	}
	if d := mainPID(t, "tenement.service"); d != daemon0 || isActive("tenement.service") != "active" {
		t.Errorf("daemon MainPID %d → %d (%s): a reload must not restart it", daemon0, d, isActive("tenement.service"))
	}
	if got := show(t, "tenement.service", "StatusText"); got != "serving; config reloaded" {
		t.Errorf("status after the reload: %q", got)
	}

	// A broken config is refused; the previous one stays in force.
	writeConfig(t, reloadCfg+"\n[service.broken]\ncommand = \"/usr/bin/python3\"\nisolation = \"vm\"\n")
	const refusal = `service.broken.isolation: invalid value "vm"`
	if out, err := shErr("systemctl reload tenement"); err == nil {
		t.Errorf("systemctl reload of a broken config succeeded: %s", out)
	}
	status, _ := shErr("systemctl status --no-pager -l -n 5 tenement")
	t.Logf("systemctl status tenement after the refused reload:\n%s", status)
	if !strings.Contains(status, "Active: active (running)") || !strings.Contains(status, refusal) ||
		!strings.Contains(status, "Status: \"serving with the previous config; reload refused: ") {
		t.Errorf("systemctl status lacks the refusal %q or the status line", refusal)
	}
	if d := mainPID(t, "tenement.service"); d != daemon0 {
		t.Errorf("daemon MainPID %d → %d after a refused reload", daemon0, d)
	}
	for _, host := range []string{"alice.notes." + domain, "carol.memo." + domain} {
		if code, _, err := request("GET", host, "/", ""); err != nil || code != 200 {
			t.Errorf("GET %s after the refused reload: %d %v", host, code, err)
		}
	}

	// A listen host the packaged socket (every address) would ignore:
	// ten config check and the reload refuse it, naming both.
	writeConfig(t, strings.Replace(reloadCfg, `listen = ":8080"`, `listen = "127.0.0.1:8080"`, 1))
	const mismatch = `settings.listen: "127.0.0.1:8080": tenement.socket listens on [::]:8080`
	if out, err := shErr("ten config check"); err == nil || !strings.Contains(out, mismatch) {
		t.Errorf("ten config check of a listen host the socket ignores: %v %q, want %q", err, out, mismatch)
	}
	if out, err := shErr("systemctl reload tenement"); err == nil {
		t.Errorf("systemctl reload with a listen host the socket ignores succeeded: %s", out)
	}
	if status, _ := shErr("systemctl status --no-pager -l -n 5 tenement"); !strings.Contains(status, mismatch) {
		t.Errorf("systemctl status lacks the refusal %q:\n%s", mismatch, status)
	}

	// Back to the test's config, without memo: carol is an orphan, and
	// goes with ten delete.
	writeConfig(t, notesCfg)
	t.Log(sh(t, "systemctl reload tenement && ten delete memo:carol"))
	if got := isActive("tenement@memo-carol.service"); got == "active" {
		t.Errorf("tenement@memo-carol.service is %s after ten delete", got)
	}
	if d := mainPID(t, "tenement.service"); d != daemon0 {
		t.Errorf("daemon MainPID %d → %d", daemon0, d)
	}
}

// corruptStore corrupts the store of a stopped daemon and starts it: it
// fails with exit status 78 and one line naming ten store recover, and
// systemd does not restart it (RestartPreventExitStatus=78, else it would
// every RestartSec=2s, forever); the tenants keep running. With the good
// copy put back, the daemon starts and serves.
func (e *e2e) corruptStore(t *testing.T) {
	const db = "/var/lib/tenement/tenement.db"
	tenant := mainPID(t, "tenement@notes-alice.service")
	sh(t, "systemctl stop tenement.socket tenement.service && cp -a "+db+" "+db+".good")
	sh(t, "dd if=/dev/zero of="+db+" bs=4096 count=4 conv=notrunc status=none")
	if out, err := shErr("systemctl start tenement.socket tenement.service"); err == nil {
		t.Errorf("the daemon started on a corrupt store: %s", out)
	}
	// Longer than RestartSec=2s: a restart would have happened.
	time.Sleep(3 * time.Second)
	got := fmt.Sprintf("%s %s %s %s", show(t, "tenement.service", "ActiveState"), show(t, "tenement.service", "Result"),
		show(t, "tenement.service", "ExecMainStatus"), show(t, "tenement.service", "NRestarts"))
	if got != "failed exit-code 78 0" {
		t.Errorf("tenement.service: ActiveState Result ExecMainStatus NRestarts = %s, want failed exit-code 78 0 (no restart)", got)
	}
	journal := sh(t, "journalctl -u tenement.service --no-pager -o cat -n 20")
	if !strings.Contains(journal, "ten: store "+db+" is corrupt (") || !strings.Contains(journal, "tenants keep running; run: ten store recover") {
		t.Errorf("the journal lacks the line naming ten store recover:\n%s", journal)
	}
	t.Log(sh(t, "systemctl status --no-pager -l -n 2 tenement.service || true"))
	if got := mainPID(t, "tenement@notes-alice.service"); got != tenant {
		t.Errorf("a tenant was restarted (%d → %d)", tenant, got)
	}

	sh(t, "mv "+db+".good "+db+" && systemctl reset-failed tenement.service && systemctl start tenement.socket tenement.service")
	testbed.Eventually(t, 10*time.Second, "alice is served again", func() error {
		code, body, err := request("GET", "alice.notes."+domain, "/notes", "")
		if err != nil || code != 200 || !strings.Contains(body, "buy milk") {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
}
