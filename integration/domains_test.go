package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/acmetest"
	"github.com/tenement/tenement/internal/testbed"
)

const domainServices = `
[service.notes]
command = "{app}"
isolation = "process"
health = "/health"
`

// tenFails runs a ten command that must fail, and returns its output,
// which must be one line.
func (d *daemon) tenFails(args ...string) string {
	d.t.Helper()
	out, err := d.tenErr(args...)
	if err == nil {
		d.t.Fatalf("ten %s succeeded: %s", strings.Join(args, " "), out)
	}
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "ten: ") {
		d.t.Errorf("ten %s: %q, want one line", strings.Join(args, " "), out)
	}
	return out
}

// TestCustomDomains: a customer's own domain reaches its instance (waking
// it), over plain HTTP here, with X-Forwarded-Host carrying it; the names
// tenement must not bind are refused in one line; a tenant lists its own
// and changes nothing; the ask endpoint answers for it; Caddy accepts ten
// caddy's site for it; it survives a restart; removed, or its instance
// deleted, it is 404.
func TestCustomDomains(t *testing.T) {
	d := startDaemon(t, "", domainServices)
	d.ten("create", "notes:alice", "notes:bob")
	if out := d.ten("domain", "add", "notes:alice", "Alice.Example."); out != "Bound alice.example to notes:alice\n" {
		t.Errorf("domain add: %q", out)
	}

	// Refused, each in one line: someone else's, under settings.domain,
	// an IP literal, a wildcard; and by the daemon too, not only ten.
	for _, tt := range []struct {
		host, want string
	}{
		{"alice.example", "conflict: domain alice.example is bound to notes:alice already"},
		{"bob.notes.test.local", "is under settings.domain test.local"},
		{"test.local", "is under settings.domain test.local"},
		{"192.0.2.7", "is an IP address"},
		{"[2001:db8::1]", "is an IP address"},
		{"*.bob.example", "wildcards are not allowed"},
	} {
		if out := d.tenFails("domain", "add", "notes:bob", tt.host); !strings.Contains(out, tt.want) {
			t.Errorf("domain add notes:bob %s: %q, want %q", tt.host, out, tt.want)
		}
	}
	admin := d.tokenGen("")
	for _, host := range []string{"192.0.2.7", "*.bob.example"} {
		body := fmt.Sprintf(`{"instance":"notes:bob","domain":%q}`, host)
		if code, out := d.apiCall(admin.Token, "POST", "/api/domains", body); code != 400 {
			t.Errorf("POST /api/domains %s: %d %s, want 400", body, code, out)
		}
	}

	// Alice is asleep: the first request wakes her. The app sees the
	// custom host, in Host and in X-Forwarded-Host.
	if st := d.info("notes:alice").State; st != apitype.StateAsleep {
		t.Fatalf("notes:alice is %s before any request, want asleep", st)
	}
	code, body, err := d.request("alice.example", "/headers")
	if err != nil || code != 200 {
		t.Fatalf("GET alice.example/headers: %d %q %v", code, body, err)
	}
	var seen struct {
		Host    string              `json:"host"`
		Headers map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &seen); err != nil || seen.Host != "alice.example" ||
		!slices.Equal(seen.Headers["X-Forwarded-Host"], []string{"alice.example"}) {
		t.Errorf("the app saw Host %q, X-Forwarded-Host %q (%v)", seen.Host, seen.Headers["X-Forwarded-Host"], err)
	}
	if code, body, _ := d.request("ALICE.example.", "/"); code != 200 || !strings.HasPrefix(body, "hello from notes:alice") {
		t.Errorf("GET ALICE.example.: %d %q", code, body)
	}
	if i := d.info("notes:alice"); i.State != apitype.StateRunning || !slices.Equal(i.Domains, []string{"alice.example"}) {
		t.Errorf("ten ps --json: notes:alice %s with domains %v", i.State, i.Domains)
	}
	// Never part of the service's weighted route (the pool is empty), nor
	// a name under it.
	for _, host := range []string{"notes.test.local", "www.alice.example", "bob.example"} {
		if code, _, _ := d.request(host, "/"); code != 404 {
			t.Errorf("GET %s: %d, want 404", host, code)
		}
	}

	// A tenant lists its own instances' domains, and binds and removes
	// nothing.
	d.ten("domain", "add", "notes:bob", "bob.example")
	alice := d.tokenGen("alice")
	server := fmt.Sprintf("http://127.0.0.1:%d", d.port)
	out, err := d.tenErr("--server", server, "--token", alice.Token, "domain", "list", "--json")
	var list []apitype.Domain
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Domain != "alice.example" {
		t.Errorf("alice's domain list: %v %s", err, out)
	}
	for _, args := range [][]string{{"domain", "add", "notes:alice", "mine.example"}, {"domain", "remove", "bob.example"}} {
		if out := d.tenFails(append([]string{"--server", server, "--token", alice.Token}, args...)...); !strings.Contains(out, "needs an admin token") {
			t.Errorf("tenant: ten %s: %q", strings.Join(args, " "), out)
		}
	}

	// The ask endpoint, as Caddy calls it, and Caddy's check of ten caddy.
	for host, want := range map[string]int{"alice.example": 200, "bob.example": 200, "mallory.example": 404, "www.alice.example": 404} {
		if got := d.ask(host); got != want {
			t.Errorf("ask %s: %d, want %d", host, got, want)
		}
	}
	caddyValidate(t, d)

	// The bindings are in the store: a restarted daemon routes them.
	d.stop()
	d.start()
	if code, body, _ := d.request("alice.example", "/"); code != 200 || !strings.HasPrefix(body, "hello from notes:alice") {
		t.Errorf("after a restart, GET alice.example: %d %q", code, body)
	}

	// Removed: 404, and no certificate.
	if out := d.ten("domain", "remove", "alice.example"); out != "Removed alice.example\n" {
		t.Errorf("domain remove: %q", out)
	}
	if code, _, _ := d.request("alice.example", "/"); code != 404 {
		t.Errorf("GET alice.example after its removal: %d, want 404", code)
	}
	if got := d.ask("alice.example"); got != 404 {
		t.Errorf("ask alice.example after its removal: %d, want 404", got)
	}
	if out := d.tenFails("domain", "remove", "alice.example"); !strings.Contains(out, "not found") {
		t.Errorf("removing it again: %q", out)
	}
	// The instance deleted: its domains go with it.
	d.ten("delete", "notes:bob")
	if code, _, _ := d.request("bob.example", "/"); code != 404 {
		t.Errorf("GET bob.example after notes:bob was deleted: %d, want 404", code)
	}
	if out := d.ten("domain", "list"); !strings.Contains(out, "No custom domains") {
		t.Errorf("domain list after all went: %q", out)
	}
}

// apiCall sends a request to the API on the root domain with a token.
func (d *daemon) apiCall(token, method, path, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", d.port, path), strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ask asks the daemon's ask endpoint about host, as Caddy does.
func (d *daemon) ask(host string) int {
	d.t.Helper()
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d%s?domain=%s", d.port, apitype.AskPath, host))
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// caddyValidate runs `caddy validate` on what ten caddy writes for d's
// config.
func caddyValidate(t *testing.T, d *daemon) {
	t.Helper()
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		testbed.SkipOrFail(t, "caddy is not installed (scripts/deps installs Debian's caddy)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	// settings.domain must be a public name for Caddy: --domain.
	if out, err := d.tenErr("caddy", "--domain", "tenement.example", "-o", file); err != nil {
		t.Fatalf("ten caddy: %v\n%s", err, out)
	}
	cmd := exec.Command(caddy, "validate", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	out, err := cmd.CombinedOutput()
	if caddyfile, _ := os.ReadFile(file); err != nil || !strings.Contains(string(out), "Valid configuration") ||
		!strings.Contains(string(caddyfile), fmt.Sprintf("ask http://127.0.0.1:%d%s", d.port, apitype.AskPath)) || !strings.Contains(string(caddyfile), "https:// {") {
		t.Errorf("caddy validate: %v\n%s\n%s", err, out, caddyfile)
	}
}

// TestCustomDomainCertificates: with [settings.tls] and Pebble as the CA, a
// bound domain gets a certificate for exactly its name at its first
// handshake, and plain HTTP for it redirects to HTTPS; a name bound to
// nothing gets no certificate and Pebble no order; max_orders_per_hour
// holds for custom domains; a removed domain loses its certificate, and
// autocert's renewal of it is refused before it reaches the CA while a
// bound domain's renewal goes through.
func TestCustomDomainCertificates(t *testing.T) {
	testbed.Require(t)
	httpsPort, httpPort := freePort(t), freePort(t)
	// Certificates valid 30 s: autocert renews them after 20 s.
	p := acmetest.Start(t, acmetest.Options{HTTPPort: httpPort, TLSPort: httpsPort, Validity: 30 * time.Second})
	d := startDaemon(t, fmt.Sprintf(`[settings.tls]
enabled = true
acme_email = "admin@tenement.test"
acme_directory = %q
acme_ca = %q
https_port = %d
http_port = %d
max_orders_per_hour = 2
`, p.Directory, p.CAFile, httpsPort, httpPort), domainServices)
	d.ten("create", "notes:alice", "notes:bob")
	d.ten("domain", "add", "notes:alice", "alice.example")
	d.ten("domain", "add", "notes:bob", "bob.example")
	roots := p.Roots(t)
	get := func(host string) (*http.Response, string, error) {
		c := httpsClient(roots, host, httpsPort)
		resp, err := c.Get("https://" + host + "/")
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}

	t0 := time.Now()
	resp, body, err := get("alice.example")
	if err != nil {
		t.Fatalf("HTTPS GET alice.example: %v", err)
	}
	t.Logf("measured: first HTTPS request for a custom domain (certificate issued on demand by Pebble, instance woken): %v", time.Since(t0).Round(time.Millisecond))
	aliceCert := resp.TLS.PeerCertificates[0]
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from notes:alice") {
		t.Errorf("HTTPS GET alice.example: %d %q", resp.StatusCode, body)
	}
	if !slices.Equal(aliceCert.DNSNames, []string{"alice.example"}) || !strings.Contains(aliceCert.Issuer.CommonName, "Pebble") {
		t.Errorf("certificate for %v issued by %q", aliceCert.DNSNames, aliceCert.Issuer.CommonName)
	}
	// Plain HTTP for it: the redirect to HTTPS (and the HTTP-01
	// challenges) on the HTTP port.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/notes?x=1", httpPort), nil)
	req.Host = "alice.example"
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r, err := noRedirect.Do(req); err != nil || r.StatusCode != http.StatusPermanentRedirect ||
		r.Header.Get("Location") != fmt.Sprintf("https://alice.example:%d/notes?x=1", httpsPort) {
		t.Errorf("plain HTTP for alice.example: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	// Names bound to nothing: no certificate, and no order at Pebble.
	orders := p.Orders()
	for _, host := range []string{"mallory.example", "www.alice.example", "alice.example.evil.example"} {
		if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort),
			&tls.Config{ServerName: host, InsecureSkipVerify: true}); err == nil {
			t.Errorf("handshake for %s got a certificate for %v", host, conn.ConnectionState().PeerCertificates[0].DNSNames)
			conn.Close()
		}
	}
	if got := p.Orders(); got != orders {
		t.Errorf("handshakes for names bound to nothing made Pebble see %d orders (was %d)", got, orders)
	}
	if _, _, err := get("bob.example"); err != nil {
		t.Fatalf("HTTPS GET bob.example: %v", err)
	}
	// max_orders_per_hour (2) holds for custom domains: a third new name,
	// bound, gets no order this hour.
	orders = p.Orders()
	d.ten("domain", "add", "notes:alice", "carol.example")
	if _, _, err := get("carol.example"); err == nil || p.Orders() != orders {
		t.Errorf("a third certificate within the hour: %v, Pebble saw %d orders (was %d)", err, p.Orders(), orders)
	}

	// Removed: no certificate for it any more, none in the cache.
	d.ten("domain", "remove", "alice.example")
	if _, _, err := get("alice.example"); err == nil {
		t.Error("HTTPS GET alice.example after its removal succeeded")
	}
	cache := filepath.Join(d.dataDir, ".acme", cacheDirName(p.Directory))
	entries, _ := os.ReadDir(cache)
	var cached []string
	for _, e := range entries {
		cached = append(cached, e.Name())
	}
	if slices.ContainsFunc(cached, func(n string) bool { return strings.HasPrefix(n, "alice.example") }) || !slices.Contains(cached, "bob.example") {
		t.Errorf("certificate cache after removing alice.example: %v", cached)
	}

	// Renewals: bob's goes through Pebble; alice's is refused by the
	// order gate before it reaches Pebble.
	refused := func() bool {
		return strings.Contains(d.Logs(), "refused a certificate order") && strings.Contains(d.Logs(), "host=alice.example")
	}
	testbed.Eventually(t, 60*time.Second, "the renewals of bob.example and of alice.example", func() error {
		if n := p.Validations("bob.example"); n < 2 {
			return fmt.Errorf("Pebble validated bob.example %d times", n)
		}
		if p.Validations("alice.example") < 2 && !refused() {
			return fmt.Errorf("no renewal of alice.example yet, at Pebble or refused")
		}
		return nil
	})
	if n := p.Validations("alice.example"); n != 1 || !refused() {
		t.Errorf("Pebble validated alice.example %d times (want 1: a removed domain was renewed); the order gate's refusal logged: %v", n, refused())
	}
	testbed.Eventually(t, 10*time.Second, "bob.example served its renewed certificate", func() error {
		resp, _, err := get("bob.example")
		if err != nil {
			return err
		}
		if from := resp.TLS.PeerCertificates[0].NotBefore; from.Before(t0.Add(10 * time.Second)) {
			return fmt.Errorf("served the certificate from %v", from)
		}
		return nil
	})
}

// httpsClient connects to the daemon's HTTPS port whatever the host, and
// trusts only roots.
func httpsClient(roots *x509.CertPool, host string, port int) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
	}}
}

// cacheDirName is the daemon's cache subdirectory of an ACME directory
// (daemon.cacheName).
func cacheDirName(dir string) string {
	u := strings.TrimPrefix(dir, "https://")
	return strings.NewReplacer(":", "-", "/", "-").Replace(u)
}
