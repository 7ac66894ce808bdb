package packaging

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/acmetest"
	"github.com/tenement/tenement/internal/testbed"
)

// tlsCfg turns on [settings.tls] with Pebble (internal/acmetest: every
// name resolves to 127.0.0.1, so Pebble's validations really connect to
// the daemon's ports 80 and 443) as the CA at the directory %s.
const tlsCfg = notesCfg + `
[settings.tls]
enabled = true
acme_email = "admin@tenement.test"
acme_directory = %q
acme_ca = "/etc/tenement/acme-ca.pem"
`

// The socket drop-in an admin writes for TLS: the API socket and ports 80
// and 443 instead of 8080.
const tlsSocket = `[Socket]
ListenStream=
ListenStream=/run/tenement/api.sock
ListenStream=80
ListenStream=443
`

// tls turns on [settings.tls] with Pebble as the CA: certificates are
// issued on demand for tenants' names and never for unknown names.
func (e *e2e) tls(t *testing.T) {
	pebble := acmetest.Start(t, acmetest.Options{HTTPPort: 80, TLSPort: 443})
	caPEM, err := os.ReadFile(pebble.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/tenement/acme-ca.pem", caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/tenement/tenement.toml", []byte(fmt.Sprintf(tlsCfg, pebble.Directory)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/etc/systemd/system/tenement.socket.d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/systemd/system/tenement.socket.d/tls.conf", []byte(tlsSocket), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "ten config check && systemctl daemon-reload && systemctl restart tenement.socket tenement.service")
	testbed.Eventually(t, 5*time.Second, "listeners from systemd", func() error {
		j := sh(t, "journalctl -u tenement.service --no-pager -o cat --since=-10s")
		for _, want := range []string{"role=https addr=[::]:443 from_systemd=true", "role=http addr=[::]:80 from_systemd=true"} {
			if !strings.Contains(j, want) {
				return fmt.Errorf("journal lacks %q", want)
			}
		}
		return nil
	})

	roots := pebble.Roots(t)
	get := func(host, path string) (*http.Response, string, error) {
		c := httpsClient(roots, host)
		resp, err := c.Get("https://" + host + path)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}

	// On demand: the first handshake for a tenant's name gets a
	// certificate Pebble issued for exactly that name.
	t0 := time.Now()
	resp, body, err := get("alice.notes."+domain, "/notes")
	if err != nil {
		t.Fatalf("HTTPS GET alice.notes.%s: %v\n%s", domain, err, sh(t, "journalctl -u tenement.service --no-pager -o cat | tail -20"))
	}
	leaf := resp.TLS.PeerCertificates[0]
	t.Logf("measured: first HTTPS request for alice.notes.%s (certificate issued on demand by Pebble): %v", domain, time.Since(t0).Round(time.Millisecond))
	if resp.StatusCode != 200 || !strings.Contains(body, "buy milk") || resp.ProtoMajor != 2 {
		t.Errorf("HTTPS GET alice.notes/notes: %s %d %q, want HTTP/2 200 with alice's notes", resp.Proto, resp.StatusCode, body)
	}
	if !slices.Equal(leaf.DNSNames, []string{"alice.notes." + domain}) || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("certificate for %v issued by %q", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	// The service's own name gets a certificate too; its pool is empty
	// (new instances have weight 0), so it answers 404.
	if resp, _, err := get("notes."+domain, "/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("HTTPS GET notes.%s (the service, nobody in its pool): %v %v, want 404", domain, resp, err)
	}

	// Never for names tenement does not serve: no certificate at all.
	for _, host := range []string{"mallory.notes." + domain, "www." + domain, "evil.example.com"} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:443",
			&tls.Config{ServerName: host, InsecureSkipVerify: true})
		if err == nil {
			t.Errorf("handshake for %s succeeded with a certificate for %v", host, conn.ConnectionState().PeerCertificates[0].DNSNames)
			conn.Close()
		}
	}
	// The cache's subdirectory is the directory URL's host, port and path
	// ("127.0.0.1-14000-dir").
	u, _ := url.Parse(pebble.Directory)
	cache := "/var/lib/tenement/.acme/" + strings.NewReplacer(":", "-", "/", "-").Replace(u.Host+u.Path)
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	var cached []string
	for _, e := range entries {
		cached = append(cached, e.Name())
	}
	if !slices.Contains(cached, "alice.notes."+domain) || slices.ContainsFunc(cached, func(n string) bool {
		return strings.Contains(n, "mallory") || strings.Contains(n, "evil") || strings.HasPrefix(n, "www.")
	}) {
		t.Errorf("certificate cache %s holds %v", cache, cached)
	}

	// Plain HTTP redirects to HTTPS.
	req, _ := http.NewRequest("GET", "http://127.0.0.1:80/notes?x=1", nil)
	req.Host = "alice.notes." + domain
	if r, err := client.Do(req); err != nil || r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != "https://alice.notes."+domain+"/notes?x=1" {
		t.Errorf("plain HTTP: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	// Over HTTPS the root domain's API answers a peer that is not
	// loopback; over plain HTTP, that peer is only redirected.
	remote := fromRemote(t)
	if resp, err := httpsClientFrom(roots, domain, remoteIP).Get("https://" + domain + "/api/instances"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HTTPS GET %s/api/instances from %s: %v %v, want the API's 401", domain, remoteIP, resp, err)
	} else {
		resp.Body.Close()
	}
	req, _ = http.NewRequest("GET", "http://"+remoteIP+":80/api/instances", nil)
	req.Host = domain
	if r, err := remote.Do(req); err != nil || r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != "https://"+domain+"/api/instances" {
		t.Errorf("plain HTTP GET %s/api/instances from %s: %v %v, want a redirect to HTTPS", domain, remoteIP, r, err)
	} else {
		r.Body.Close()
	}

	// A restarted daemon serves the cached certificate.
	sh(t, "systemctl restart tenement")
	resp, _, err = get("alice.notes."+domain, "/")
	if err != nil {
		t.Fatal(err)
	}
	if again := resp.TLS.PeerCertificates[0]; again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart, a new certificate (serial %v, was %v): the cache was not used", again.SerialNumber, leaf.SerialNumber)
	}
}

// httpsClient connects to the daemon's HTTPS port whatever the host, and
// trusts only Pebble's roots.
func httpsClient(roots *x509.CertPool, host string) *http.Client {
	return httpsClientFrom(roots, host, "127.0.0.1")
}

// httpsClientFrom is httpsClient with connections from ip to ip.
func httpsClientFrom(roots *x509.CertPool, host, ip string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, net.JoinHostPort(ip, "443"))
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host},
		ForceAttemptHTTP2: true,
	}}
}
