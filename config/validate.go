package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/names"
)

// setDefaults fills every unset field with its documented default. A key
// the file sets keeps its value even when it is zero (defined tells): zero
// means zero where it is allowed (max_restarts = 0: no restarts), and is
// rejected by zeroes where it is not.
func (c *Config) setDefaults(defined func(key ...string) bool) {
	s := &c.Settings
	setStr(&s.DataDir, DefaultDataDir)
	setStr(&s.Domain, DefaultDomain)
	setStr(&s.Listen, DefaultListen)
	setStr(&s.APISocket, DefaultAPISocket)
	setDur(&s.HealthCheckInterval, 10*time.Second)
	if !defined("settings", "max_restarts") {
		s.MaxRestarts = 3
	}
	setDur(&s.RestartWindow, 300*time.Second)
	setInt(&s.BackoffBaseMS, 1000)
	setInt(&s.BackoffMaxMS, 60000)
	setStr(&s.PortRange, DefaultPortRange)
	setStr(&s.LogLevel, "info")
	setStr(&s.APIOverHTTP, APIOverHTTPLoopback)
	setStr(&s.CredentialsDir, DefaultCredentialsDir)
	setDur(&s.ClientIdleTimeout, 60*time.Second)
	setDur(&s.ClientHeaderTimeout, 10*time.Second)
	setInt(&s.MaxHeaderBytes, 64<<10)
	setInt(&s.AuditMaxEntries, DefaultAuditMaxEntries)
	s.TLS.setDefaults()
	if c.Fleet != nil {
		c.Fleet.setDefaults(hostname)
	}
	s.Domain = strings.TrimSuffix(strings.ToLower(s.Domain), ".")
	if c.Services == nil {
		c.Services = map[string]*Service{}
	}
	if c.Instances == nil {
		c.Instances = map[string][]string{}
	}
	for name, svc := range c.Services {
		if svc == nil {
			continue
		}
		setStr(&svc.Isolation, IsolationNamespace)
		setStr(&svc.Activation, ActivationProxy)
		setStr(&svc.Network, NetworkHost)
		setStr(&svc.Restart, RestartOnFailure)
		setStr(&svc.Wake, WakeHold)
		setStr(&svc.IdleAction, IdleStop)
		setInt(&svc.ThrottleCPUPercent, 5)
		if !defined("service", name, "cpu_shares") {
			svc.CPUShares = 100
		}
		if svc.Health != "" {
			setStr(&svc.Ready, ReadyHealth)
		}
		setStr(&svc.Ready, ReadyTCP)
		setDur(&svc.StartupTimeout, 10*time.Second)
		setDur(&svc.RequestTimeout, 30*time.Second)
		setDur(&svc.WakeTimeout, svc.StartupTimeout.D())
		setDur(&svc.StopTimeout, 10*time.Second)
		setStr(&svc.Socket, "{data_dir}/{name}/{id}/app.sock")
		if svc.StoragePersist == nil {
			t := true
			svc.StoragePersist = &t
		}
		if svc.TasksMax == nil {
			n := defaultTasksMax
			svc.TasksMax = &n
		}
		if svc.Env == nil {
			svc.Env = map[string]string{}
		}
	}
}

// zeroes returns an error for each key the file sets to 0 where 0 is not a
// value (a timeout, an interval, a delay): it would otherwise quietly mean
// the default.
func zeroes(c *Config, defined func(key ...string) bool, file string, loc *locator) Errors {
	var errs Errors
	add := func(key string, path ...string) {
		if defined(path...) {
			errs = append(errs, &Error{File: file, Line: loc.line(key), Key: key,
				Msg: "0 is not allowed: want a positive value, or leave the key out for its default"})
		}
	}
	s := &c.Settings
	for _, k := range []struct {
		name string
		zero bool
	}{
		{"health_check_interval", s.HealthCheckInterval == 0},
		{"restart_window", s.RestartWindow == 0},
		{"backoff_base_ms", s.BackoffBaseMS == 0},
		{"backoff_max_ms", s.BackoffMaxMS == 0},
	} {
		if k.zero {
			add("settings."+k.name, "settings", k.name)
		}
	}
	if f := c.Fleet; f != nil {
		for _, k := range []struct {
			name string
			zero bool
		}{{"capacity", f.Capacity == 0}, {"lease_ttl", f.LeaseTTL == 0}, {"write_timeout", f.WriteTimeout == 0}} {
			if k.zero {
				add("fleet."+k.name, "fleet", k.name)
			}
		}
	}
	for name, svc := range c.Services {
		if svc == nil {
			continue
		}
		for _, k := range []struct {
			name string
			zero bool
		}{
			{"startup_timeout", svc.StartupTimeout == 0},
			{"request_timeout", svc.RequestTimeout == 0},
			{"wake_timeout", svc.WakeTimeout == 0},
			{"stop_timeout", svc.StopTimeout == 0},
		} {
			if k.zero {
				add("service."+name+"."+k.name, "service", name, k.name)
			}
		}
	}
	return errs
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setDur(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}

// problems collects validation errors for one config.
type problems []*Error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// validate checks every value and derives the parsed forms. It returns the
// problems without file or line; Parse adds those.
func (c *Config) validate() []*Error {
	var p problems
	c.Settings.validate(&p)
	if c.Path != "" {
		c.Settings.DataDir = resolve(c.Path, c.Settings.DataDir)
	}
	c.Settings.TLS.validate(&p, c.Settings.DataDir, c.Settings.Domain, c.Path)
	if c.Fleet != nil {
		c.Fleet.validate(&p, c.Settings.Listen, c.Path)
	}
	for _, name := range c.serviceNames() {
		key := "service." + name
		if err := names.ValidateService(name); err != nil {
			p.add(key, "%s", strings.TrimPrefix(err.Error(), "invalid argument: "))
			continue
		}
		svc := c.Services[name]
		if svc == nil {
			p.add(key, "empty service")
			continue
		}
		svc.validate(&p, key, c.Path)
	}
	c.validateInstances(&p)
	return p
}

func (s *Settings) validate(p *problems) {
	if strings.HasPrefix(s.DataDir, "~") {
		p.add("settings.data_dir", "%q: \"~\" is not expanded; write the full path", s.DataDir)
	}
	if err := validDomain(s.Domain); err != nil {
		p.add("settings.domain", "%v", err)
	}
	if _, port, err := net.SplitHostPort(s.Listen); err != nil {
		p.add("settings.listen", "%q: want host:port, e.g. \":8080\" or \"127.0.0.1:8080\"", s.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add("settings.listen", "%q: invalid port", s.Listen)
	}
	if !filepath.IsAbs(s.APISocket) {
		p.add("settings.api_socket", "%q: want an absolute path", s.APISocket)
	}
	if s.HealthCheckInterval.D() < 100*time.Millisecond {
		p.add("settings.health_check_interval", "%v is too short; want at least 100ms", s.HealthCheckInterval)
	}
	if s.MaxRestarts < 0 {
		p.add("settings.max_restarts", "%d: want 0 or more", s.MaxRestarts)
	}
	if s.BackoffBaseMS < 0 {
		p.add("settings.backoff_base_ms", "%d: want 0 or more", s.BackoffBaseMS)
	}
	if s.BackoffMaxMS < s.BackoffBaseMS {
		p.add("settings.backoff_max_ms", "%d is less than backoff_base_ms (%d)", s.BackoffMaxMS, s.BackoffBaseMS)
	}
	lo, hi, err := parsePortRange(s.PortRange)
	if err != nil {
		p.add("settings.port_range", "%v", err)
	}
	s.portLow, s.portHigh = lo, hi
	s.trusted = s.trusted[:0]
	for i, t := range s.TrustedProxies {
		key := fmt.Sprintf("settings.trusted_proxies[%d]", i)
		pfx, err := parsePrefix(t)
		if err != nil {
			p.add(key, "%q: want an IP address or CIDR prefix", t)
			continue
		}
		if pfx.Addr().IsLoopback() || pfx.Contains(netip.IPv6Loopback()) || pfx.Contains(netip.AddrFrom4([4]byte{127, 0, 0, 1})) {
			p.add(key, "%q: every tenant on this host can connect from a loopback address and would be believed; put the front proxy on front_listen = \"unix:/run/tenement/front.sock\" instead", t)
			continue
		}
		s.trusted = append(s.trusted, pfx)
	}
	if len(s.TrustedProxies) > 0 && s.FrontListen == "" {
		p.add("settings.trusted_proxies", "forwarding headers are believed only on front_listen; set front_listen (a unix socket, or an address only the front proxy reaches)")
	}
	s.validateFront(p)
	if s.APIOverHTTP != APIOverHTTPLoopback && s.APIOverHTTP != APIOverHTTPAny {
		p.add("settings.api_over_http", "%q: want \"loopback\" (the API and dashboard over plain HTTP to loopback peers and front_listen only) or \"any\"", s.APIOverHTTP)
	}
	if !filepath.IsAbs(s.CredentialsDir) {
		p.add("settings.credentials_dir", "%q: want an absolute path", s.CredentialsDir)
	}
	if s.ClientIdleTimeout.D() < time.Second {
		p.add("settings.client_idle_timeout", "%v is too short; want at least 1s", s.ClientIdleTimeout)
	}
	if s.ClientHeaderTimeout.D() < 100*time.Millisecond {
		p.add("settings.client_header_timeout", "%v is too short; want at least 100ms", s.ClientHeaderTimeout)
	}
	if s.MaxHeaderBytes < 4096 {
		p.add("settings.max_header_bytes", "%d: want at least 4096", s.MaxHeaderBytes)
	}
	for _, v := range []struct {
		key string
		n   int
	}{
		{"max_conns_per_client", s.ConnsPerClient()},
		{"spawn_per_client_per_minute", s.SpawnsPerClient()},
		{"api_writes_per_minute", s.APIWrites()},
		{"max_domains_per_instance", s.DomainsPerInstance()},
	} {
		if v.n < 0 {
			p.add("settings."+v.key, "%d: want 0 (no limit) or more", v.n)
		}
	}
	if s.AuditMaxEntries < 100 {
		p.add("settings.audit_max_entries", "%d: want at least 100", s.AuditMaxEntries)
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.add("settings.log_level", "%q: want debug, info, warn or error", s.LogLevel)
	}
}

func (s *Service) validate(p *problems, key, cfgPath string) {
	if strings.TrimSpace(s.Command) == "" {
		p.add(key+".command", "missing: every service needs a command")
	} else if _, err := splitCommand(s.Command, s.Args); err != nil {
		p.add(key+".command", "%v", err)
	}
	if s.Health != "" && (!strings.HasPrefix(s.Health, "/") || strings.IndexFunc(s.Health, notURIChar) >= 0) {
		p.add(key+".health", "%q: want a path starting with \"/\", without spaces or control characters (escape them: %%20)", s.Health)
	}
	oneOf(p, key+".isolation", s.Isolation, IsolationProcess, IsolationNamespace, IsolationSandbox)
	oneOf(p, key+".ready", s.Ready, ReadyHealth, ReadyNotify, ReadyTCP)
	oneOf(p, key+".activation", s.Activation, ActivationProxy, ActivationSocket)
	oneOf(p, key+".network", s.Network, NetworkHost, NetworkPrivate)
	oneOf(p, key+".restart", s.Restart, RestartAlways, RestartOnFailure, RestartNever)
	if s.Ready == ReadyHealth && s.Health == "" {
		p.add(key+".ready", "\"health\" needs a health path")
	}
	if s.Network == NetworkPrivate && s.Activation != ActivationSocket {
		p.add(key+".network", "\"private\" needs activation = \"socket\": the tenant then serves through the socket systemd hands it")
	}
	if s.Isolation == IsolationSandbox && s.Activation == ActivationSocket {
		p.add(key+".activation", "\"socket\" does not work with isolation = \"sandbox\": gVisor's runsc does not hand systemd's socket to the app; use activation = \"proxy\" or isolation = \"namespace\"")
	}
	if s.Isolation == IsolationSandbox && s.Ready == ReadyNotify {
		p.add(key+".ready", "\"notify\" does not work with isolation = \"sandbox\": READY=1 cannot reach systemd from inside gVisor; use \"health\" or \"tcp\"")
	}
	if s.MemoryLimitMB < 0 {
		p.add(key+".memory_limit_mb", "%d: want 0 (no limit) or more", s.MemoryLimitMB)
	}
	if s.CPUShares < 1 || s.CPUShares > 10000 {
		p.add(key+".cpu_shares", "%d: want 1–10000 (100 is normal)", s.CPUShares)
	}
	if s.Tasks() < 0 {
		p.add(key+".tasks_max", "%d: want 0 (systemd's default) or more", s.Tasks())
	}
	s.validatePolicy(p, key)
	if s.MaxInstances < 0 {
		p.add(key+".max_instances", "%d: want 0 (no limit) or more", s.MaxInstances)
	}
	if s.StorageQuotaMB < 0 {
		p.add(key+".storage_quota_mb", "%d: want 0 (none) or more", s.StorageQuotaMB)
	}
	if s.StartupTimeout == 0 || s.RequestTimeout == 0 || s.StopTimeout == 0 || s.WakeTimeout == 0 {
		p.add(key, "timeouts must be positive")
	}
	if s.User != "" && s.Isolation != IsolationProcess {
		p.add(key+".user", "only for isolation = \"process\": %s gives every instance its own user", s.Isolation)
	}
	if s.User != "" && !validUser.MatchString(s.User) {
		p.add(key+".user", "%q is not a valid user name", s.User)
	}
	if s.Workdir != "" && cfgPath != "" {
		s.Workdir = resolve(cfgPath, s.Workdir)
	}
	if !strings.HasPrefix(Vars{DataDir: "/"}.Expand(s.Socket), "/") {
		p.add(key+".socket", "%q: want an absolute path (templates {name} {id} {data_dir})", s.Socket)
	}
	envKeys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	for _, k := range envKeys {
		switch {
		case !validEnv.MatchString(k):
			p.add(key+".env."+k, "not a valid environment variable name")
		case reservedEnv[k] != "":
			p.add(key+".env."+k, "tenement sets %s (%s); remove it", k, reservedEnv[k])
		case strings.ContainsRune(s.Env[k], 0):
			p.add(key+".env."+k, "value contains a NUL byte")
		}
	}
}

func (c *Config) validateInstances(p *problems) {
	svcs := make([]string, 0, len(c.Instances))
	for svc := range c.Instances {
		svcs = append(svcs, svc)
	}
	sort.Strings(svcs)
	for _, svc := range svcs {
		key := "instances." + svc
		if _, ok := c.Services[svc]; !ok {
			p.add(key, "no [service.%s] is defined", svc)
			continue
		}
		seen := map[string]bool{}
		for _, id := range c.Instances[svc] {
			if err := names.ValidateID(id); err != nil {
				p.add(key, "%s", strings.TrimPrefix(err.Error(), "invalid argument: "))
			} else if seen[id] {
				p.add(key, "%q is listed twice", id)
			}
			seen[id] = true
		}
	}
}

func oneOf(p *problems, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	p.add(key, "invalid value %q: want %s", v, strings.Join(quoted, ", "))
}

// reservedEnv are the variables tenement sets for every instance.
var reservedEnv = map[string]string{
	"PORT":                "the instance's port",
	"DATA_DIR":            "the instance's data dir, {data_dir}/{name}/{id}",
	"SOCKET_PATH":         "from the socket key",
	"TENEMENT_SERVICE":    "the service name",
	"TENEMENT_ID":         "the instance id",
	"TENEMENT_DAEMON":     "the daemon's marker",
	"TENEMENT_RUN_CONFIG": "the fingerprint of the config the unit runs with",
	"LISTEN_FDS":          "systemd's socket activation",
	"LISTEN_PID":          "systemd's socket activation",
	"LISTEN_FDNAMES":      "systemd's socket activation",
	"NOTIFY_SOCKET":       "systemd's readiness protocol",
}

var (
	validEnv  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	validUser = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,30}\$?$`)
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

func validDomain(d string) error {
	if d == "" || len(d) > 253 {
		return fmt.Errorf("%q: want a DNS name such as example.com", d)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return fmt.Errorf("%q is an IP address: want a DNS name such as example.com ({id}.{service}.{domain} must be names; for a quick try use localhost)", d)
	}
	for _, l := range strings.Split(d, ".") {
		if !dnsLabel.MatchString(l) {
			return fmt.Errorf("%q: label %q is not a DNS label", d, l)
		}
	}
	return nil
}

func parsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		lo, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			hi, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q: want \"LOW-HIGH\", e.g. \"20000-29999\"", s)
	}
	if lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q: want 1024 <= LOW <= HIGH <= 65535", s)
	}
	return lo, hi, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// resolve makes p absolute relative to the directory of the config file.
func resolve(cfgPath, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(cfgPath), p)
}

// Override applies `ten serve` flags: a port for settings.listen (when >
// 0) and a domain (when not empty), validating both.
func (c *Config) Override(port int, domain string) error {
	if port > 0 {
		if port > 65535 {
			return &Error{Key: "--port", Msg: fmt.Sprintf("%d: want 1–65535", port)}
		}
		host, _, _ := net.SplitHostPort(c.Settings.Listen)
		c.Settings.Listen = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if domain != "" {
		d := strings.TrimSuffix(strings.ToLower(domain), ".")
		if err := validDomain(d); err != nil {
			return &Error{Key: "--domain", Msg: err.Error()}
		}
		c.Settings.Domain = d
	}
	return nil
}

// Warnings returns what is valid but unsafe, one line each with the file,
// line (when known) and key, for `ten config check` and the daemon's log.
func (c *Config) Warnings() []*Error {
	var p problems
	for _, name := range c.serviceNames() {
		svc := c.Services[name]
		if svc.Isolation == IsolationProcess && (svc.User == "" || svc.User == "root") {
			p.add("service."+name+".isolation", "\"process\" without user runs every tenant as root: a tenant can then read every other tenant's data and is admin on the API socket; use isolation = \"namespace\" or set user")
		}
	}
	for _, e := range p {
		e.File = c.Path
		if c.loc != nil {
			e.Line = c.loc.line(e.Key)
		}
	}
	return p
}

// serviceNames returns the configured services' names, sorted.
func (c *Config) serviceNames() []string {
	out := make([]string, 0, len(c.Services))
	for name := range c.Services {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// notURIChar reports a character that may not appear unescaped in a
// request line: spaces, control characters and non-ASCII.
func notURIChar(r rune) bool { return r <= ' ' || r >= 0x7f }
