package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// Connections and forwarding headers (issue 12, items 6 and 7): a tenant,
// or anyone, holding thousands of idle connections cannot starve the
// others, and a tenant that forges X-Forwarded-For reaches neither another
// tenant's app nor the auth throttle with it.

// nsLevel is the hostile suite's namespace level: its [service.ns] table.
func nsLevel() string { return "[service.ns]" + hostileLevels[0].service }

// raiseNOFILE lifts this process's open-file limit (which the daemon it
// starts inherits) to want, or to the hard limit if lower, and returns the
// limits before and after.
func raiseNOFILE(t *testing.T, want uint64) (before, after syscall.Rlimit) {
	t.Helper()
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	after = before
	after.Cur = min(max(before.Cur, want), before.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &after); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &before) })
	return before, after
}

// idleConn is one connection that sent a request and idles.
type idleConn struct {
	c      net.Conn
	r      *bufio.Reader
	served bool
	at     time.Time     // when it was answered, or closed
	closed time.Duration // refused: from the dial until the daemon closed it
}

// openIdle dials addr from 127.0.0.1, sends GET /health on the root
// domain, and waits for the answer or the close.
func openIdle(addr, domain string) (*idleConn, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if errors.Is(err, syscall.ECONNRESET) {
		return &idleConn{at: time.Now(), closed: time.Since(start)}, nil
	}
	if err != nil {
		return nil, err
	}
	ic := &idleConn{c: c, r: bufio.NewReader(c)}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "GET /health HTTP/1.1\r\nHost: "+domain+"\r\n\r\n")
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(ic.r, nil)
	}
	ic.at = time.Now()
	if err != nil {
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("neither answered nor closed within 10s: %w", err)
		}
		ic.closed = time.Since(start)
		return ic, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ic.served = resp.StatusCode == http.StatusOK
	_ = c.SetDeadline(time.Time{})
	return ic, nil
}

func fdCount(pid int) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds)
}

// 3000 idle keep-alive connections from one address: max_conns_per_client
// (256) are served and idle, the rest are closed at once; another client
// is served at once meanwhile; the idle ones are closed after
// client_idle_timeout. Without the limit all 3000 would be served and
// held, and without IdleTimeout held forever.
func TestHostileIdleConnections(t *testing.T) {
	const total, limit, idle = 3000, 256, 4 * time.Second
	before, after := raiseNOFILE(t, 8192)
	t.Logf("open files in the test manager: soft %d, hard %d (raised to %d for this test and the daemon)", before.Cur, before.Max, after.Cur)
	if after.Cur < total+512 {
		t.Fatalf("the hard limit of open files (%d) is too low to open %d connections", after.Max, total)
	}
	d := startIsolated(t, fmt.Sprintf("client_idle_timeout = %q\nmax_conns_per_client = %d", idle, limit), nsLevel())
	d.ten("spawn", "ns:alice")
	alice := d.instanceHost("ns", "alice")
	// (Not d.must: its keep-alive connection from 127.0.0.1 would take
	// one of the places counted below.)
	if code, body, err := requestFrom("127.0.0.3", d.port, alice, "/health"); err != nil || code != 200 {
		t.Fatalf("alice: %d %v %s", code, err, body)
	}
	pid := d.cmd.Process.Pid
	fdsBefore := fdCount(pid)
	addr := fmt.Sprintf("127.0.0.1:%d", d.port)

	// Open them from a few workers, so that all are open well within
	// the idle timeout.
	conns := make([]*idleConn, total)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	start := time.Now()
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				ic, err := openIdle(addr, d.domain)
				mu.Lock()
				if err != nil && failed == nil {
					failed = err
				}
				conns[i] = ic
				mu.Unlock()
			}
		})
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	opened := time.Since(start)
	if failed != nil {
		t.Fatal(failed)
	}
	t.Cleanup(func() {
		for _, ic := range conns {
			if ic.c != nil {
				ic.c.Close()
			}
		}
	})
	var served []*idleConn
	var slowest time.Duration
	for _, ic := range conns {
		if ic.served {
			served = append(served, ic)
		} else {
			slowest = max(slowest, ic.closed)
		}
	}
	fdsHeld := fdCount(pid)
	t.Logf("%d connections from 127.0.0.1 in %v: %d served and idle, %d closed at once (the slowest close %v after its dial); daemon fds %d before, %d while they idle",
		total, opened.Round(time.Millisecond), len(served), total-len(served), slowest.Round(time.Millisecond), fdsBefore, fdsHeld)
	if opened > idle {
		t.Fatalf("opening took %v, longer than client_idle_timeout (%v): the count below means nothing", opened, idle)
	}
	if len(served) != limit {
		t.Errorf("%d connections of one client were served, want max_conns_per_client = %d", len(served), limit)
	}
	if slowest > time.Second {
		t.Errorf("a connection past the limit was closed %v after its dial, want at once", slowest)
	}

	// Another client is served at once while they idle.
	t0 := time.Now()
	if a := d.call(apiClient("127.0.0.2"), "GET", "/health", "", ""); a.status != 200 {
		t.Errorf("another client's request while one holds %d connections: %d %s", limit, a.status, a.body)
	}
	code, body, err := requestFrom("127.0.0.2", d.port, alice, "/health")
	if err != nil || code != 200 {
		t.Errorf("another client's request to alice: %d %v %s", code, err, body)
	}
	t.Logf("another client (127.0.0.2) served in %v", time.Since(t0).Round(time.Millisecond))
	if took := time.Since(t0); took > time.Second {
		t.Errorf("another client waited %v", took)
	}

	// The idle ones are closed after client_idle_timeout.
	var latest time.Duration
	for _, ic := range served {
		_ = ic.c.SetReadDeadline(time.Now().Add(idle + 5*time.Second))
		if _, err := ic.r.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("an idle connection after %v: %v, want it closed", idle+5*time.Second, err)
		}
		latest = max(latest, time.Since(ic.at))
	}
	t.Logf("every idle connection closed, the last %v after its answer (client_idle_timeout %v); daemon fds now %d", latest.Round(time.Millisecond), idle, fdCount(pid))
	if latest > idle+3*time.Second {
		t.Errorf("an idle connection lived %v, want about client_idle_timeout (%v)", latest, idle)
	}
	// Its places are free again.
	if ic, err := openIdle(addr, d.domain); err != nil || !ic.served {
		t.Errorf("a new connection after the idle ones closed: %v", err)
	} else {
		ic.c.Close()
	}
}

// requestFrom sends a GET to the daemon's listener from a local address.
func requestFrom(local string, port int, host, path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := apiClient(local).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// frontHeaders asks alice's /headers through the front socket with a
// client's forwarding headers, as Caddy would send them.
func frontHeaders(t *testing.T, sock, host, xff string) http.Header {
	t.Helper()
	var d net.Dialer
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", sock) },
	}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/headers", nil)
	req.Header.Set("X-Forwarded-For", xff)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("through the front socket: %v", err)
	}
	defer resp.Body.Close()
	var seen struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
		t.Fatalf("through the front socket: %s: %v", resp.Status, err)
	}
	return seen.Headers
}

// frontCall sends an API request through the front socket for a client.
func frontCall(t *testing.T, sock, domain, token, client string) int {
	t.Helper()
	var d net.Dialer
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", sock) },
	}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+domain+"/api/instances", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", client)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("API through the front socket: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Mallory forges X-Forwarded-For on the public listener: alice's app sees
// mallory's real address, and the admin's address named in 50 bad tokens
// is not locked out. Only the front socket's headers count, and mallory
// cannot connect to it. One level (namespace) is enough: what blocks the
// forgery is the daemon (which listener a connection came on) and the
// socket's file mode, not the tenant's sandbox, and every level reaches
// the public listener the same way (sandbox and a process with its own
// user no more than namespace can open a root-only socket).
func TestHostileForwardedHeaders(t *testing.T) {
	sockDir, err := os.MkdirTemp("/run", "tenf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	front := filepath.Join(sockDir, "front.sock")
	d := startIsolated(t, fmt.Sprintf("front_listen = %q", "unix:"+front), nsLevel())
	d.ten("spawn", "ns:alice")
	d.ten("spawn", "ns:mallory")
	alice, mallory := d.instanceHost("ns", "alice"), d.instanceHost("ns", "mallory")
	public := fmt.Sprintf("127.0.0.1:%d", d.port)
	const forged, adminAddr = "203.0.113.66", "127.0.0.9"

	tried := func(reports []attackReport) []attackReport {
		for _, r := range reports {
			if strings.HasPrefix(r.Detail, "not tried") {
				t.Fatalf("attack %s: %s", r.Attack, r.Detail)
			}
		}
		return reports
	}
	mustBlock(t, "ns", tried(d.attack(mallory, "forge-forwarded-for", url.Values{"daemon": {public}, "host": {alice}, "forged": {forged}})))
	mustBlock(t, "ns", tried(d.attack(mallory, "reach-front-socket", url.Values{"front": {front}})))

	// The same headers through the front socket are the front proxy's
	// word, and kept.
	h := frontHeaders(t, front, alice, forged)
	if h.Get("X-Forwarded-For") != forged || h.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("through the front socket alice saw X-Forwarded-For %q, X-Forwarded-Proto %q; want %q, https",
			h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"), forged)
	}

	t.Run("behind caddy", func(t *testing.T) { behindCaddy(t, front, alice) })

	// The auth throttle: mallory's bad tokens in the admin's name count
	// against mallory, not the admin.
	admin := d.tokenGen("")
	mustBlock(t, "ns", tried(d.attack(mallory, "throttle-admin", url.Values{"daemon": {public}, "domain": {d.domain}, "forged": {adminAddr}, "n": {"50"}})))
	if a := d.call(apiClient(adminAddr), "GET", "/api/instances", admin.Token, ""); a.status != 200 {
		t.Errorf("the admin from %s after mallory's forged failures: %d %s", adminAddr, a.status, a.body)
	}

	// Through the front socket the client it names is counted: ten bad
	// tokens block that client, and only that one.
	wrong := strings.Repeat("A", 43)
	for i := range 10 {
		if code := frontCall(t, front, d.domain, wrong, "198.51.100.7"); code != 401 {
			t.Fatalf("bad token %d through the front: %d", i+1, code)
		}
	}
	if code := frontCall(t, front, d.domain, admin.Token, "198.51.100.7"); code != 429 {
		t.Errorf("the throttled client through the front: %d, want 429", code)
	}
	if code := frontCall(t, front, d.domain, admin.Token, "198.51.100.8"); code != 200 {
		t.Errorf("another client through the front: %d, want 200", code)
	}
}

// Log streams held open on both listeners (a tenant's dashboard on the
// HTTP listener, an admin's `ten logs -f` on the API socket) do not hold a
// daemon restart for the whole grace (10 s): they are ended before the
// drain waits. (With one stream the other listener's Shutdown happened to
// end it early, through the hook every server registered.)
func TestHostileLogStreamsDoNotHoldRestart(t *testing.T) {
	d := startIsolated(t, "", nsLevel())
	d.ten("spawn", "ns:alice")
	tok := d.tokenGen("alice")
	var dialer net.Dialer
	viaSocket := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", d.sock)
		},
	}}
	ended := make(chan time.Time, 2)
	for _, c := range []struct {
		client *http.Client
		url    string
		token  string
	}{
		{apiClient("127.0.0.2"), fmt.Sprintf("http://127.0.0.1:%d", d.port), tok.Token},
		{viaSocket, "http://localhost", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.url+"/api/logs/stream?instance=ns:alice", nil)
		req.Host = d.domain
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("log stream via %s: %s", c.url, resp.Status)
		}
		go func() {
			_, _ = io.Copy(io.Discard, resp.Body)
			ended <- time.Now()
		}()
	}
	start := time.Now()
	d.stop()
	took := time.Since(start)
	t.Logf("daemon stopped %v after SIGTERM with two log streams open", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("the daemon took %v to stop with log streams open, want well under its 10s grace", took)
	}
	for range 2 {
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a log stream is still open after the daemon stopped")
		}
	}
}

// behindCaddy runs Debian's Caddy in front of the front socket, as the
// Caddyfile of ten caddy does (without TLS): alice sees the client Caddy
// saw, not what the client claimed to Caddy.
func behindCaddy(t *testing.T, front, alice string) {
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		testbed.SkipOrFail(t, "caddy is not installed (scripts/deps installs Debian's caddy)")
	}
	dir := t.TempDir()
	port := freePort(t)
	file := filepath.Join(dir, "Caddyfile")
	conf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\n\nhttp://:%d {\n\treverse_proxy unix/%s\n}\n", port, front)
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddy, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("caddy:\n%s", out.String())
		}
	})
	var seen struct {
		Headers http.Header `json:"headers"`
	}
	testbed.Eventually(t, 10*time.Second, "caddy answers", func() error {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/headers", port), nil)
		req.Host = alice
		req.Header.Set("X-Forwarded-For", "203.0.113.99")
		resp, err := apiClient("127.0.0.7").Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(&seen)
	})
	if xff := seen.Headers.Get("X-Forwarded-For"); xff != "127.0.0.7" {
		t.Errorf("behind Caddy alice saw X-Forwarded-For %q, want the client Caddy saw, 127.0.0.7", xff)
	}
}
