package packaging

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// Pebble, Let's Encrypt's ACME test server, from the Go module proxy
// (scripts/deps installs this version), with its DNS test server: every
// name resolves to 127.0.0.1, so Pebble's validation really connects to the
// daemon's HTTPS port (TLS-ALPN-01).
const pebbleVersion = "v2.10.1"

const tlsCfg = notesCfg + `
[settings.tls]
enabled = true
acme_email = "admin@tenement.test"
acme_directory = "https://127.0.0.1:14000/dir"
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

func lookTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/local/bin", os.Getenv("HOME") + "/go/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	testbed.SkipOrFail(t, fmt.Sprintf("%s is not installed: go install github.com/letsencrypt/pebble/v2/cmd/%s@%s (scripts/deps does)", name, name, pebbleVersion))
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// tls turns on [settings.tls] with Pebble as the CA: certificates are
// issued on demand for tenants' names and never for unknown names.
func (e *e2e) tls(t *testing.T) {
	pebble, challsrv := lookTool(t, "pebble"), lookTool(t, "pebble-challtestsrv")
	dir := t.TempDir()
	caPEM := writeTestCA(t, dir)
	startPebble(t, dir, pebble, challsrv)

	if err := os.WriteFile("/etc/tenement/acme-ca.pem", caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/tenement/tenement.toml", []byte(tlsCfg), 0o644); err != nil {
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

	roots := pebbleRoots(t, caPEM)
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
	cache := "/var/lib/tenement/.acme/127.0.0.1-14000-dir"
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

// writeTestCA makes a CA and, signed by it, the certificate of Pebble's own
// HTTPS listener (127.0.0.1, localhost); it returns the CA's PEM, which the
// daemon gets as acme_ca.
func writeTestCA(t *testing.T, dir string) []byte {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenement test ACME directory CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caPEM
}

// startPebble starts the DNS test server and Pebble (ACME on :14000,
// management on :15000, validating on ports 80 and 443), stopped at the
// end of the test.
func startPebble(t *testing.T, dir, pebble, challsrv string) {
	t.Helper()
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
		"certificate": filepath.Join(dir, "cert.pem"), "privateKey": filepath.Join(dir, "key.pem"),
		"httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(env []string, name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("%s:\n%s", filepath.Base(name), b)
			}
		})
	}
	start(nil, challsrv, "-dnsserver", "127.0.0.1:8053", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-management", "127.0.0.1:8055")
	// No random sleep before validations, no rejected nonces: a fast,
	// deterministic CA.
	start([]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}, pebble, "-config", cfgPath, "-dnsserver", "127.0.0.1:8053")
	testbed.Eventually(t, 15*time.Second, "Pebble's directory", func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:14000", time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// pebbleRoots fetches the root Pebble signs with (it makes a new one at
// every start).
func pebbleRoots(t *testing.T, caPEM []byte) *x509.CertPool {
	t.Helper()
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(caPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust}}}
	resp, err := c.Get("https://127.0.0.1:15000/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	roots := x509.NewCertPool()
	if resp.StatusCode != 200 || !roots.AppendCertsFromPEM(b) {
		t.Fatalf("Pebble's root: %d %q", resp.StatusCode, b)
	}
	return roots
}
