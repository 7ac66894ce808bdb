package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

const proxyServices = `
[service.web]
command = "{app}"
isolation = "process"
health = "/health"
idle_timeout = "1500ms"
request_timeout = "1s"
wake_timeout = "10s"

[service.slow]
command = "{app}"
isolation = "process"
wake_timeout = "500ms"
startup_timeout = "5s"
[service.slow.env]
READY_DELAY = "3s"

[service.open]
command = "{app}"
isolation = "process"
spawn_on_request = true

[service.sock]
command = "{app}"
isolation = "process"
activation = "socket"
network = "private"
idle_timeout = "1s"
`

// starts counts how often the app of unit started, from the journal.
func starts(t *testing.T, unit string) int {
	t.Helper()
	out, _ := exec.Command("journalctl", "--no-pager", "-o", "cat", "-u", unit).Output()
	return strings.Count(string(out), "testapp starting")
}

func TestWakeOnceFor100ConcurrentRequests(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	d.ten("spawn", "web:alice")
	d.ten("stop", "web:alice")
	unit := "tenement@web-alice.service"
	before := starts(t, unit)
	if i := d.info("web:alice"); i.State != apitype.StateAsleep {
		t.Fatalf("state %s, want asleep", i.State)
	}
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan string, n)
	t0 := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := d.request("alice.web.test.local", "/")
			if err != nil || code != 200 || !strings.HasPrefix(body, "hello from web:alice") {
				errs <- fmt.Sprintf("%d %q %v", code, body, err)
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	close(errs)
	failed := len(errs)
	for e := range errs {
		t.Error("request failed:", e)
	}
	testbed.Eventually(t, 5*time.Second, "journal", func() error {
		if got := starts(t, unit) - before; got != 1 {
			return fmt.Errorf("app started %d times, want 1", got)
		}
		return nil
	})
	t.Logf("measured: %d concurrent requests to an asleep instance: %d failed, all answered in %v, 1 unit start", n, failed, took.Round(time.Millisecond))
}

func TestUnknownIsNotFoundAndCreatesNothing(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	for _, host := range []string{"nobody.web.test.local", "x.blog.test.local", "blog.test.local", "a.b.web.test.local", "UPPER_CASE.web.test.local"} {
		if code, _, err := d.request(host, "/"); err != nil || code != 404 {
			t.Errorf("%s: %d %v, want 404", host, code, err)
		}
	}
	if _, ok := d.ps()["web:nobody"]; ok {
		t.Error("a request for an unknown id created an instance")
	}
	if out := systemctl(t, "list-units", "--all", "--no-legend", "tenement@web-nobody*"); out != "" {
		t.Errorf("units created: %s", out)
	}
	if _, err := os.Stat(filepath.Join(d.dataDir, "web", "nobody")); !os.IsNotExist(err) {
		t.Errorf("data dir created: %v", err)
	}
	// spawn_on_request = true opts in.
	if code, body, _ := d.request("carol.open.test.local", "/"); code != 200 || !strings.HasPrefix(body, "hello from open:carol") {
		t.Errorf("spawn_on_request: %d %q", code, body)
	}
}

func TestIdleSleepAndWakeKeepsData(t *testing.T) {
	d := startDaemon(t, `health_check_interval = "200ms"`, proxyServices)
	if code, _, _ := d.request("bob.web.test.local", "/write?name=note&value=kept"); code != 404 {
		t.Fatalf("request before spawn: %d, want 404", code)
	}
	d.ten("spawn", "web:bob")
	if code, _, err := d.request("bob.web.test.local", "/write?name=note&value=kept"); code != 200 || err != nil {
		t.Fatalf("write: %d %v", code, err)
	}
	// Health checks run every 200ms and must not keep it awake.
	testbed.Eventually(t, 6*time.Second, "asleep after idle_timeout", func() error {
		if i := d.info("web:bob"); i.State != apitype.StateAsleep {
			return fmt.Errorf("state %s", i.State)
		}
		return nil
	})
	if got := systemctl(t, "is-active", "tenement@web-bob.service"); got == "active" {
		t.Errorf("asleep instance's unit is %s", got)
	}
	code, body, err := d.request("bob.web.test.local", "/read?name=note")
	if err != nil || code != 200 || body != "kept" {
		t.Fatalf("after wake: %d %q %v", code, body, err)
	}
	if i := d.info("web:bob"); i.State != apitype.StateRunning {
		t.Errorf("after wake: %s", i.State)
	}
}

func TestOpenStreamsKeepInstanceAwake(t *testing.T) {
	d := startDaemon(t, `health_check_interval = "200ms"`, proxyServices)
	d.ten("spawn", "web:ws")
	d.ten("spawn", "web:sse")

	// An upgraded connection, held open and used past idle_timeout.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: ws.web.test.local\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// A server-sent event stream, read past idle_timeout.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/sse?every=100ms", d.port), nil)
	req.Host = "sse.web.test.local"
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	events := bufio.NewReader(sresp.Body)
	first := time.Now()
	if _, err := events.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(first); d > time.Second {
		t.Errorf("first event took %v: SSE is not flushed", d)
	}

	deadline := time.Now().Add(3500 * time.Millisecond) // > 2x idle_timeout
	for i := 0; time.Now().Before(deadline); i++ {
		fmt.Fprintf(conn, "ping %d\n", i)
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("echo: ping %d\n", i) {
			t.Fatalf("echo over the upgraded connection: %q %v", line, err)
		}
		if _, err := events.ReadString('\n'); err != nil {
			t.Fatalf("sse: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ps := d.ps()
	for _, n := range []string{"web:ws", "web:sse"} {
		if ps[n].State != apitype.StateRunning {
			t.Errorf("%s is %s with an open stream", n, ps[n].State)
		}
	}
	// Closed, they fall asleep.
	conn.Close()
	sresp.Body.Close()
	testbed.Eventually(t, 6*time.Second, "asleep after the streams closed", func() error {
		ps := d.ps()
		for _, n := range []string{"web:ws", "web:sse"} {
			if ps[n].State != apitype.StateAsleep {
				return fmt.Errorf("%s is %s", n, ps[n].State)
			}
		}
		return nil
	})
}

func TestHeadersPassThrough(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	d.ten("spawn", "web:h")
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/headers", d.port), nil)
	req.Host = "h.web.test.local:8080"
	req.Header.Set("Authorization", "Bearer app-token-123")
	req.Header.Set("X-Custom", "v1")
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // untrusted client: dropped
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Host    string
		Headers http.Header
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	h := got.Headers
	if h.Get("Authorization") != "Bearer app-token-123" || h.Get("X-Custom") != "v1" {
		t.Errorf("app headers changed: %v", h)
	}
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Host") != "h.web.test.local:8080" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-*: %v", h)
	}
	if got.Host != "h.web.test.local:8080" {
		t.Errorf("Host = %q", got.Host)
	}
}

func TestProxyErrors(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	d.ten("spawn", "web:e")
	// 504: no response headers within request_timeout (1s).
	t0 := time.Now()
	if code, _, _ := d.request("e.web.test.local", "/sleep?d=5s"); code != 504 {
		t.Errorf("slow app: %d, want 504", code)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("504 after %v", took)
	}
	// 502: the app breaks the connection.
	if code, _, _ := d.request("e.web.test.local", "/crash"); code != 502 {
		t.Errorf("crashing app: %d, want 502", code)
	}
	// 503 + Retry-After: not ready within wake_timeout (the app needs 3s).
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", d.port), nil)
	req.Host = "x.slow.test.local"
	d.ten("spawn", "slow:x") // known, then asleep
	d.ten("stop", "slow:x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("slow wake: %d Retry-After=%q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The wake goes on in the background; once ready, requests succeed.
	testbed.Eventually(t, 10*time.Second, "slow instance ready", func() error {
		if code, _, err := d.request("x.slow.test.local", "/"); code != 200 {
			return fmt.Errorf("%d %v", code, err)
		}
		return nil
	})
}

func TestWeightedRouting(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	d.ten("spawn", "web:a")
	d.ten("spawn", "web:b")
	// New instances are one customer's each (weight 0): the service's
	// name mixes nobody and wakes nobody.
	d.ten("stop", "web:a")
	d.ten("stop", "web:b")
	for range 3 {
		if code, body, _ := d.request("web.test.local", "/"); code != 404 {
			t.Errorf("service route with no weights set: %d %q, want 404", code, body)
		}
	}
	for _, n := range []string{"web:a", "web:b"} {
		if i := d.info(n); i.State != apitype.StateAsleep || i.Weight != 0 {
			t.Errorf("%s after service-route requests: %s, weight %d; want asleep, weight 0", n, i.State, i.Weight)
		}
	}
	d.ten("weight", "web:b", "100")
	count := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			code, body, err := d.request("web.test.local", "/")
			if err != nil || code != 200 {
				t.Fatalf("weighted request: %d %v", code, err)
			}
			got[strings.Fields(body)[2]]++
		}
		return got
	}
	d.ten("weight", "web:a", "0")
	if got := count(50); got["web:b"] != 50 {
		t.Errorf("weights 0/100: %v", got)
	}
	d.ten("weight", "web:a", "80")
	d.ten("weight", "web:b", "20")
	got := count(1000)
	if a := got["web:a"]; a < 770 || a > 830 {
		t.Errorf("weights 80/20 over 1000: %v, want 800±30", got)
	}
	// Weight 0 everywhere: nothing to route to.
	d.ten("weight", "web:a", "0")
	d.ten("weight", "web:b", "0")
	if code, _, _ := d.request("web.test.local", "/"); code != 404 {
		t.Errorf("all weights 0: %d, want 404", code)
	}
	// A weighted request wakes an asleep instance with weight > 0.
	d.ten("weight", "web:b", "100")
	d.ten("stop", "web:b")
	if code, body, _ := d.request("web.test.local", "/"); code != 200 || !strings.Contains(body, "web:b") {
		t.Errorf("weighted wake: %d %q", code, body)
	}
}

func TestSocketActivationPrivateNetwork(t *testing.T) {
	d := startDaemon(t, `health_check_interval = "200ms"`, proxyServices)
	d.ten("spawn", "sock:p")
	unit := "tenement@sock-p.service"
	if got := systemctl(t, "is-active", "tenement@sock-p.socket"); got != "active" {
		t.Fatalf("socket unit: %s", got)
	}
	code, body, err := d.request("p.sock.test.local", "/interfaces")
	if err != nil || code != 200 || strings.TrimSpace(body) != "lo" {
		t.Fatalf("interfaces of a private-network tenant: %d %q %v, want only lo", code, body, err)
	}
	env, _ := exec.Command("systemctl", "show", "-p", "PrivateNetwork", "--value", unit).Output()
	if strings.TrimSpace(string(env)) != "yes" {
		t.Errorf("PrivateNetwork = %s", env)
	}
	// It cannot reach the outside (the daemon's listener on 127.0.0.1 of
	// the host namespace).
	if code, body, _ := d.request("p.sock.test.local", fmt.Sprintf("/connect?addr=127.0.0.1:%d", d.port)); code == 200 {
		t.Errorf("private tenant reached the host network: %s", body)
	}
	// Idle: the service stops, the socket stays; the next request is
	// queued by the kernel and wakes the service.
	testbed.Eventually(t, 6*time.Second, "service asleep", func() error {
		if s := systemctl(t, "is-active", unit); s == "active" {
			return fmt.Errorf("service %s", s)
		}
		return nil
	})
	if got := systemctl(t, "is-active", "tenement@sock-p.socket"); got != "active" {
		t.Errorf("socket after idle stop: %s", got)
	}
	if code, body, _ := d.request("p.sock.test.local", "/"); code != 200 || !strings.HasPrefix(body, "hello from sock:p") {
		t.Fatalf("socket wake: %d %q", code, body)
	}
	testbed.Eventually(t, 5*time.Second, "running", func() error {
		if i := d.info("sock:p"); i.State != apitype.StateRunning {
			return fmt.Errorf("%s", i.State)
		}
		return nil
	})
}

// TestCrashDuringLoadIsRetried crashes an app under a steady request load.
// Requests that arrive while systemd restarts it are held and retried, not
// answered 502; only requests in flight inside the app when it crashed may
// fail (they may have had effects, so they are not sent again): at most one
// per client per crash. Without the retry, hundreds fail.
func TestCrashDuringLoadIsRetried(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	d.ten("spawn", "web:crashy")
	port := d.info("web:crashy").Port
	var failed, total int
	var mu sync.Mutex
	stop := testbed.Repeat(8, func(int) {
		code, _, err := d.request("crashy.web.test.local", "/")
		mu.Lock()
		defer mu.Unlock()
		total++
		if err != nil || code != 200 {
			failed++
		}
	})
	time.Sleep(200 * time.Millisecond)
	for range 3 {
		crash(port)
		time.Sleep(500 * time.Millisecond)
	}
	stop()
	const clients, crashes = 8, 3
	if failed > clients*crashes {
		t.Errorf("%d of %d requests failed across %d crashes, want at most %d (those in flight)", failed, total, crashes, clients*crashes)
	}
	t.Logf("measured: %d requests across %d crashes, %d failed (in flight at a crash)", total, crashes, failed)
}

// TestPoisonRequestIsNotReplayed sends a request that crashes the app
// through the proxy, on a warm keep-alive upstream connection: the proxy
// answers 502 and does not send it again to the restarted app.
func TestPoisonRequestIsNotReplayed(t *testing.T) {
	d := startDaemon(t, "", proxyServices)
	d.ten("spawn", "web:poison")
	unit := "tenement@web-poison.service"
	for range 5 { // keep-alive connections from the proxy to the app
		if code, _, err := d.request("poison.web.test.local", "/"); code != 200 {
			t.Fatalf("warm-up: %d %v", code, err)
		}
	}
	code, _, _ := d.request("poison.web.test.local", "/crash")
	if code != 502 {
		t.Errorf("crashing request: %d, want 502", code)
	}
	testbed.Eventually(t, 10*time.Second, "running again", func() error {
		if i := d.info("web:poison"); i.State != apitype.StateRunning {
			return fmt.Errorf("%s", i.State)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // a replay would crash it again now
	if runs := starts(t, unit); runs != 2 {
		t.Errorf("the app started %d times, want 2: the crashing request was replayed", runs)
	}
}
