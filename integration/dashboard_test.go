package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// chromium is Debian's browser, which scripts/deps installs.
const chromium = "/usr/bin/chromium"

// requireFile skips the test when a tool is missing, or fails it in CI
// (where scripts/deps installs it).
func requireFile(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	testbed.SkipOrFail(t, fmt.Sprintf("%s missing (%s); scripts/deps installs it", what, path))
}

// manyAsleep is how many instances the dashboard test registers asleep
// besides its two running ones: several pages of the dashboard's 50 rows.
const manyAsleep = 300

// TestDashboardInChromium drives the dashboard in a real browser
// (dashboard/e2e/test.mjs): sign in as admin, see the first page of rows
// of 302 instances, stop one from the UI and see it asleep, read logs;
// search for one instance, filter by state, page forward to the last page
// and back; then sign in as a tenant and see only its own instance. The
// screenshots go to artifacts/ at the module root, which CI keeps.
func TestDashboardInChromium(t *testing.T) {
	root, err := os.Getwd()
	root = testbed.ModuleRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	e2e := filepath.Join(root, "dashboard", "e2e")
	requireFile(t, chromium, "Debian's chromium")
	requireFile(t, filepath.Join(e2e, "node_modules", "playwright-core", "package.json"), "playwright-core (npm ci in dashboard/e2e)")
	node, err := exec.LookPath("node")
	if err != nil {
		requireFile(t, "/usr/bin/node", "node")
		node = "/usr/bin/node"
	}

	d := startDaemon(t, "", metricsServices)
	d.ten("spawn", "web:alice")
	d.ten("spawn", "web:bob")
	d.ten("domain", "add", "web:alice", "alice.example")
	many := []string{"create"}
	for i := range manyAsleep {
		many = append(many, fmt.Sprintf("web:t%03d", i))
	}
	d.ten(many...)
	// A wake and some requests, for the summary and the screenshot.
	d.ten("stop", "web:alice")
	for range 3 {
		if code, body, err := d.request("alice.web.test.local", "/"); err != nil || code != 200 {
			t.Fatalf("request to web:alice: %d %q %v", code, body, err)
		}
	}
	admin := d.tokenGen("")
	alice := d.tokenGen("alice")
	artifacts := filepath.Join(root, "artifacts")
	shot := filepath.Join(artifacts, "dashboard.png")
	os.Remove(shot)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(e2e, "test.mjs"))
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("DASHBOARD_URL=http://127.0.0.1:%d/", d.port),
		"ADMIN_TOKEN="+admin.Token,
		"TENANT_TOKEN="+alice.Token,
		"TENANT_INSTANCE=web:alice",
		"TENANT_DOMAIN=alice.example",
		"STOP_INSTANCE=web:bob",
		"ASLEEP_PREFIX=web:t",
		fmt.Sprintf("ASLEEP_INSTANCES=%d", manyAsleep),
		"SCREENSHOT_DIR="+artifacts,
		"CHROMIUM="+chromium,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("node test.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the browser test failed: %v (screenshots in %s)", err, artifacts)
	}

	// The browser's stop really stopped the unit, as the admin token.
	if i := d.info("web:bob"); i.State != apitype.StateAsleep {
		t.Errorf("web:bob is %s after the stop in the browser, want asleep", i.State)
	}
	if got := systemctl(t, "is-active", "tenement@web-bob.service"); got == "active" {
		t.Errorf("tenement@web-bob.service is still active")
	}
	if i := d.info("web:alice"); i.State != apitype.StateRunning {
		t.Errorf("web:alice is %s, want running (only bob was stopped)", i.State)
	}
	var audit []apitype.AuditEntry
	if err := json.Unmarshal([]byte(d.ten("audit", "--json")), &audit); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(audit, func(e apitype.AuditEntry) bool {
		return e.Action == "stop" && e.Target == "web:bob" && e.Actor == "token:"+admin.ID && e.Result == "ok"
	}) {
		t.Errorf("the audit log does not record the admin's stop of web:bob: %+v", audit)
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot %s: %v (size %d)", shot, err, sizeOf(st))
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return 0
	}
	return st.Size()
}
