package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/config"
)

// caddyOptions is what the Caddyfile is made from.
type caddyOptions struct {
	Domain      string
	Upstream    string   // host:port of tenement's HTTP listener, for the ask endpoint
	Front       string   // tenement's front_listen: "unix:/path" or host:port
	DNSProvider string   // "" for on-demand TLS
	Email       string   // ACME account contact, optional
	Services    []string // for per-service wildcard certificates with DNSProvider
}

func (a *app) caddyCmd() *cobra.Command {
	var (
		o      caddyOptions
		port   int
		output string
	)
	cmd := &cobra.Command{
		Use:   "caddy",
		Short: "Write a Caddyfile for running Caddy in front of tenement",
		Long: `Write a Caddyfile for Caddy as tenement's HTTPS front (tenement's own
[settings.tls] then stays off). Values come from the config file when there
is one; flags override them.

Caddy passes every request to tenement's front_listen (default
unix:` + defaultFrontSocket + `), the only listener where tenement believes
X-Forwarded-For and X-Forwarded-Proto; set front_listen and front_group
(the group Caddy runs as) in tenement.toml.

By default Caddy gets certificates on demand: at the first TLS handshake for
a name it asks tenement (GET ` + apitype.AskPath + `?domain=NAME on tenement's
listener on this host), which allows only the root domain,
{service}.{domain} of configured services, {id}.{service}.{domain} of
known instances and the custom domains bound to instances (ten domain add).
This needs no DNS API and no wildcard certificate; see docs/production.md.

With --dns-provider P, Caddy gets wildcard certificates (*.{domain} and
*.{service}.{domain} for each configured service) with the ACME DNS-01
challenge instead. That needs a Caddy built with the caddy-dns/P module
(Debian's caddy package has none) and the provider's API token in Caddy's
environment. Custom domains still get theirs on demand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.caddyDefaults(cmd, &o, port); err != nil {
				return err
			}
			text, err := renderCaddyfile(o)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err := a.Stdout.Write([]byte(text))
				return err
			}
			if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(output, []byte(text), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.Stderr, "wrote %s; check it with: caddy validate --config %s --adapter caddyfile\n", output, output)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Domain, "domain", "d", "", "root domain (default settings.domain)")
	f.IntVarP(&port, "port", "p", 0, "port of tenement's HTTP listener on this host, which Caddy asks about names (default the port of settings.listen, else 8080)")
	f.StringVarP(&output, "output", "o", "", "write the Caddyfile to this file instead of stdout")
	f.StringVar(&o.DNSProvider, "dns-provider", "", "Caddy DNS provider module for wildcard certificates, e.g. cloudflare (default settings.tls.dns_provider; none: on-demand certificates)")
	return cmd
}

// caddyDefaults fills what the flags left out from the config, if any.
func (a *app) caddyDefaults(cmd *cobra.Command, o *caddyOptions, port int) error {
	listen := config.DefaultListen
	if path := config.Find(a.ConfigPath); path != "" {
		cfg, err := config.Load(path)
		if err != nil {
			return err
		}
		listen = cfg.Settings.Listen
		o.Front = cfg.Settings.FrontListen
		if o.Front == "" {
			fmt.Fprintf(a.Stderr, "ten: warning: settings.front_listen is not set: set front_listen = \"unix:%s\" and front_group = \"caddy\" in %s, or tenement replaces Caddy's X-Forwarded-For with Caddy's own address\n", defaultFrontSocket, path)
		}
		if o.Domain == "" {
			o.Domain = cfg.Settings.Domain
		}
		if !cmd.Flags().Changed("dns-provider") {
			o.DNSProvider = cfg.Settings.TLS.DNSProvider
		}
		o.Email = cfg.Settings.TLS.ACMEEmail
		for name := range cfg.Services {
			o.Services = append(o.Services, name)
		}
		sort.Strings(o.Services)
		if cfg.Settings.TLS.Enabled {
			fmt.Fprintln(a.Stderr, "ten: warning: [settings.tls] is enabled: with Caddy in front, turn it off and let tenement listen on plain HTTP")
		}
	}
	if o.Domain == "" {
		o.Domain = config.DefaultDomain
	}
	if o.Front == "" {
		o.Front = "unix:" + defaultFrontSocket
	}
	o.Domain = strings.TrimSuffix(strings.ToLower(o.Domain), ".")
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("settings.listen %q: %w", listen, err)
	}
	if port > 0 {
		p = strconv.Itoa(port)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("--port %s: want 1–65535", p)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	o.Upstream = net.JoinHostPort(host, p)
	return nil
}

// defaultFrontSocket is the front socket ten caddy suggests.
const defaultFrontSocket = "/run/tenement/front.sock"

// caddyUpstream turns front_listen into Caddy's upstream address:
// "unix:/run/x.sock" is "unix//run/x.sock".
func caddyUpstream(front string) string {
	if p, ok := strings.CutPrefix(front, "unix:"); ok {
		return "unix/" + p
	}
	return front
}

// dnsTokens names the environment variable holding each DNS provider's
// API token (as in the original tenement); Caddy reads it with {env.VAR}.
var dnsTokens = map[string]string{
	"cloudflare":   "CF_API_TOKEN",
	"digitalocean": "DO_AUTH_TOKEN",
	"vultr":        "VULTR_API_KEY",
	"linode":       "LINODE_TOKEN",
	"gandi":        "GANDI_API_TOKEN",
	"namecheap":    "NAMECHEAP_API_KEY",
	"godaddy":      "GODADDY_API_KEY",
}

// renderCaddyfile returns the Caddyfile for o.
func renderCaddyfile(o caddyOptions) (string, error) {
	if o.Domain == "localhost" || !strings.Contains(o.Domain, ".") {
		return "", fmt.Errorf("domain %q: Caddy needs a public DNS name for certificates; pass --domain or set settings.domain", o.Domain)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Caddyfile for tenement, written by `ten caddy` (tenement %s).\n#\n", version)
	w("# Caddy terminates HTTPS for %s and the names under it, redirects HTTP to\n", o.Domain)
	w("# HTTPS, and passes every request, Host header unchanged, to tenement's front\n")
	w("# listener, the only one where tenement believes X-Forwarded-For and\n")
	w("# X-Forwarded-Proto (on the others, any tenant on this host could forge them).\n")
	w("# In tenement.toml, keep [settings.tls] off and set\n")
	w("#   front_listen = %q\n", o.Front)
	if strings.HasPrefix(o.Front, "unix:") {
		w("#   front_group = \"caddy\"   # the group Caddy runs as; never tenement (admin)\n")
	} else {
		w("# on an address only Caddy reaches (trusted_proxies narrows it to Caddy's).\n")
	}
	w("#\n")
	w("# Check: caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile\n")
	w("# Apply: systemctl reload caddy\n\n")
	if o.DNSProvider == "" {
		renderOnDemand(w, o)
	} else {
		renderDNS(w, o)
	}
	return b.String(), nil
}

func renderOnDemand(w func(string, ...any), o caddyOptions) {
	w("# Certificates on demand: at the first TLS handshake for a name, Caddy asks\n")
	w("# tenement whether it serves it. tenement says yes only for %s,\n", o.Domain)
	w("# {service}.%s of configured services, {id}.{service}.%s of\n", o.Domain, o.Domain)
	w("# known instances and the custom domains bound to instances (ten domain add),\n")
	w("# so nobody can make Caddy request certificates for names that tenement does\n")
	w("# not serve. No DNS API and no wildcard certificate are needed; DNS must point\n")
	w("# %s, *.%s and *.*.%s (or each name) here.\n", o.Domain, o.Domain, o.Domain)
	w("{\n")
	if o.Email != "" {
		w("\temail %s\n", o.Email)
	}
	renderAsk(w, o)
	w("}\n\n")
	w("%s, *.%s, *.*.%s {\n", o.Domain, o.Domain, o.Domain)
	w("\ttls {\n\t\ton_demand\n\t}\n")
	w("\treverse_proxy %s\n}\n", caddyUpstream(o.Front))
	renderCustomDomains(w, o)
}

// renderAsk writes the global on_demand_tls option: Caddy asks tenement's
// ask endpoint before it gets a certificate on demand.
func renderAsk(w func(string, ...any), o caddyOptions) {
	ask := o.Front
	if strings.HasPrefix(o.Front, "unix:") {
		w("\t# Over TCP on this host (Caddy's ask takes no unix socket): tenement\n")
		w("\t# answers it to loopback peers and on its front listener only.\n")
		ask = o.Upstream
	}
	w("\ton_demand_tls {\n\t\task http://%s%s\n\t}\n", ask, apitype.AskPath)
}

// renderCustomDomains writes the site of customers' own domains: every
// other name, with a certificate on demand, which the ask endpoint allows
// for bound domains only.
func renderCustomDomains(w func(string, ...any), o caddyOptions) {
	w("\n# Custom domains (ten domain add notes:alice notes.alice-corp.com): any other\n")
	w("# name, with a certificate on demand for the domains bound to instances.\n")
	w("https:// {\n")
	w("\ttls {\n\t\ton_demand\n\t}\n")
	w("\treverse_proxy %s\n}\n", caddyUpstream(o.Front))
}

func renderDNS(w func(string, ...any), o caddyOptions) {
	token := "{env.DNS_API_TOKEN}"
	switch v, ok := dnsTokens[o.DNSProvider]; {
	case ok:
		token = "{env." + v + "}"
	case o.DNSProvider == "route53":
		token = "" // reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY itself
	}
	w("# Wildcard certificates with the ACME DNS-01 challenge through %s.\n", o.DNSProvider)
	w("# This needs a Caddy built with the caddy-dns/%s module, e.g.\n", o.DNSProvider)
	w("#   xcaddy build --with github.com/caddy-dns/%s\n", o.DNSProvider)
	w("# (Debian's caddy package has no DNS modules), and the provider's API\n")
	if token != "" {
		w("# token in Caddy's environment (systemctl edit caddy: Environment=%s=...).\n", strings.TrimSuffix(strings.TrimPrefix(token, "{env."), "}"))
	} else {
		w("# credentials in Caddy's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).\n")
	}
	w("# A wildcard covers one label: every service needs its own *.{service} block;\n")
	w("# run ten caddy again after adding a service. Custom domains (ten domain add)\n")
	w("# get certificates on demand, for the names tenement says it serves.\n")
	w("{\n")
	if o.Email != "" {
		w("\temail %s\n", o.Email)
	}
	renderAsk(w, o)
	w("}\n")
	tlsBlock := fmt.Sprintf("\ttls {\n\t\tdns %s %s\n\t}\n", o.DNSProvider, token)
	tlsBlock = strings.Replace(tlsBlock, " \n", "\n", 1)
	block := func(sites string) {
		w("\n%s {\n%s\treverse_proxy %s\n}\n", sites, tlsBlock, caddyUpstream(o.Front))
	}
	block(fmt.Sprintf("%s, *.%s", o.Domain, o.Domain))
	for _, svc := range o.Services {
		block(fmt.Sprintf("*.%s.%s", svc, o.Domain))
	}
	renderCustomDomains(w, o)
}
