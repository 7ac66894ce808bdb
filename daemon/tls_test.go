package daemon

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/acme"

	"github.com/tenement/tenement/config"
)

// newTestCerts returns certs whose ACME directory is a server that refuses
// everything, and counts how often it was asked.
func newTestCerts(t *testing.T) (*certs, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	ca := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(ca.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM(ca.Certificate().Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.TLS{Enabled: true, CacheDir: filepath.Join(t.TempDir(), "acme"), ACMEDirectory: ca.URL + "/dir", ACMECA: caFile, HTTPSPort: 443, HTTPPort: 80}
	c, err := newCerts(cfg, "example.com", newHostPolicy("example.com", newFake(), nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCacheDirPerDirectory(t *testing.T) {
	for dir, want := range map[string]string{
		config.LetsEncryptDirectory:        "acme-v02.api.letsencrypt.org-directory",
		config.LetsEncryptStagingDirectory: "acme-staging-v02.api.letsencrypt.org-directory",
		"https://127.0.0.1:14000/dir":      "127.0.0.1-14000-dir",
	} {
		if got := cacheName(dir); got != want {
			t.Errorf("cacheName(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestCacheDirIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := config.TLS{CacheDir: dir, ACMEDirectory: config.LetsEncryptDirectory}
	if _, err := newCerts(cfg, "example.com", newHostPolicy("example.com", newFake(), nil), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, cacheName(config.LetsEncryptDirectory))} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
}

func TestNoCertificateForUnknownNames(t *testing.T) {
	c, calls := newTestCerts(t)
	for _, name := range []string{"mallory.notes.example.com", "www.example.com", "example.org", "evil.com", "localhost"} {
		cert, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err == nil || cert != nil {
			t.Errorf("GetCertificate(%q) = %v, %v; want no certificate", name, cert, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the ACME CA was asked %d times for names tenement does not serve, want 0", n)
	}
}

func TestIssuanceFailureBacksOff(t *testing.T) {
	c, calls := newTestCerts(t)
	hello := &tls.ClientHelloInfo{ServerName: "alice.notes.example.com", CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	if _, err := c.GetCertificate(hello); err == nil {
		t.Fatal("got a certificate from a CA that refuses everything")
	}
	asked := calls.Load()
	if asked == 0 {
		t.Fatal("the CA was never asked for an allowed name")
	}
	_, err := c.GetCertificate(hello)
	if err == nil || !strings.Contains(err.Error(), "next try after") {
		t.Errorf("second attempt: %v, want the backoff error", err)
	}
	if calls.Load() != asked {
		t.Errorf("the CA was asked again during the backoff")
	}
	// A challenge handshake of the CA is never held back.
	_, err = c.GetCertificate(&tls.ClientHelloInfo{ServerName: "alice.notes.example.com", SupportedProtos: []string{acme.ALPNProto}})
	if err == nil || strings.Contains(err.Error(), "next try after") {
		t.Errorf("tls-alpn-01 handshake: %v, want autocert's own answer (no token cert)", err)
	}
}

// A failed instance lookup (systemd away for a moment) refuses the
// handshake but is no issuance failure: the next handshake tries again.
func TestLookupFailureIsNoBackoff(t *testing.T) {
	c, calls := newTestCerts(t)
	f := c.m.HostPolicy
	failing := true
	c.m.HostPolicy = func(ctx context.Context, host string) error {
		if failing {
			return policyError{errors.New("systemd is away")}
		}
		return f(ctx, host)
	}
	hello := &tls.ClientHelloInfo{ServerName: "alice.notes.example.com"}
	if _, err := c.GetCertificate(hello); err == nil {
		t.Fatal("no error")
	}
	if err := c.backingOff("alice.notes.example.com"); err != nil || calls.Load() != 0 {
		t.Errorf("after a lookup failure: backoff %v, CA asked %d times", err, calls.Load())
	}
	failing = false
	if _, err := c.GetCertificate(hello); err == nil || calls.Load() == 0 {
		t.Errorf("the next handshake did not try the CA: %v", err)
	}
}

func TestTLSConfigOffersACMEALPN(t *testing.T) {
	c, _ := newTestCerts(t)
	got := strings.Join(c.TLSConfig().NextProtos, ",")
	if got != "h2,http/1.1,"+acme.ALPNProto {
		t.Errorf("NextProtos = %s", got)
	}
}

func TestRedirectToHTTPS(t *testing.T) {
	c, _ := newTestCerts(t)
	tests := []struct {
		name, method, url, host string
		port                    int
		want                    string
	}{
		{"path and query", "GET", "/notes?x=1&y=2", "alice.notes.example.com", 443, "https://alice.notes.example.com/notes?x=1&y=2"},
		{"port dropped", "GET", "/", "example.com:80", 443, "https://example.com/"},
		{"custom HTTPS port", "GET", "/a", "example.com", 8443, "https://example.com:8443/a"},
		{"POST too", "POST", "/notes", "alice.notes.example.com", 443, "https://alice.notes.example.com/notes"},
		{"IPv6 literal", "GET", "/", "[::1]:80", 443, "https://[::1]/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.url, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			c.redirect(tt.port).ServeHTTP(w, r)
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tt.want {
				t.Errorf("%d Location %q, want 308 %q", w.Code, w.Header().Get("Location"), tt.want)
			}
		})
	}
}

func TestHTTP01Challenge(t *testing.T) {
	c, _ := newTestCerts(t)
	h := c.redirect(443)
	for host, want := range map[string]int{
		"alice.notes.example.com":   http.StatusNotFound,  // allowed, but no such token
		"mallory.notes.example.com": http.StatusForbidden, // not a name tenement serves
	} {
		r := httptest.NewRequest("GET", "/.well-known/acme-challenge/abc", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("challenge for %s: %d, want %d", host, w.Code, want)
		}
	}
}
