package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// rewrite replaces the services of the daemon's config file (the settings
// stay as startDaemon wrote them).
func (d *daemon) rewrite(services string) {
	d.t.Helper()
	b, err := os.ReadFile(d.cfgPath)
	if err != nil {
		d.t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(b), "\n[service.")
	if err := os.WriteFile(d.cfgPath, []byte(head+"\n"+strings.ReplaceAll(services, "{app}", binPath("testapp"))), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

const reloadV1 = `
[service.web]
command = "{app}"
isolation = "process"
health = "/health"
[service.web.env]
GREETING = "v1"
[service.old]
command = "{app}"
isolation = "process"
`

const reloadV2 = `
[service.web]
command = "{app}"
isolation = "process"
health = "/health"
[service.web.env]
GREETING = "v2"
[service.added]
command = "{app}"
isolation = "process"
`

func TestConfigReload(t *testing.T) {
	d := startDaemon(t, "", reloadV1)
	for _, n := range []string{"web:a", "web:b", "web:c", "old:x"} {
		d.ten("spawn", n)
	}
	pid := d.cmd.Process.Pid

	// A broken config is refused in one line; the old one still serves.
	d.rewrite(reloadV1 + "\n[service.broken]\ncommand = \"{app}\"\nisolation = \"vm\"\n")
	out, err := d.tenErr("config", "reload")
	if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, `service.broken.isolation: invalid value "vm"`) {
		t.Errorf("reload of a broken config: %v\n%s", err, out)
	}
	if code, body, _ := d.request(d.instanceHost("web", "a"), "/env"); code != 200 || !strings.Contains(body, "GREETING=v1") {
		t.Errorf("after a refused reload: %d %s", code, body)
	}

	// The new config: web changes, old goes, added comes.
	d.rewrite(reloadV2)
	out = d.ten("config", "reload")
	t.Logf("ten config reload:\n%s", out)
	for _, want := range []string{"added services: added", "changed services: web", "removed services: old",
		"restart pending (ten restart SERVICE): web:a, web:b, web:c", "orphaned (stop or delete them): old:x"} {
		if !strings.Contains(out, want) {
			t.Errorf("reload output lacks %q", want)
		}
	}
	if d.cmd.Process.Pid != pid || !d.running() {
		t.Fatal("the daemon restarted")
	}
	// An added service works at once.
	d.ten("spawn", "added:one")
	ps := d.ps()
	for _, n := range []string{"web:a", "web:b", "web:c"} {
		if !ps[n].RestartPending {
			t.Errorf("%s is not restart-pending: %+v", n, ps[n])
		}
	}
	if o := ps["old:x"]; !o.Orphaned || o.State != apitype.StateRunning {
		t.Errorf("old:x: orphaned %v, %s", o.Orphaned, o.State)
	}

	// ten restart web applies it one instance at a time, under load: no
	// request fails.
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var errs []string
	ids := []string{"a", "b", "c"}
	stop := testbed.Repeat(len(ids), func(w int) {
		code, body, err := d.request(d.instanceHost("web", ids[w]), "/env")
		sent.Add(1)
		if err != nil || code != 200 || !strings.Contains(body, "GREETING=") {
			failed.Add(1)
			mu.Lock()
			errs = append(errs, fmt.Sprintf("web:%s %d %v", ids[w], code, err))
			mu.Unlock()
		}
	})
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	var r struct{ Restarted []string }
	if err := json.Unmarshal([]byte(d.ten("restart", "web", "--json")), &r); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	time.Sleep(300 * time.Millisecond)
	stop()
	t.Logf("measured: ten restart web (3 instances, one at a time) took %v under load: %d requests, %d failed", took.Round(time.Millisecond), sent.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart: %v", failed.Load(), sent.Load(), errs[:min(len(errs), 5)])
	}
	if strings.Join(r.Restarted, " ") != "web:a web:b web:c" {
		t.Errorf("restarted %v", r.Restarted)
	}
	for _, id := range []string{"a", "b", "c"} {
		if code, body, _ := d.request(d.instanceHost("web", id), "/env"); code != 200 || !strings.Contains(body, "GREETING=v2") {
			t.Errorf("web:%s after the restart: %d %s", id, code, body)
		}
	}
	if ps := d.ps(); ps["web:a"].RestartPending {
		t.Error("web:a is still restart-pending")
	}

	// The orphan keeps serving until deleted; ten delete works on it.
	if code, _, _ := d.request(d.instanceHost("old", "x"), "/health"); code != 200 {
		t.Errorf("the orphan stopped serving: %d", code)
	}
	d.ten("delete", "old:x")
	if _, ok := d.ps()["old:x"]; ok {
		t.Error("old:x is still listed after ten delete")
	}
	if got := systemctl(t, "is-active", "tenement@old-x.service"); got == "active" {
		t.Error("the orphan's unit still runs after ten delete")
	}
}
