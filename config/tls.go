package config

import (
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// ACME directories of Let's Encrypt.
const (
	LetsEncryptDirectory        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStagingDirectory = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// TLS is the [settings.tls] table: HTTPS terminated by the daemon itself,
// with certificates from an ACME CA obtained on demand, one per name the
// daemon serves (the root domain, {service}.{domain} of configured services,
// {id}.{service}.{domain} of known instances, custom domains bound to
// instances), never for other names. The
// keys are the original tenement's, plus acme_directory and acme_ca.
type TLS struct {
	// Enabled turns on HTTPS: the proxy listens on HTTPSPort, and HTTPPort
	// only redirects to it and answers ACME HTTP-01 challenges; the port
	// of settings.listen is not used (its host is the address both bind).
	// Default false.
	Enabled bool `toml:"enabled" json:"enabled"`
	// ACMEEmail is the contact address of the ACME account. Default: none.
	ACMEEmail string `toml:"acme_email" json:"acme_email"`
	// Domain is accepted for compatibility with the original; when set it
	// must equal settings.domain. Default: settings.domain.
	Domain string `toml:"domain" json:"domain"`
	// CacheDir keeps the ACME account key and the certificates, one
	// subdirectory per ACME directory (so staging and production
	// certificates never mix). Default "{data_dir}/.acme".
	CacheDir string `toml:"cache_dir" json:"cache_dir"`
	// Staging uses Let's Encrypt's staging directory. Default false.
	Staging bool `toml:"staging" json:"staging"`
	// HTTPSPort is the HTTPS listener's port. Default 443.
	HTTPSPort int `toml:"https_port" json:"https_port"`
	// HTTPPort is the plain-HTTP listener's port: redirects to HTTPS and
	// ACME HTTP-01 challenges. Default 80.
	HTTPPort int `toml:"http_port" json:"http_port"`
	// DNSProvider is the Caddy DNS provider module `ten caddy` puts in the
	// Caddyfile for wildcard certificates (e.g. "cloudflare"). The daemon
	// does not use it. Default: none.
	DNSProvider string `toml:"dns_provider" json:"dns_provider"`
	// ACMEDirectory is the ACME directory URL, for another CA (a private
	// one, or Pebble in tests). Default Let's Encrypt (or its staging
	// directory with Staging).
	ACMEDirectory string `toml:"acme_directory" json:"acme_directory"`
	// ACMECA is a PEM file of CA certificates to trust for the ACME
	// directory's own HTTPS (a private CA); relative to the config file.
	// Default: the system's roots.
	ACMECA string `toml:"acme_ca" json:"acme_ca"`
	// MaxOrdersPerHour bounds the new certificate orders TLS handshakes
	// start per hour, all names together (names with a certificate and
	// autocert's renewals are not counted), so that requests for many new
	// names cannot exhaust the CA's rate limits. 0 means no limit.
	// Default 60.
	MaxOrdersPerHour *int `toml:"max_orders_per_hour" json:"max_orders_per_hour"`
}

// DefaultMaxOrdersPerHour is max_orders_per_hour's default.
const DefaultMaxOrdersPerHour = 60

// OrdersPerHour returns MaxOrdersPerHour (0: no limit).
func (t *TLS) OrdersPerHour() int { return deref(t.MaxOrdersPerHour, DefaultMaxOrdersPerHour) }

// setDefaults fills the TLS defaults that do not depend on other keys.
func (t *TLS) setDefaults() {
	setInt(&t.HTTPSPort, 443)
	setInt(&t.HTTPPort, 80)
	t.Domain = strings.TrimSuffix(strings.ToLower(t.Domain), ".")
}

// validate checks [settings.tls] against the resolved data dir and the
// root domain, and fills CacheDir and ACMEDirectory.
func (t *TLS) validate(p *problems, dataDir, domain, cfgPath string) {
	const key = "settings.tls."
	for _, port := range []struct {
		key string
		n   int
	}{{"https_port", t.HTTPSPort}, {"http_port", t.HTTPPort}} {
		if port.n < 1 || port.n > 65535 {
			p.add(key+port.key, "%d: want 1–65535", port.n)
		}
	}
	if t.HTTPSPort == t.HTTPPort {
		p.add(key+"http_port", "%d is also https_port; the two listeners need their own ports", t.HTTPPort)
	}
	if t.Domain != "" && t.Domain != domain {
		p.add(key+"domain", "%q differs from settings.domain %q: certificates are for settings.domain and its subdomains; remove this key", t.Domain, domain)
	}
	if t.ACMEEmail != "" {
		if a, err := mail.ParseAddress(t.ACMEEmail); err != nil || a.Address != t.ACMEEmail || !strings.Contains(t.ACMEEmail[strings.LastIndexByte(t.ACMEEmail, '@'):], ".") {
			p.add(key+"acme_email", "%q: want an address such as admin@example.com", t.ACMEEmail)
		}
	}
	if t.Staging && t.ACMEDirectory != "" {
		p.add(key+"staging", "set either staging or acme_directory, not both")
	}
	if t.ACMEDirectory == "" {
		t.ACMEDirectory = LetsEncryptDirectory
		if t.Staging {
			t.ACMEDirectory = LetsEncryptStagingDirectory
		}
	} else if u, err := url.Parse(t.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
		p.add(key+"acme_directory", "%q: want an https:// URL", t.ACMEDirectory)
	}
	if n := t.OrdersPerHour(); n < 0 {
		p.add(key+"max_orders_per_hour", "%d: want 0 (no limit) or more", n)
	}
	// A dot-name: no service (names are letters and digits) can own it.
	setStr(&t.CacheDir, strings.TrimSuffix(dataDir, "/")+"/.acme")
	if strings.HasPrefix(t.CacheDir, "~") {
		p.add(key+"cache_dir", "%q: \"~\" is not expanded; write the full path", t.CacheDir)
	}
	if cfgPath != "" {
		t.CacheDir = resolve(cfgPath, t.CacheDir)
		t.ACMECA = resolve(cfgPath, t.ACMECA)
	}
	if t.DNSProvider != "" && !dnsLabel.MatchString(t.DNSProvider) {
		p.add(key+"dns_provider", "%q: want a Caddy DNS provider module name such as \"cloudflare\"", t.DNSProvider)
	}
	if !t.Enabled {
		return
	}
	if domain == "localhost" || !strings.Contains(domain, ".") {
		p.add(key+"enabled", "TLS needs settings.domain to be a public DNS name such as example.com, not %q (ACME CAs issue no certificates for it)", domain)
	}
}

// Addrs returns the addresses of the HTTPS and the plain-HTTP listeners:
// the host of listen with HTTPSPort and HTTPPort.
func (t *TLS) Addrs(listen string) (https, http string) {
	host, _, _ := net.SplitHostPort(listen)
	return net.JoinHostPort(host, strconv.Itoa(t.HTTPSPort)), net.JoinHostPort(host, strconv.Itoa(t.HTTPPort))
}
