package config

import (
	"strings"
	"testing"
)

func TestTLSDefaults(t *testing.T) {
	c, err := Parse("/etc/tenement/tenement.toml", []byte("[settings]\ndata_dir = \"/srv/ten\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := TLS{HTTPSPort: 443, HTTPPort: 80, CacheDir: "/srv/ten/.acme", ACMEDirectory: LetsEncryptDirectory}
	if c.Settings.TLS != want {
		t.Errorf("TLS = %+v, want %+v", c.Settings.TLS, want)
	}
}

func TestTLSValid(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want TLS
	}{
		{
			name: "original keys",
			toml: `[settings]
domain = "Example.COM."
data_dir = "/var/lib/tenement"
[settings.tls]
enabled = true
acme_email = "admin@example.com"
domain = "example.com"
staging = true
https_port = 8443
http_port = 8081
cache_dir = "certs"
dns_provider = "cloudflare"
`,
			want: TLS{Enabled: true, ACMEEmail: "admin@example.com", Domain: "example.com", Staging: true,
				HTTPSPort: 8443, HTTPPort: 8081, CacheDir: "/etc/tenement/certs", DNSProvider: "cloudflare",
				ACMEDirectory: LetsEncryptStagingDirectory},
		},
		{
			name: "private CA",
			toml: `[settings]
domain = "tenement.test"
[settings.tls]
enabled = true
acme_directory = "https://localhost:14000/dir"
acme_ca = "pebble.pem"
`,
			want: TLS{Enabled: true, HTTPSPort: 443, HTTPPort: 80, CacheDir: "/var/lib/tenement/.acme",
				ACMEDirectory: "https://localhost:14000/dir", ACMECA: "/etc/tenement/pebble.pem"},
		},
		{
			name: "disabled tolerates localhost",
			toml: "[settings.tls]\nenabled = false\n",
			want: TLS{HTTPSPort: 443, HTTPPort: 80, CacheDir: "/var/lib/tenement/.acme", ACMEDirectory: LetsEncryptDirectory},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/tenement/tenement.toml", []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Settings.TLS != tt.want {
				t.Errorf("TLS =\n%+v, want\n%+v", c.Settings.TLS, tt.want)
			}
		})
	}
}

func TestTLSInvalid(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // the one-line error
	}{
		{"localhost", "[settings.tls]\nenabled = true\n",
			`:2: settings.tls.enabled: TLS needs settings.domain to be a public DNS name such as example.com, not "localhost"`},
		{"single label", "[settings]\ndomain = \"intranet\"\n[settings.tls]\nenabled = true\n",
			`:4: settings.tls.enabled: TLS needs settings.domain to be a public DNS name such as example.com, not "intranet"`},
		{"same ports", "[settings]\ndomain = \"example.com\"\n[settings.tls]\nenabled = true\nhttp_port = 443\n",
			":5: settings.tls.http_port: 443 is also https_port"},
		{"port range", "[settings.tls]\nhttps_port = 70000\n",
			":2: settings.tls.https_port: 70000: want 1–65535"},
		{"email", "[settings]\ndomain = \"example.com\"\n[settings.tls]\nenabled = true\nacme_email = \"root\"\n",
			`:5: settings.tls.acme_email: "root": want an address`},
		{"email without dot", "[settings.tls]\nacme_email = \"me@localhost\"\n",
			`:2: settings.tls.acme_email: "me@localhost": want an address`},
		{"other domain", "[settings]\ndomain = \"example.com\"\n[settings.tls]\ndomain = \"example.org\"\n",
			`:4: settings.tls.domain: "example.org" differs from settings.domain "example.com"`},
		{"staging and directory", "[settings.tls]\nstaging = true\nacme_directory = \"https://ca.example/dir\"\n",
			":2: settings.tls.staging: set either staging or acme_directory, not both"},
		{"plain http directory", "[settings.tls]\nacme_directory = \"http://ca.example/dir\"\n",
			`:2: settings.tls.acme_directory: "http://ca.example/dir": want an https:// URL`},
		{"dns provider", "[settings.tls]\ndns_provider = \"Cloud Flare\"\n",
			`:2: settings.tls.dns_provider: "Cloud Flare"`},
		{"unknown key", "[settings.tls]\nwildcard = true\n",
			":2: settings.tls.wildcard: unknown key"},
		{"wrong type", "[settings.tls]\nenabled = \"yes\"\n",
			"settings.tls.enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/tenement/tenement.toml", []byte(tt.toml))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestTLSAddrs(t *testing.T) {
	tls := TLS{HTTPSPort: 443, HTTPPort: 80}
	for listen, want := range map[string][2]string{
		":8080":          {":443", ":80"},
		"127.0.0.1:8080": {"127.0.0.1:443", "127.0.0.1:80"},
		"[::1]:8080":     {"[::1]:443", "[::1]:80"},
	} {
		https, http := tls.Addrs(listen)
		if https != want[0] || http != want[1] {
			t.Errorf("Addrs(%q) = %q, %q; want %q", listen, https, http, want)
		}
	}
}
