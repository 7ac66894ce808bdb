// Package acmetest runs Pebble, Let's Encrypt's ACME test server, for tests
// in which tenement gets real certificates on demand: Pebble (from the Go
// module proxy; scripts/deps installs the version PebbleVersion names) and
// its DNS test server, which resolves every name to 127.0.0.1, so that
// Pebble's validations really connect to the daemon's HTTPS (TLS-ALPN-01)
// and HTTP (HTTP-01) ports on this host.
//
// Start writes a CA and Pebble's own HTTPS certificate signed by it
// (CAFile: the daemon's acme_ca), starts both servers on free loopback
// ports, and stops them at the end of the test. Orders and Validations read
// Pebble's log: how many orders it received, and how many validations of
// a name it ran (one per order of that name that got as far as a
// challenge: Pebble reuses no validation here). Tests that need Pebble and run inside a network namespace of
// their own (the integration test manager) can use any ports.
package acmetest

import (
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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// PebbleVersion is the Pebble scripts/deps installs.
const PebbleVersion = "v2.10.1"

// Options configure Pebble.
type Options struct {
	// HTTPPort and TLSPort are the ports Pebble validates on (HTTP-01,
	// TLS-ALPN-01): the daemon's http_port and https_port.
	HTTPPort, TLSPort int
	// Validity is how long the certificates it issues are valid (whole
	// seconds); 0 is Pebble's default (90 days). autocert renews a
	// certificate when a third of it is left.
	Validity time.Duration
}

// Pebble is a running Pebble.
type Pebble struct {
	// Directory is the ACME directory URL: the daemon's acme_directory.
	Directory string
	// CAFile is the PEM of the CA of Pebble's own HTTPS: the daemon's
	// acme_ca.
	CAFile string

	mgmt, log string
	caPEM     []byte
}

// Start starts Pebble and its DNS server, stopped at the end of t; without
// the binaries the test skips (or fails, testbed.Strict).
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	pebble, challsrv := lookTool(t, "pebble"), lookTool(t, "pebble-challtestsrv")
	dir := t.TempDir()
	p := &Pebble{CAFile: filepath.Join(dir, "ca.pem"), log: filepath.Join(dir, "pebble.log")}
	p.caPEM = writeCA(t, dir)
	if err := os.WriteFile(p.CAFile, p.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	acmeAddr, mgmt, dns, dnsMgmt := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	p.Directory, p.mgmt = "https://"+acmeAddr+"/dir", mgmt
	pcfg := map[string]any{
		"listenAddress": acmeAddr, "managementListenAddress": mgmt,
		"certificate": filepath.Join(dir, "cert.pem"), "privateKey": filepath.Join(dir, "key.pem"),
		"httpPort": o.HTTPPort, "tlsPort": o.TLSPort, "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}
	if o.Validity > 0 {
		pcfg["profiles"] = map[string]any{"default": map[string]any{"description": "test", "validityPeriod": int(o.Validity / time.Second)}}
	}
	b, _ := json.Marshal(map[string]any{"pebble": pcfg})
	cfgPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, filepath.Join(dir, "challtestsrv.log"), nil, challsrv, "-dnsserver", dns, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-management", dnsMgmt)
	// No random sleep before validations, no rejected nonces, no reuse
	// of an earlier validation (Pebble reuses half of them by default):
	// a fast, deterministic CA that validates every order.
	start(t, p.log, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}, pebble, "-config", cfgPath, "-dnsserver", dns)
	testbed.Eventually(t, 15*time.Second, "Pebble's directory", func() error {
		c, err := net.DialTimeout("tcp", acmeAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	return p
}

// Roots returns the root Pebble issues under (it makes a new one at every
// start).
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(p.caPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust}}}
	resp, err := c.Get("https://" + p.mgmt + "/roots/0")
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

// Log returns what Pebble logged so far.
func (p *Pebble) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// Orders returns how many new orders Pebble received.
func (p *Pebble) Orders() int { return strings.Count(p.Log(), "Added order ") }

// Validations returns how many validations of name Pebble ran: one per
// order of the name that got as far as a challenge (Start turns Pebble's
// reuse of earlier validations off).
func (p *Pebble) Validations(name string) int {
	n := 0
	for _, line := range strings.Split(p.Log(), "\n") {
		if strings.Contains(line, "Pulled a task from the Tasks queue") && strings.Contains(line, "Value:"+strconv.Quote(name)+"}") {
			n++
		}
	}
	return n
}

func lookTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/local/bin", os.Getenv("HOME") + "/go/bin"} {
		if p := filepath.Join(dir, name); isFile(p) {
			return p
		}
	}
	testbed.SkipOrFail(t, fmt.Sprintf("%s is not installed: go install github.com/letsencrypt/pebble/v2/cmd/%s@%s (scripts/deps does)", name, name, PebbleVersion))
	return ""
}

func isFile(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }

// freeAddr returns a loopback address with a port free now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a server until the end of t, its output in logPath, shown
// when t failed.
func start(t testing.TB, logPath string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", filepath.Base(name), b)
		}
	})
}

// writeCA makes a CA and, signed by it, the certificate of Pebble's own
// HTTPS listener (127.0.0.1, localhost); it returns the CA's PEM.
func writeCA(t testing.TB, dir string) []byte {
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
	for name, data := range map[string][]byte{
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}
