package integration

import (
	"bufio"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"github.com/tenement/tenement/metrics/metricstest"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// The wake and sleep policy of a service, against the real manager.

const policyServices = `
[service.web]
command = "{app}"
isolation = "process"
health = "/health"
idle_timeout = "1s"
probe_paths = ["/healthz"]
no_wake_user_agents = ["(?i)uptimerobot"]

[service.page]
command = "{app}"
isolation = "process"
health = "/health"
wake = "page"
[service.page.env]
READY_DELAY = "300ms"

[service.bg]
command = "{app}"
isolation = "process"
health = "/health"
wake = "background"

[service.quiet]
command = "{app}"
isolation = "process"
idle_timeout = "1s"
stream_idle_timeout = "1s"

[service.slow]
command = "{app}"
isolation = "process"
idle_timeout = "1s"
idle_action = "throttle"
throttle_cpu_percent = 5
`

func TestProbesNeverWake(t *testing.T) {
	d := startDaemon(t, "", policyServices)
	d.ten("spawn", "web:alice")
	d.ten("stop", "web:alice")
	host := d.instanceHost("web", "alice")
	unit := "tenement@web-alice.service"
	before := starts(t, unit)
	for range 50 {
		code, body, err := d.request(host, "/healthz")
		if err != nil || code != 200 || !strings.Contains(body, `"status":"asleep"`) {
			t.Fatalf("probe of an asleep instance: %d %q %v", code, body, err)
		}
	}
	// A monitor's user agent gets 503 with Retry-After and starts nothing.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.port), nil)
	req.Host = host
	req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("monitor: %d Retry-After=%q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := starts(t, unit); got != before {
		t.Errorf("probes and a monitor started the unit %d times", got-before)
	}
	if i := d.info("web:alice"); i.State != apitype.StateAsleep {
		t.Errorf("after probes: %s", i.State)
	}
	// /metrics counts them, and the wake below, by service.
	counter := func(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		s := metricstest.Series(mfs, name, labels)
		if len(s) != 1 {
			t.Fatalf("%s%v: %d series, want 1", name, labels, len(s))
		}
		return s[0].GetCounter().GetValue()
	}
	mfs := d.scrapeSocket()
	if got := counter(mfs, "tenement_probes_answered_total", map[string]string{"service": "web", "kind": "probe_path"}); got != 50 {
		t.Errorf("tenement_probes_answered_total{kind=probe_path} = %v, want 50", got)
	}
	if got := counter(mfs, "tenement_probes_answered_total", map[string]string{"service": "web", "kind": "user_agent"}); got != 1 {
		t.Errorf("tenement_probes_answered_total{kind=user_agent} = %v, want 1", got)
	}
	// Awake, the same path reaches the app (the test app answers /healthz
	// with its hello line).
	d.must(host, "/")
	mfs = d.scrapeSocket()
	if got := counter(mfs, "tenement_service_wakes_total", map[string]string{"service": "web", "cause": "request", "result": "ok"}); got != 1 {
		t.Errorf("request wakes of web = %v, want 1", got)
	}
	if got := counter(mfs, "tenement_service_wakes_total", map[string]string{"service": "web", "cause": "spawn", "result": "ok"}); got != 1 {
		t.Errorf("spawn wakes of web = %v, want 1", got)
	}
	if got := counter(mfs, "tenement_asleep_seconds_total", map[string]string{"service": "web"}); got <= 0 {
		t.Errorf("time asleep of web = %v, want > 0", got)
	}
	if code, body, _ := d.request(host, "/healthz"); code != 200 || !strings.Contains(body, "hello from web:alice") {
		t.Errorf("probe of an awake instance: %d %q, want the app's answer", code, body)
	}
	// Probes are no activity: it still sleeps after idle_timeout.
	stop := time.Now().Add(3 * time.Second)
	for time.Now().Before(stop) && d.info("web:alice").State == apitype.StateRunning {
		d.request(host, "/healthz")
		time.Sleep(200 * time.Millisecond)
	}
	if st := d.info("web:alice").State; st != apitype.StateAsleep {
		t.Errorf("probes kept it awake: %s", st)
	}
	t.Logf("measured: 50 probes of an asleep instance answered by tenement, 0 unit starts")
}

var serverTimingRe = regexp.MustCompile(`wake;dur=([0-9.]+)`)

func TestWakePageBackgroundAndServerTiming(t *testing.T) {
	d := startDaemon(t, "", policyServices)
	for _, n := range []string{"page:a", "bg:a", "web:b"} {
		d.ten("create", n)
	}
	// wake = "page": a browser's GET gets the page at once...
	pageHost := d.instanceHost("page", "a")
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.port), nil)
	req.Host = pageHost
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	t0 := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(t0)
	t.Logf("measured: wake = \"page\": the starting page in %v", took.Round(time.Microsecond))
	if !strings.Contains(string(body), `http-equiv="refresh"`) || took > 50*time.Millisecond {
		t.Errorf("browser GET: %d in %v: %.80q, want the starting page at once", resp.StatusCode, took, body)
	}
	// ... and the app's answer after a refresh, once started.
	testbed.Eventually(t, 10*time.Second, "the app after a refresh", func() error {
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "hello from page:a") {
			return fmt.Errorf("%d %.60q", resp.StatusCode, b)
		}
		return nil
	})
	// A curl GET (no HTML) is held and gets the app's answer.
	d.ten("stop", "page:a")
	if code, b, err := d.request(pageHost, "/"); code != 200 || !strings.Contains(b, "hello from page:a") {
		t.Errorf("curl GET with wake = page: %d %q %v, want held and answered", code, b, err)
	}

	// wake = "background": 503 at once, then it runs.
	t0 = time.Now()
	code, _, _ := d.request(d.instanceHost("bg", "a"), "/")
	if code != 503 || time.Since(t0) > 50*time.Millisecond {
		t.Errorf("background: %d in %v, want 503 at once", code, time.Since(t0))
	}
	testbed.Eventually(t, 10*time.Second, "running after a background wake", func() error {
		if i := d.info("bg:a"); i.State != apitype.StateRunning {
			return fmt.Errorf("%s", i.State)
		}
		return nil
	})

	// Server-Timing: a woken request carries the wake's duration, within
	// 10 ms of the wake the test sees.
	var worst time.Duration
	for i := range 5 {
		d.ten("stop", "web:b")
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.port), nil)
		req.Host = d.instanceHost("web", "b")
		t0 := time.Now()
		resp, err := httpClient.Do(req)
		wake := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		m := serverTimingRe.FindStringSubmatch(resp.Header.Get("Server-Timing"))
		if m == nil {
			t.Fatalf("woken request %d: Server-Timing %q", i, resp.Header.Get("Server-Timing"))
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		diff := wake - time.Duration(ms*float64(time.Millisecond))
		worst = max(worst, diff.Abs())
		if diff.Abs() > 10*time.Millisecond {
			t.Errorf("Server-Timing %.1fms, the test saw %v", ms, wake)
		}
		// Awake: no Server-Timing.
		resp, err = httpClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("Server-Timing") != "" {
				t.Errorf("an awake request carries Server-Timing %q", resp.Header.Get("Server-Timing"))
			}
		}
	}
	t.Logf("measured: Server-Timing of a woken request within %v of the wake the client saw", worst.Round(time.Microsecond))
}

func TestKeepAwakeByTenantToken(t *testing.T) {
	d := startDaemon(t, "", policyServices)
	d.ten("spawn", "web:alice")
	alice, bob := d.tokenGen("alice"), d.tokenGen("bob")
	c := apiClient("127.0.0.1")
	if a := d.call(c, "POST", "/api/instances/web:alice/keep-awake", bob.Token, `{"for":"1h"}`); a.status != 404 {
		t.Errorf("bob's token: %d %s, want 404", a.status, a.body)
	}
	if a := d.call(c, "POST", "/api/instances/web:alice/keep-awake", alice.Token, `{"for":"3s"}`); a.status != 200 {
		t.Fatalf("alice's token: %d %s", a.status, a.body)
	}
	time.Sleep(2 * time.Second) // past idle_timeout (1s)
	i := d.info("web:alice")
	if i.State != apitype.StateRunning || i.KeepAwakeUntil.IsZero() {
		t.Errorf("kept awake: %s until %v", i.State, i.KeepAwakeUntil)
	}
	if out := d.ten("ps"); !strings.Contains(out, "awake until") {
		t.Errorf("ten ps does not say until when:\n%s", out)
	}
	testbed.Eventually(t, 5*time.Second, "asleep after the keep-awake", func() error {
		if st := d.info("web:alice").State; st != apitype.StateAsleep {
			return fmt.Errorf("%s", st)
		}
		return nil
	})
}

// With stream_idle_timeout a silent WebSocket no longer keeps its instance
// awake, and it gets a 1001 close frame when the instance goes to sleep.
func TestQuietWebSocketIsClosedWith1001(t *testing.T) {
	d := startDaemon(t, "", policyServices)
	d.ten("spawn", "quiet:a")
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", d.instanceHost("quiet", "a"))
	br := bufio.NewReader(conn)
	status, _ := br.ReadString('\n')
	if !strings.Contains(status, "101") {
		t.Fatalf("upgrade: %q", status)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
	}
	// Bytes flow for 2s (past idle_timeout): awake.
	for i := range 4 {
		fmt.Fprintf(conn, "ping %d\n", i)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("echo: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st := d.info("quiet:a").State; st != apitype.StateRunning {
		t.Fatalf("with bytes flowing: %s", st)
	}
	// Then silence: it sleeps, and the client gets the close frame.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, _ := io.ReadAll(br)
	if len(rest) < 4 || string(rest[len(rest)-4:]) != "\x88\x02\x03\xe9" {
		t.Errorf("the client got %q, want a close frame with status 1001 at the end", rest)
	}
	if st := d.info("quiet:a").State; st != apitype.StateAsleep {
		t.Errorf("after the quiet stream: %s", st)
	}
}

// idle_action = "throttle": idle lowers CPU at runtime; the next request
// is answered without a unit start.
func TestThrottleKeepsItRunning(t *testing.T) {
	d := startDaemon(t, "", policyServices)
	d.ten("spawn", "slow:a")
	unit := "tenement@slow-a.service"
	before := starts(t, unit)
	testbed.Eventually(t, 10*time.Second, "throttled", func() error {
		if q := show(t, unit, "CPUQuotaPerSecUSec"); q != "50ms" {
			return fmt.Errorf("CPUQuotaPerSecUSec=%s", q)
		}
		return nil
	})
	if got := systemctl(t, "is-active", unit); got != "active" {
		t.Errorf("throttled unit: %s", got)
	}
	if w := show(t, unit, "CPUWeight"); w != "1" {
		t.Errorf("CPUWeight=%s, want 1", w)
	}
	if !d.info("slow:a").Throttled {
		t.Error("ten ps does not show it throttled")
	}
	t0 := time.Now()
	code, body, _ := d.request(d.instanceHost("slow", "a"), "/")
	t.Logf("measured: a throttled instance answered in %v", time.Since(t0).Round(time.Microsecond))
	if code != 200 || !strings.Contains(body, "hello from slow:a") {
		t.Errorf("request to a throttled instance: %d %q", code, body)
	}
	if got := starts(t, unit); got != before {
		t.Errorf("the request started the unit again (%d starts)", got-before)
	}
	if q := show(t, unit, "CPUQuotaPerSecUSec"); q != "infinity" {
		t.Errorf("after a request: CPUQuotaPerSecUSec=%s, want infinity", q)
	}
}
