package integration

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/metrics/metricstest"

	"github.com/tenement/tenement/internal/testbed"
)

const metricsServices = `
[service.web]
command = "{app}"
isolation = "process"
health = "/health"
idle_timeout = "10m"
`

// scrapeTCP fetches /metrics on the root domain with a token.
func (d *daemon) scrapeTCP(token string) map[string]*dto.MetricFamily {
	d.t.Helper()
	a := d.call(httpClient, "GET", "/metrics", token, "")
	if a.status != http.StatusOK {
		d.t.Fatalf("GET /metrics: %d %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		d.t.Fatalf("GET /metrics: Content-Type %q", ct)
	}
	return metricstest.Parse(d.t, a.body)
}

// scrapeSocket fetches /metrics on the local API socket (as root: admin).
func (d *daemon) scrapeSocket() map[string]*dto.MetricFamily {
	d.t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
		},
	}}
	resp, err := c.Get("http://tenement/metrics")
	if err != nil {
		d.t.Fatalf("GET /metrics on the socket: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("GET /metrics on the socket: %d %s", resp.StatusCode, b)
	}
	return metricstest.Parse(d.t, string(b))
}

// instanceSeries returns "family{service,instance}" for every series that
// belongs to an instance with the given id.
func instanceSeries(mfs map[string]*dto.MetricFamily, id string) []string {
	var out []string
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "instance" && lp.GetValue() == id {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	d := startDaemon(t, "", metricsServices)
	admin := d.tokenGen("").Token
	alice := d.tokenGen("alice").Token
	d.ten("spawn", "web:alice")
	d.ten("spawn", "web:bob")
	d.ten("stop", "web:alice")

	// A request wakes alice; more go to both.
	for i := range 5 {
		for _, host := range []string{"alice.web.test.local", "bob.web.test.local"} {
			if code, body, err := d.request(host, "/"); err != nil || code != 200 {
				t.Fatalf("request %d to %s: %d %q %v", i, host, code, body, err)
			}
		}
	}
	// A made-up id is a 404 and must not make series.
	if code, _, _ := d.request("nobody.web.test.local", "/"); code != 404 {
		t.Fatalf("made-up instance: %d, want 404", code)
	}

	mfs := d.scrapeTCP(admin)
	hasMemory := testbed.HasController(t, "memory")
	aliceL := map[string]string{"service": "web", "instance": "alice"}
	wakes := metricstest.Series(mfs, "tenement_wakes_total", map[string]string{"service": "web", "instance": "alice", "result": "ok"})
	if len(wakes) != 1 || wakes[0].GetCounter().GetValue() < 1 {
		t.Fatalf("no wake of web:alice in /metrics: %v", wakes)
	}
	wh := metricstest.Series(mfs, "tenement_wake_duration_seconds", aliceL)
	if len(wh) != 1 || wh[0].GetHistogram().GetSampleCount() < 1 || len(wh[0].GetHistogram().GetBucket()) == 0 {
		t.Fatalf("wake latency histogram of web:alice: %v", wh)
	}
	t.Logf("measured: /metrics: web:alice woke in %.3fs", wh[0].GetHistogram().GetSampleSum())
	for _, id := range []string{"alice", "bob"} {
		l := map[string]string{"service": "web", "instance": id}
		h := metricstest.Series(mfs, "tenement_request_duration_seconds", l)
		if len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 5 {
			t.Errorf("request latency histogram of web:%s: %v, want 5 requests", id, h)
		}
		l["code"] = "2xx"
		if r := metricstest.Series(mfs, "tenement_requests_total", l); len(r) != 1 || r[0].GetCounter().GetValue() != 5 {
			t.Errorf("tenement_requests_total of web:%s: %v, want 5", id, r)
		}
		mem := metricstest.Series(mfs, "tenement_instance_memory_bytes", map[string]string{"service": "web", "instance": id})
		switch {
		case !hasMemory:
			// no source: absent, not zero
			if len(mem) != 0 {
				t.Errorf("memory of running web:%s: %v, want no series (the cgroup tree has no memory controller)", id, mem)
			}
		case len(mem) != 1 || mem[0].GetGauge().GetValue() <= 0:
			t.Errorf("memory of running web:%s: %v, want > 0 (MemoryCurrent is %s)", id, mem, show(t, "tenement@web-"+id+".service", "MemoryCurrent"))
		default:
			t.Logf("measured: /metrics: web:%s memory %.0f bytes", id, mem[0].GetGauge().GetValue())
		}
		one := metricstest.Series(mfs, "tenement_instance_state", map[string]string{"service": "web", "instance": id, "state": "running"})
		if len(one) != 1 {
			t.Errorf("tenement_instance_state of web:%s: %v", id, one)
		}
	}
	// CPU comes from the cgroup files, not from systemd: the unit's
	// cpu.stat in the cgroup2 hierarchy counts even where systemd reports
	// no CPUUsageNSec (a hybrid manager) and in a unified tree without the
	// cpu controller.
	cpuProp := show(t, "tenement@web-bob.service", "CPUUsageNSec")
	cpu := metricstest.Series(mfs, "tenement_instance_cpu_seconds_total", map[string]string{"service": "web", "instance": "bob"})
	if len(cpu) != 1 || cpu[0].GetCounter().GetValue() <= 0 {
		t.Errorf("no CPU of running web:bob: %v (systemd's CPUUsageNSec=%s)", cpu, cpuProp)
	} else {
		t.Logf("measured: /metrics: web:bob CPU %.3fs from the cgroup files (systemd's CPUUsageNSec=%s)", cpu[0].GetCounter().GetValue(), cpuProp)
	}
	if got := metricstest.Series(mfs, "tenement_instances", map[string]string{"state": "running"}); len(got) != 1 || got[0].GetGauge().GetValue() != 2 {
		t.Errorf("tenement_instances{state=running}: %v, want 2", got)
	}
	if s := instanceSeries(mfs, "nobody"); len(s) != 0 {
		t.Errorf("a made-up instance has series: %v", s)
	}

	// The local socket serves the same (its callers are admins).
	if s := d.scrapeSocket(); len(metricstest.Series(s, "tenement_wakes_total", aliceL)) != 1 || s["tenement_instances"] == nil {
		t.Errorf("the socket's /metrics misses series")
	}

	// A tenant sees only its own series, and nothing global.
	mine := d.scrapeTCP(alice)
	if len(mine) == 0 {
		t.Fatal("tenant alice sees no metrics at all")
	}
	for name, mf := range mine {
		for _, m := range mf.Metric {
			var svc, id string
			for _, lp := range m.Label {
				switch lp.GetName() {
				case "service":
					svc = lp.GetValue()
				case "instance":
					id = lp.GetValue()
				}
			}
			if svc == "" || id != "alice" {
				t.Errorf("tenant alice sees %s%v", name, m.Label)
			}
		}
	}
	if len(metricstest.Series(mine, "tenement_wakes_total", aliceL)) != 1 {
		t.Errorf("tenant alice does not see its own wake")
	}
	// Without a token: 401.
	if a := d.call(httpClient, "GET", "/metrics", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token: %d", a.status)
	}

	// The summary counts the wake, scoped the same way.
	var sum apitype.Summary
	if a := d.call(httpClient, "GET", "/api/summary", admin, ""); a.status != 200 || json.Unmarshal([]byte(a.body), &sum) != nil {
		t.Fatalf("GET /api/summary: %d %s", a.status, a.body)
	}
	if sum.Scope != "admin" || sum.Instances != 2 || sum.States["running"] != 2 || sum.Wakes < 1 || sum.WakesLastMinute < 1 || sum.Requests != 10 {
		t.Errorf("admin summary: %+v", sum)
	}
	var tsum apitype.Summary
	if a := d.call(httpClient, "GET", "/api/summary", alice, ""); a.status != 200 || json.Unmarshal([]byte(a.body), &tsum) != nil {
		t.Fatalf("GET /api/summary as alice: %d %s", a.status, a.body)
	}
	if tsum.Scope != "tenant" || tsum.Tenant != "alice" || tsum.Instances != 1 || tsum.Requests != 5 {
		t.Errorf("tenant summary: %+v", tsum)
	}

	// Deleting bob removes its series.
	if len(instanceSeries(mfs, "bob")) == 0 {
		t.Fatal("bob had no series before the delete")
	}
	d.ten("delete", "web:bob")
	if s := instanceSeries(d.scrapeTCP(admin), "bob"); len(s) != 0 {
		t.Errorf("deleted web:bob still has series: %v", s)
	}
}
