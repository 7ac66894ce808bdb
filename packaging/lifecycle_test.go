package packaging

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// load sends GETs for the tenants' hosts from clients goroutines in a loop
// until stopped: half keep their connections alive (like browsers and
// proxies: an idempotent request on a connection the server closed while
// idle is retried, as RFC 9110 allows), half open a new connection for
// every request (nothing to retry: a refused or reset connection fails).
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       context.CancelFunc
	wg         sync.WaitGroup
}

func startLoad(clients int, hosts []string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{stop: cancel}
	keep := &http.Transport{MaxIdleConnsPerHost: clients}
	fresh := &http.Transport{DisableKeepAlives: true}
	for i := range clients {
		tr, kind := keep, "keep-alive"
		if i%2 == 1 {
			tr, kind = fresh, "new connection"
		}
		c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
		host := hosts[i%len(hosts)]
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				l.one(c, host, kind)
			}
		}()
	}
	return l
}

func (l *load) one(c *http.Client, host, kind string) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:8080/", nil)
	req.Host = host
	resp, err := c.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || !strings.Contains(string(b), "notes for")) {
			err = fmt.Errorf("%s: %d %q", host, resp.StatusCode, b)
		}
	}
	if err == nil {
		l.ok.Add(1)
		return
	}
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" ("+kind+") "+err.Error())
	}
	l.mu.Unlock()
}

func (l *load) finish() {
	l.stop()
	l.wg.Wait()
}

// inode returns the inode of the API socket file: a restart of the daemon
// must not recreate it (it belongs to tenement.socket).
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// restartUnderLoad restarts the daemon four times while 20 clients send
// requests through the packaged listener: no request may fail, and no
// tenant may be restarted.
func (e *e2e) restartUnderLoad(t *testing.T) {
	tenants := []string{"tenement@notes-alice.service", "tenement@notes-bob.service"}
	pids := map[string]int{}
	for _, u := range tenants {
		pids[u] = mainPID(t, u)
	}
	daemon0, sock0 := mainPID(t, "tenement.service"), inode(t, "/run/tenement/api.sock")

	const clients, restarts = 20, 4
	l := startLoad(clients, []string{"alice.notes." + domain, "bob.notes." + domain})
	t0 := time.Now()
	time.Sleep(time.Second)
	var took []string
	for range restarts {
		before := l.ok.Load()
		start := time.Now()
		// More starts than systemd's default start limit (5 in 10 s)
		// allows: reset its counter, as an operator would.
		sh(t, "systemctl reset-failed tenement.service && systemctl restart tenement")
		took = append(took, time.Since(start).Round(time.Millisecond).String())
		time.Sleep(time.Second)
		if l.ok.Load() == before {
			t.Errorf("no request succeeded in the second after a restart")
		}
	}
	l.finish()
	elapsed := time.Since(t0)

	ok, failed := l.ok.Load(), l.failed.Load()
	t.Logf("measured: restart under load: %d clients, %v, %d restarts (systemctl restart took %s): %d requests ok, %d failed (%.0f req/s)",
		clients, elapsed.Round(time.Millisecond), restarts, strings.Join(took, ", "), ok, failed, float64(ok)/elapsed.Seconds())
	if failed > 0 {
		t.Errorf("%d requests failed during the restarts; first: %s\ndaemon journal:\n%s", failed, strings.Join(l.errs, "\n"),
			sh(t, "journalctl -u tenement.service --no-pager -o short-precise --since=-30s | tail -60"))
	}
	if ok < 200 {
		t.Errorf("only %d requests in %v: the load did not run", ok, elapsed)
	}
	if d := mainPID(t, "tenement.service"); d == daemon0 || d == 0 {
		t.Errorf("daemon MainPID %d → %d: it was not restarted", daemon0, d)
	}
	for _, u := range tenants {
		if got := mainPID(t, u); got != pids[u] {
			t.Errorf("%s MainPID %d → %d: a daemon restart restarted a tenant", u, pids[u], got)
		}
	}
	if got := inode(t, "/run/tenement/api.sock"); got != sock0 {
		t.Errorf("the API socket was recreated by the restart")
	}
	if out := sh(t, "ten ps"); !strings.Contains(out, "notes:alice") {
		t.Errorf("ten ps after the restarts:\n%s", out)
	}
}

// upgrade installs the second version over the first: the daemon restarts
// into the new binary, the tenants keep running, the edited config stays.
func (e *e2e) upgrade(t *testing.T) {
	tenants := []string{"tenement@notes-alice.service", "tenement@notes-bob.service"}
	pids := map[string]int{}
	for _, u := range tenants {
		pids[u] = mainPID(t, u)
	}
	daemon0 := mainPID(t, "tenement.service")
	t0 := time.Now()
	t.Log(sh(t, "dpkg -i "+e.p.deb2))
	t.Logf("measured: dpkg -i (upgrade) took %v", time.Since(t0).Round(time.Millisecond))
	if got := sh(t, "dpkg-query -W -f '${Version}' tenement"); got != version2+"-1" {
		t.Errorf("installed version %q", got)
	}
	if got := sh(t, "ten version"); !strings.HasPrefix(got, "ten "+version2+" ") {
		t.Errorf("ten version = %q", got)
	}
	if d := mainPID(t, "tenement.service"); d == daemon0 || d == 0 || isActive("tenement.service") != "active" {
		t.Errorf("daemon MainPID %d → %d (%s): want restarted and active", daemon0, d, isActive("tenement.service"))
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", mainPID(t, "tenement.service")))
	if err != nil || strings.HasSuffix(exe, "(deleted)") {
		t.Errorf("the daemon runs %q: not the upgraded binary", exe)
	}
	for _, u := range tenants {
		if got := mainPID(t, u); got != pids[u] {
			t.Errorf("%s MainPID %d → %d: the upgrade restarted a tenant", u, pids[u], got)
		}
	}
	if b, _ := os.ReadFile("/etc/tenement/tenement.toml"); string(b) != notesCfg {
		t.Errorf("the upgrade changed the edited config:\n%s", b)
	}
	code, body, err := request("GET", "alice.notes."+domain, "/notes", "")
	if err != nil || code != 200 || !strings.Contains(body, "buy milk") {
		t.Errorf("after the upgrade: %d %q %v", code, body, err)
		t.Log(sh(t, "journalctl -u tenement.service -n 80 --no-pager -o cat"))
	}
}

// remove stops the daemon, its socket and its tenants, and keeps the
// config and the state.
func (e *e2e) remove(t *testing.T) {
	t.Log(sh(t, "dpkg -r tenement"))
	for _, u := range []string{"tenement.socket", "tenement.service", "tenement@notes-alice.service", "tenement@notes-bob.service"} {
		if got := isActive(u); got == "active" || got == "activating" {
			t.Errorf("%s is %s after removal", u, got)
		}
	}
	if out := sh(t, "systemctl list-units --all --no-legend 'tenement@*'"); out != "" {
		t.Errorf("tenant units left after removal:\n%s", out)
	}
	if _, err := os.Stat("/usr/bin/ten"); err == nil {
		t.Error("/usr/bin/ten still there")
	}
	for _, keep := range []string{"/etc/tenement/tenement.toml", "/var/lib/tenement/tenement.db", "/var/lib/tenement/notes/alice/notes.db"} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("removal (not purge) deleted %s", keep)
		}
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8080", 2*time.Second); err == nil {
		c.Close()
		t.Error("something still listens on :8080 after removal")
	}
}

// purge removes the config, the state and every trace in systemd's
// configuration; the system user stays (Debian policy).
func (e *e2e) purge(t *testing.T) {
	t.Log(sh(t, "dpkg -P tenement"))
	for _, gone := range []string{"/etc/tenement", "/var/lib/tenement", "/run/tenement"} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s survives the purge", gone)
		}
	}
	// Enablement symlinks and masks are gone; the admin's own drop-in
	// (tenement.socket.d/tls.conf of the TLS step) is the admin's to keep.
	if out, _ := shErr("find /etc/systemd/system -name 'tenement*' -not -name '*.d' -not -path '*.d/*'"); out != "" {
		t.Errorf("left in /etc/systemd/system:\n%s", out)
	}
	if out, _ := shErr("dpkg -s tenement"); !strings.Contains(out, "not installed") {
		t.Errorf("dpkg -s tenement: %s", out)
	}
	sh(t, "getent group tenement")
}
