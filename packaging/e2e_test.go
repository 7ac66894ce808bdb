package packaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// The test's domain and config: the notes example (examples/notes) as
// service "notes", at the default isolation level, as an admin would set it
// up after installing the package.
const (
	domain   = "tenement.test"
	notesCfg = `[settings]
data_dir = "/var/lib/tenement"
domain = "tenement.test"
listen = ":8080"
api_socket = "/run/tenement/api.sock"

[service.notes]
command = "/usr/bin/python3 /srv/notes/app.py"
health = "/health"
memory_limit_mb = 128
`
)

// TestPackage installs the .deb in a fresh systemd manager and uses it as a
// user would. The steps build on each other and stop at the first failure.
func TestPackage(t *testing.T) {
	p := requirePackages(t)
	e := &e2e{p: p}
	for _, s := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"install", e.install},
		{"spawn", e.spawn},
		{"reload", e.reload},
		{"restart_under_load", e.restartUnderLoad},
		{"corrupt_store", e.corruptStore},
		{"upgrade", e.upgrade},
		{"tls_with_pebble", e.tls},
		{"remove", e.remove},
		{"purge", e.purge},
	} {
		if !t.Run(s.name, s.f) {
			t.Fatalf("step %s failed; the later steps depend on it", s.name)
		}
	}
}

type e2e struct {
	p pkgs
}

// allowServiceStarts removes the image's /usr/sbin/policy-rc.d (it forbids
// every start) inside the manager: the manager's root is a throwaway
// overlay of the host's, so the host keeps its file.
func allowServiceStarts(t *testing.T) {
	t.Helper()
	if !testbed.Inside() {
		t.Fatal("refusing to touch /usr/sbin/policy-rc.d outside a testbed manager")
	}
	if err := os.Remove("/usr/sbin/policy-rc.d"); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// sh runs a shell command inside the manager and returns its output; it
// fails the test on a non-zero exit.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := shErr(script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func shErr(script string) (string, error) {
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "TENEMENT_SERVER=", "TENEMENT_TOKEN=", "SYSTEMD_PAGER=", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func show(t *testing.T, unit, prop string) string {
	t.Helper()
	out, _ := shErr("systemctl show -p " + prop + " --value " + unit)
	return out
}

func mainPID(t *testing.T, unit string) int {
	t.Helper()
	n, _ := strconv.Atoi(show(t, unit, "MainPID"))
	return n
}

func isActive(unit string) string {
	out, _ := shErr("systemctl is-active " + unit)
	return out
}

var client = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// request sends method to the packaged HTTP listener with a Host header,
// from loopback.
func request(method, host, path, body string) (int, string, error) {
	return requestVia(client, method, host, path, body)
}

// remoteIP is an address the tests put on the manager's lo (its network
// namespace has no other interface): a connection from it to it comes
// from a peer that is not loopback, as from a client on the network.
const remoteIP = "10.99.0.1"

// fromRemote returns a client whose connections go from remoteIP to
// remoteIP, at the port of the request's URL.
func fromRemote(t *testing.T) *http.Client {
	t.Helper()
	sh(t, "ip addr replace "+remoteIP+"/32 dev lo")
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(remoteIP)}}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return d.DialContext(ctx, "tcp", net.JoinHostPort(remoteIP, port))
		}},
		CheckRedirect: client.CheckRedirect,
	}
}

// requestVia is request with client c.
func requestVia(c *http.Client, method, host, path, body string) (int, string, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://127.0.0.1:8080"+path, r)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (e *e2e) install(t *testing.T) {
	allowServiceStarts(t)
	t.Log(sh(t, "dpkg -i "+e.p.deb1))
	for _, u := range []string{"tenement.socket", "tenement.service"} {
		if got := isActive(u); got != "active" {
			t.Errorf("%s is %q after install:\n%s", u, got, sh(t, "systemctl status --no-pager -l "+u+" || true"))
		}
		if got, _ := shErr("systemctl is-enabled " + u); got != "enabled" {
			t.Errorf("%s is %q, want enabled", u, got)
		}
	}
	sh(t, "getent passwd tenement && getent group tenement")
	fi, err := os.Stat("/run/tenement/api.sock")
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(strings.Split(sh(t, "getent group tenement"), ":")[2])
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 || int(st.Gid) != gid {
		t.Errorf("api.sock: mode %v gid %d, want a socket 0660 of group tenement (%d)", fi.Mode(), st.Gid, gid)
	}
	// The config is not the tenants' to read, the credentials root's alone.
	for _, f := range []struct {
		path string
		mode os.FileMode
		gid  int
	}{
		{"/etc/tenement/tenement.toml", 0o640, gid},
		{"/etc/tenement/credentials", 0o700, 0},
	} {
		fi, err := os.Stat(f.path)
		if err != nil || fi.Mode().Perm() != f.mode || fi.Sys().(*syscall.Stat_t).Uid != 0 || int(fi.Sys().(*syscall.Stat_t).Gid) != f.gid {
			t.Errorf("%s: %v, want mode %v, owner root, group %d", f.path, err, f.mode, f.gid)
		}
	}
	// ProtectSystem=strict, but the daemon writes the credentials.
	if rw := show(t, "tenement.service", "ReadWritePaths"); !strings.Contains(rw, "-/etc/tenement/credentials") {
		t.Errorf("tenement.service ReadWritePaths=%s, want /etc/tenement/credentials in it", rw)
	}
	if fi, err := os.Stat("/var/lib/tenement"); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("/var/lib/tenement: %v %v, want 0711 (StateDirectory=)", fi.Mode(), err)
	}
	if got := sh(t, "ten version"); !strings.HasPrefix(got, "ten "+version1+" ") {
		t.Errorf("ten version = %q", got)
	}
	if out, err := shErr("systemd-analyze verify tenement.socket tenement.service"); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	t.Log("systemd-analyze security:", sh(t, "systemd-analyze security --no-pager tenement.service | tail -1"))
	// Both listeners come from tenement.socket, found by their address.
	testbed.Eventually(t, 5*time.Second, "listeners from systemd", func() error {
		j := sh(t, "journalctl -u tenement.service --no-pager -o cat")
		for _, want := range []string{`msg="management API" socket=/run/tenement/api.sock from_systemd=true`, "role=http addr=[::]:8080 from_systemd=true"} {
			if !strings.Contains(j, want) {
				return fmt.Errorf("journal lacks %q:\n%s", want, j)
			}
		}
		return nil
	})
	if code, _, err := request("GET", "nobody.nothing.localhost", "/", ""); err != nil || code != http.StatusNotFound {
		t.Errorf("request for an unknown host: %d %v, want 404", code, err)
	}
	rootOverPlainHTTP(t, "localhost")
}

// rootOverPlainHTTP checks the packaged default on the plain-HTTP listener:
// the root domain's API and dashboard answer loopback, and a peer that is
// not loopback gets 403 and one line saying how to open them; GET /health
// and the tenants' hosts answer everyone.
func rootOverPlainHTTP(t *testing.T, root string) {
	t.Helper()
	remote := fromRemote(t)
	for _, tc := range []struct {
		c          *http.Client
		from, path string
		want       int
	}{
		{client, "loopback", "/api/instances", http.StatusUnauthorized}, // the API: a token is needed
		{client, "loopback", "/", http.StatusOK},                        // the dashboard
		{remote, remoteIP, "/api/instances", http.StatusForbidden},
		{remote, remoteIP, "/metrics", http.StatusForbidden},
		{remote, remoteIP, "/", http.StatusForbidden},
		{remote, remoteIP, "/health", http.StatusOK},
	} {
		code, body, err := requestVia(tc.c, "GET", root, tc.path, "")
		if err != nil || code != tc.want {
			t.Errorf("GET http://%s%s from %s: %d %q %v, want %d", root, tc.path, tc.from, code, body, err, tc.want)
			continue
		}
		if code == http.StatusForbidden {
			if strings.Count(strings.TrimSpace(body), "\n") != 0 || !strings.Contains(body, "settings.api_over_http") {
				t.Errorf("GET http://%s%s from %s: %q, want one line saying how to open it", root, tc.path, tc.from, body)
			}
			t.Logf("GET http://%s%s from %s: %d %s", root, tc.path, tc.from, code, strings.TrimSpace(body))
		}
	}
	if code, _, err := requestVia(remote, "GET", "nobody.nothing."+root, "/", ""); err != nil || code != http.StatusNotFound {
		t.Errorf("a tenant's host from %s: %d %v, want the proxy's 404", remoteIP, code, err)
	}
}

func (e *e2e) spawn(t *testing.T) {
	root, err := os.Getwd()
	root = testbed.ModuleRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	sh(t, "install -D -m 0644 "+filepath.Join(root, "examples/notes/app.py")+" /srv/notes/app.py")
	if err := os.WriteFile("/etc/tenement/tenement.toml", []byte(notesCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "ten config check && systemctl restart tenement")
	for _, id := range []string{"alice", "bob"} {
		if out := sh(t, "ten spawn notes:"+id); !strings.Contains(out, "tenement@notes-"+id+".service") {
			t.Errorf("ten spawn notes:%s: %s", id, out)
		}
	}
	status := sh(t, "systemctl status --no-pager tenement@notes-alice")
	if !strings.Contains(status, "Active: active (running)") || !strings.Contains(status, "tenement instance notes:alice") {
		t.Errorf("systemctl status tenement@notes-alice:\n%s", status)
	}
	code, body, err := request("GET", "alice.notes."+domain, "/", "")
	if err != nil || code != 200 || !strings.Contains(body, "notes for alice") {
		t.Fatalf("GET alice.notes: %d %q %v", code, body, err)
	}
	code, body, err = request("POST", "alice.notes."+domain, "/notes", url.Values{"text": {"buy milk"}}.Encode())
	if err != nil || code != 201 || !strings.Contains(body, "buy milk") {
		t.Fatalf("POST alice.notes/notes: %d %q %v", code, body, err)
	}
	code, body, _ = request("GET", "bob.notes."+domain, "/notes", "")
	if code != 200 || strings.Contains(body, "buy milk") {
		t.Errorf("bob sees alice's notes: %d %q", code, body)
	}
	// A tenant is served to everyone; the root domain is not.
	if code, body, err := requestVia(fromRemote(t), "GET", "alice.notes."+domain, "/notes", ""); err != nil || code != 200 || !strings.Contains(body, "buy milk") {
		t.Errorf("GET alice.notes/notes from %s: %d %q %v", remoteIP, code, body, err)
	}
	if code, _, err := requestVia(fromRemote(t), "GET", domain, "/api/instances", ""); err != nil || code != http.StatusForbidden {
		t.Errorf("GET %s/api/instances from %s: %d %v, want 403", domain, remoteIP, code, err)
	}
	// The ask endpoint Caddy's on-demand TLS consults (ten caddy).
	for name, want := range map[string]int{"alice.notes." + domain: 200, "mallory.notes." + domain: 404} {
		if code, body, err := request("GET", "127.0.0.1:8080", "/api/tls/ask?domain="+name, ""); err != nil || code != want {
			t.Errorf("ask %s: %d %q %v, want %d", name, code, body, err, want)
		}
	}
	testbed.Eventually(t, 10*time.Second, "journalctl -u tenement@notes-alice shows the app's output", func() error {
		j := sh(t, "journalctl -u tenement@notes-alice --no-pager -o cat")
		if !strings.Contains(j, `"POST /notes HTTP/1.1" 201`) {
			return fmt.Errorf("journal:\n%s", j)
		}
		return nil
	})
}
