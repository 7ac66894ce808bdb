package config

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of [fleet].
const (
	DefaultFleetCluster  = "default"
	DefaultFleetCapacity = 1000
	// DefaultFleetSecretFile is the fleet's shared secret, relative to
	// the config file.
	DefaultFleetSecretFile = "fleet.secret"
)

// Fleet is the [fleet] table: this host is one of several coordinated
// through etcd (SPEC §12). Without the table the daemon is one host on its
// own, as before.
type Fleet struct {
	// Endpoints are etcd's client URLs, e.g. "http://10.0.0.5:2379"
	// (https:// with the TLS keys below). Required.
	Endpoints []string `toml:"endpoints" json:"endpoints"`
	// Cluster names the fleet: its keys live under /tenement/<cluster>/
	// in etcd, so several fleets may share one etcd. A DNS label.
	// Default "default".
	Cluster string `toml:"cluster" json:"cluster"`
	// Host is this host's name in the fleet, a DNS label. Default: the
	// machine's hostname, lowercased, up to its first dot.
	Host string `toml:"host" json:"host"`
	// Advertise is where the other hosts reach this host's HTTP listener,
	// host:port (not loopback). Default: settings.listen when it names a
	// specific address; otherwise required.
	Advertise string `toml:"advertise" json:"advertise"`
	// Capacity is how many instances may be placed on this host; a new
	// instance goes to the live host with the most free room. Default 1000.
	Capacity int `toml:"capacity" json:"capacity"`
	// LeaseTTL is the lease of this host's key in etcd: the other hosts
	// see this one gone this long after it stops renewing it (at least
	// 2s). Default 10s.
	LeaseTTL Duration `toml:"lease_ttl" json:"lease_ttl"`
	// WriteTimeout bounds each write to etcd (a placement, a move, a
	// token); past it the write fails as unavailable. Default 2s.
	WriteTimeout Duration `toml:"write_timeout" json:"write_timeout"`
	// CAFile is a PEM file of the CAs to trust for https:// endpoints;
	// relative to the config file. Default: the system's roots.
	CAFile string `toml:"ca_file" json:"ca_file"`
	// CertFile and KeyFile are this host's client certificate and key for
	// etcd (both or neither); relative to the config file. Default: none.
	CertFile string `toml:"cert_file" json:"cert_file"`
	KeyFile  string `toml:"key_file" json:"key_file"`
	// SecretFile holds the secret every host of the fleet shares (the same
	// file on each, at least 32 characters, readable by root only): a
	// host proves with it that a forwarded request or an API call comes
	// from a peer. Relative to the config file. Default "fleet.secret"
	// (/etc/tenement/fleet.secret); the daemon refuses to start without it.
	SecretFile string `toml:"secret_file" json:"secret_file"`
}

// setDefaults fills [fleet]'s defaults; hostname gives the machine's name.
func (f *Fleet) setDefaults(hostname func() (string, error)) {
	setStr(&f.Cluster, DefaultFleetCluster)
	if f.Host == "" {
		if h, err := hostname(); err == nil {
			f.Host, _, _ = strings.Cut(strings.ToLower(h), ".")
		}
	}
	setInt(&f.Capacity, DefaultFleetCapacity)
	setStr(&f.SecretFile, DefaultFleetSecretFile)
	setDur(&f.LeaseTTL, 10*time.Second)
	setDur(&f.WriteTimeout, 2*time.Second)
}

// validate checks [fleet] against settings.listen and resolves its paths.
func (f *Fleet) validate(p *problems, listen, cfgPath string) {
	const key = "fleet."
	if len(f.Endpoints) == 0 {
		p.add(key+"endpoints", "missing: list etcd's client URLs, e.g. [\"http://10.0.0.5:2379\"]")
	}
	tls := f.CAFile != "" || f.CertFile != "" || f.KeyFile != ""
	for i, e := range f.Endpoints {
		u, err := url.Parse(e)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/"):
			p.add(key+"endpoints", "%q: want a URL such as \"http://10.0.0.5:2379\"", e)
		case u.Scheme == "http" && tls:
			p.add(key+"endpoints", "%q is plain http, but the TLS keys are set: use https://", f.Endpoints[i])
		}
	}
	for _, v := range []struct{ name, s string }{{"cluster", f.Cluster}, {"host", f.Host}} {
		if !dnsLabel.MatchString(v.s) {
			p.add(key+v.name, "%q: want a DNS label (1–63 lowercase letters, digits and \"-\")", v.s)
		}
	}
	f.validateAdvertise(p, listen)
	if f.Capacity < 1 {
		p.add(key+"capacity", "%d: want at least 1", f.Capacity)
	}
	if f.LeaseTTL.D() < 2*time.Second || f.LeaseTTL.D()%time.Second != 0 {
		p.add(key+"lease_ttl", "%v: want whole seconds, at least 2s (etcd leases count seconds)", f.LeaseTTL)
	}
	if f.WriteTimeout.D() < 100*time.Millisecond {
		p.add(key+"write_timeout", "%v is too short; want at least 100ms", f.WriteTimeout)
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		p.add(key+"cert_file", "cert_file and key_file go together: set both or neither")
	}
	if cfgPath != "" {
		f.CAFile, f.CertFile, f.KeyFile = resolve(cfgPath, f.CAFile), resolve(cfgPath, f.CertFile), resolve(cfgPath, f.KeyFile)
		f.SecretFile = resolve(cfgPath, f.SecretFile)
	}
}

// validateAdvertise fills Advertise from listen when listen names an
// address, and checks that peers can reach it.
func (f *Fleet) validateAdvertise(p *problems, listen string) {
	const key = "fleet.advertise"
	if f.Advertise == "" {
		host, _, err := net.SplitHostPort(listen)
		if a, perr := netip.ParseAddr(host); err != nil || perr != nil || a.IsUnspecified() || a.IsLoopback() {
			p.add(key, "missing: settings.listen %q names no address the other hosts can reach; set advertise = \"HOST:PORT\"", listen)
			return
		}
		f.Advertise = listen
	}
	host, port, err := net.SplitHostPort(f.Advertise)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		p.add(key, "%q: want host:port, e.g. \"10.0.0.5:8080\"", f.Advertise)
		return
	}
	if a, err := netip.ParseAddr(host); err == nil && (a.IsLoopback() || a.IsUnspecified()) {
		p.add(key, "%q: the other hosts cannot reach a loopback or wildcard address", f.Advertise)
	}
	if host == "localhost" {
		p.add(key, "%q: the other hosts cannot reach localhost", f.Advertise)
	}
}

// hostname is how [fleet] finds the machine's name (a variable for tests).
var hostname = os.Hostname
