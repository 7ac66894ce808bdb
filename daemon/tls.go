package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/tenement/tenement/config"
)

// certs gets certificates on demand from an ACME CA for the names the host
// policy allows, caching them under the cache dir (one subdirectory per ACME
// directory), and backs off from names whose issuance failed so that a
// broken DNS record or firewall does not burn the CA's rate limits.
type certs struct {
	m      *autocert.Manager
	domain string
	pol    *hostPolicy
	orders *orderCap // nil: no max_orders_per_hour (acmeorders.go)
	log    *slog.Logger

	mu     sync.Mutex
	failed map[string]failure  // name → last issuance failure
	have   map[string]struct{} // names with a certificate
}

type failure struct {
	n     int
	until time.Time
}

// Backoff after a failed issuance: 1 minute, doubling, at most an hour
// (Let's Encrypt allows 5 failed validations per name and hour).
const (
	failBackoff    = time.Minute
	failBackoffMax = time.Hour
)

// newCerts sets up the ACME client for t.
func newCerts(t config.TLS, domain string, pol *hostPolicy, log *slog.Logger) (*certs, error) {
	cacheDir := filepath.Join(t.CacheDir, cacheName(t.ACMEDirectory))
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("tls: cache dir: %w", err)
	}
	// MkdirAll leaves existing dirs alone; the keys must stay root's.
	for _, d := range []string{t.CacheDir, cacheDir} {
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("tls: cache dir: %w", err)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t.ACMECA != "" {
		pem, err := os.ReadFile(t.ACMECA)
		if err != nil {
			return nil, fmt.Errorf("tls: acme_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: acme_ca: %s holds no PEM certificate", t.ACMECA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// Every order, renewals included, passes the host policy as it is
	// sent (acmegate.go).
	client := &acme.Client{DirectoryURL: t.ACMEDirectory, UserAgent: "tenement",
		HTTPClient: &http.Client{Transport: &orderGate{base: tr, allow: pol.Allow, log: log}}}
	m := &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache:  autocert.DirCache(cacheDir),
		HostPolicy: func(ctx context.Context, host string) error {
			if err := pol.Allow(ctx, host); err != nil {
				return policyError{err}
			}
			return nil
		},
		Email:  t.ACMEEmail,
		Client: client,
	}
	log.Info("TLS with ACME certificates on demand", "directory", t.ACMEDirectory, "cache", cacheDir, "max_orders_per_hour", t.OrdersPerHour())
	c := &certs{m: m, domain: domain, pol: pol, log: log, failed: map[string]failure{}, have: map[string]struct{}{}}
	if n := t.OrdersPerHour(); n > 0 {
		c.orders = newOrderCap(n)
	}
	return c, nil
}

// cacheName turns an ACME directory URL into a directory name:
// "https://acme-v02.api.letsencrypt.org/directory" →
// "acme-v02.api.letsencrypt.org-directory".
func cacheName(dir string) string {
	u, err := url.Parse(dir)
	if err != nil {
		return "default"
	}
	s := u.Host + u.Path
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s), "-")
}

// TLSConfig returns the HTTPS listener's config: HTTP/2 and HTTP/1.1, and
// the ACME TLS-ALPN-01 challenge protocol.
func (c *certs) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: c.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1", acme.ALPNProto},
		MinVersion:     tls.VersionTLS12,
	}
}

// GetCertificate returns the certificate for the handshake's server name,
// obtaining it first if need be. A handshake without a server name (a
// client that dialled the IP address) gets the root domain's.
func (c *certs) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		h := *hello
		h.ServerName = c.domain
		hello = &h
	}
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	challenge := len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
	if !challenge {
		if err := c.backingOff(name); err != nil {
			return nil, err
		}
		ctx := hello.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		done, err := c.admitOrder(ctx, name)
		if err != nil {
			return nil, err
		}
		defer done()
	}
	cert, err := c.m.GetCertificate(hello)
	var pe policyError
	switch {
	case challenge || errors.As(err, &pe):
		// A refused name is no failed issuance; nor is a failed lookup.
	case err != nil:
		c.fail(name, err)
	default:
		c.mu.Lock()
		delete(c.failed, name)
		c.have[name] = struct{}{}
		c.mu.Unlock()
	}
	return cert, err
}

// policyError is the host policy's refusal (or failure) as autocert
// passes it on, told apart from the CA's errors.
type policyError struct{ err error }

func (e policyError) Error() string { return e.err.Error() }
func (e policyError) Unwrap() error { return e.err }

// forget drops what the daemon keeps of a name it no longer serves (a
// custom domain unbound): the cached certificates and their keys, so that
// no later daemon serves or renews them, and its memory of a certificate
// or a failed attempt. autocert's own copy in memory stays until the
// daemon restarts, unused: the host policy refuses the name at every
// handshake (autocert asks it before it looks at its copy), and the order
// gate refuses the renewal its timer will attempt.
func (c *certs) forget(name string) {
	for _, key := range []string{name, name + "+rsa"} {
		if err := c.m.Cache.Delete(context.Background(), key); err != nil {
			c.log.Warn("cannot remove the cached certificate of an unbound domain", "host", name, "err", err)
		}
	}
	c.mu.Lock()
	delete(c.have, name)
	delete(c.failed, name)
	c.mu.Unlock()
}

func (c *certs) backingOff(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.failed[name]; ok && time.Now().Before(f.until) {
		return fmt.Errorf("tls: no certificate for %q: the last attempt failed; next try after %s", name, f.until.Format(time.RFC3339))
	}
	return nil
}

func (c *certs) fail(name string, err error) {
	c.mu.Lock()
	f := c.failed[name]
	f.n++
	d := min(failBackoff<<min(f.n-1, 10), failBackoffMax)
	f.until = time.Now().Add(d)
	if len(c.failed) > 10_000 {
		clear(c.failed)
	}
	c.failed[name] = f
	c.mu.Unlock()
	c.log.Warn("cannot get a certificate; check that the name resolves to this server and that the HTTPS (TLS-ALPN-01) or HTTP (HTTP-01) port is reachable from the internet",
		"host", name, "attempt", f.n, "retry_in", d.String(), "err", err)
}

// redirect is the plain-HTTP listener's handler with TLS on: ACME HTTP-01
// challenges, and a 308 to the same URL over HTTPS for everything else.
func (c *certs) redirect(httpsPort int) http.Handler {
	return c.m.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			host = c.domain
		}
		if strings.Contains(host, ":") { // an IPv6 literal
			host = "[" + strings.Trim(host, "[]") + "]"
		}
		if httpsPort != 443 {
			host += ":" + strconv.Itoa(httpsPort)
		}
		w.Header().Set("Location", "https://"+host+r.URL.RequestURI())
		w.WriteHeader(http.StatusPermanentRedirect)
	}))
}
