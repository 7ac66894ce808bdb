package integration

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// webService's versions are healthy unless their id is "fail": the app
// reads HEALTH=fail from its environment. Readiness is a TCP connect, so a
// deploy's own health wait decides.
const webService = `
[service.web]
command = "{app}"
health = "/health"
ready = "tcp"
isolation = "process"
[service.web.env]
HEALTH = "{id}"
`

func TestDeployThatNeverGetsHealthyIsStopped(t *testing.T) {
	d := startDaemon(t, "", webService)
	if out := d.ten("deploy", "web:v1"); !strings.Contains(out, "Deployed web:v1") || !strings.Contains(out, "Status: healthy") {
		t.Fatalf("deploy web:v1:\n%s", out)
	}
	start := time.Now()
	out, err := d.tenErr("deploy", "web:fail", "--timeout", "3")
	if err == nil {
		t.Fatalf("deploy of an unhealthy version succeeded:\n%s", out)
	}
	took := time.Since(start)
	t.Logf("ten deploy web:fail --timeout 3: %s", strings.TrimSpace(out))
	if !strings.HasPrefix(out, "ten: deploy web:fail: ") || strings.Count(out, "\n") != 1 ||
		!strings.Contains(out, "did not become healthy within 3s") || !strings.Contains(out, "stopped it") {
		t.Errorf("deploy error: %q", out)
	}
	if took < 3*time.Second || took > 20*time.Second {
		t.Errorf("deploy failed after %v, timeout 3s", took)
	}
	i := d.info("web:fail")
	if i.State != apitype.StateAsleep || i.Weight != 0 {
		t.Errorf("failed deploy: state %s weight %d, want asleep with weight 0", i.State, i.Weight)
	}
	if got := systemctl(t, "is-active", "tenement@web-fail.service"); got == "active" || got == "activating" {
		t.Errorf("tenement@web-fail.service is %s", got)
	}
	// Weighted traffic goes to v1 only and does not wake the failed version.
	for range 10 {
		code, body, err := d.request("web."+d.domain, "/")
		if err != nil || code != 200 || !strings.HasPrefix(body, "hello from web:v1") {
			t.Fatalf("web.%s: %d %q %v", d.domain, code, body, err)
		}
	}
	if i := d.info("web:fail"); i.State != apitype.StateAsleep {
		t.Errorf("web:fail woke: %s", i.State)
	}
	var log []apitype.AuditEntry
	if err := json.Unmarshal([]byte(d.ten("audit", "--json")), &log); err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, e := range log {
		if e.Action == "deploy" && e.Target == "web:fail" {
			seen = strings.HasPrefix(e.Result, "error: ") && strings.Contains(e.Result, "healthy")
		}
	}
	if !seen {
		t.Errorf("no failed deploy in the audit log: %+v", log)
	}
	// An unknown service fails at once, and creates nothing.
	if out, err := d.tenErr("deploy", "nope:v1"); err == nil || !strings.Contains(out, "not configured") {
		t.Errorf("deploy of an unknown service: %v %s", err, out)
	}
}

func TestRouteFlipsTrafficWithoutFailedRequests(t *testing.T) {
	d := startDaemon(t, "", webService)
	d.ten("deploy", "web:v1")
	if out := d.ten("deploy", "web:v2", "--weight", "0"); !strings.Contains(out, "Weight: 0") {
		t.Fatalf("deploy web:v2 --weight 0:\n%s", out)
	}
	type result struct {
		start, end time.Time
		code       int
		version    string
		err        error
	}
	var (
		mu      sync.Mutex
		results []result
	)
	stop := testbed.Repeat(4, func(int) {
		r := result{start: time.Now()}
		var body string
		r.code, body, r.err = d.request("web."+d.domain, "/")
		r.end = time.Now()
		if f := strings.Fields(body); len(f) >= 3 {
			r.version = f[2]
		}
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	})
	time.Sleep(500 * time.Millisecond)
	routeStart := time.Now()
	out := d.ten("route", "web", "--from", "v1", "--to", "v2")
	routeEnd := time.Now()
	time.Sleep(500 * time.Millisecond)
	stop()

	if !strings.Contains(out, "Routed traffic: web:v1 -> web:v2") || !strings.Contains(out, "web:v2 weight = 100") {
		t.Errorf("route output:\n%s", out)
	}
	var before, after int
	for _, r := range results {
		if r.err != nil || r.code != 200 {
			t.Errorf("request at %v: %d %v", r.start.Sub(routeStart), r.code, r.err)
			continue
		}
		switch {
		case r.end.Before(routeStart):
			before++
			if r.version != "web:v1" {
				t.Errorf("before the route, %s answered", r.version)
			}
		case r.start.After(routeEnd):
			after++
			if r.version != "web:v2" {
				t.Errorf("after the route, %s answered", r.version)
			}
		}
	}
	if before < 10 || after < 10 {
		t.Errorf("%d requests before the route and %d after: too few to tell", before, after)
	}
	t.Logf("measured: ten route: %d requests, %d before and %d after the route, none failed", len(results), before, after)
	if i := d.info("web:v1"); i.Weight != 0 || i.State != apitype.StateRunning {
		t.Errorf("web:v1 after route: %+v", i)
	}
	// Routing to a version that does not exist changes nothing.
	if out, err := d.tenErr("route", "web", "--from", "v2", "--to", "v9"); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("route to v9: %v %s", err, out)
	}
	if i := d.info("web:v2"); i.Weight != 100 {
		t.Errorf("web:v2 weight %d after a failed route", i.Weight)
	}
}

// TestDeployedVersionGetsNoTrafficBeforeHealthy deploys a version that
// takes a while to start and watches it: until it runs, its weight is 0, so
// weighted requests neither reach it nor wait for it.
func TestDeployedVersionGetsNoTrafficBeforeHealthy(t *testing.T) {
	d := startDaemon(t, "", webService+"\n[service.slowv]\ncommand = \"{app}\"\nhealth = \"/health\"\nisolation = \"process\"\n[service.slowv.env]\nREADY_DELAY = \"{id}\"\n")
	d.ten("deploy", "slowv:0s")
	done := make(chan string)
	go func() {
		// "1500ms" is a valid instance id and the app's READY_DELAY.
		out, _ := d.tenErr("deploy", "slowv:1500ms", "--weight", "50")
		done <- out
	}()
	observed := 0
	for {
		select {
		case out := <-done:
			if !strings.Contains(out, "Deployed slowv:1500ms") {
				t.Fatalf("deploy: %s", out)
			}
			if observed == 0 {
				t.Fatal("never saw the new version while it started")
			}
			if i := d.info("slowv:1500ms"); i.Weight != 50 {
				t.Errorf("after deploy: weight %d, want 50", i.Weight)
			}
			// Weighted traffic now reaches both versions.
			code, _, err := d.request("slowv."+d.domain, "/")
			if err != nil || code != 200 {
				t.Errorf("weighted request: %d %v", code, err)
			}
			return
		default:
		}
		if i, ok := d.ps()["slowv:1500ms"]; ok && i.State != apitype.StateRunning {
			observed++
			if i.Weight != 0 {
				t.Fatalf("new version %s with weight %d before it is healthy", i.State, i.Weight)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
