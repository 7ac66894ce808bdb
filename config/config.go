// Package config loads tenement.toml.
//
// Loading is strict: the file is decoded with BurntSushi/toml, every key the
// file holds must be one this package knows, every value must have the right
// type, then defaults are filled in and Validate checks every value, all
// before anything starts. Errors name the file, the line (where it can be
// found) and the key, on one line.
//
// The keys are compatible with the original tenement's (see
// docs/configuration.md, which documents every key and its default); keys the
// original parsed but ignored either work here or are rejected with a reason.
package config

import (
	"net/netip"
	"regexp"
)

// Default paths and values. Every field's comment names its default too.
const (
	DefaultPath      = "/etc/tenement/tenement.toml"
	DefaultDataDir   = "/var/lib/tenement"
	DefaultAPISocket = "/run/tenement/api.sock"
	DefaultListen    = ":8080"
	DefaultDomain    = "localhost"
	DefaultPortRange = "20000-29999"
)

// Isolation levels (docs/isolation.md).
const (
	IsolationProcess   = "process"
	IsolationNamespace = "namespace"
	IsolationSandbox   = "sandbox"
)

// Readiness checks: how a start knows the app is up (docs/configuration.md).
const (
	ReadyHealth = "health"
	ReadyNotify = "notify"
	ReadyTCP    = "tcp"
)

// Activation modes.
const (
	ActivationProxy  = "proxy"
	ActivationSocket = "socket"
)

// Network modes.
const (
	NetworkHost    = "host"
	NetworkPrivate = "private"
)

// Who may use the API and dashboard over plain HTTP (api_over_http).
const (
	APIOverHTTPLoopback = "loopback"
	APIOverHTTPAny      = "any"
)

// Restart policies.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNever     = "never"
)

// Config is a loaded, defaulted and validated tenement.toml.
type Config struct {
	Settings Settings `toml:"settings" json:"settings"`
	// Services maps a service name to its template ([service.NAME]).
	Services map[string]*Service `toml:"service" json:"service"`
	// Instances lists the instances to start when the daemon starts
	// ([instances] NAME = ["id", ...]). Default: none.
	Instances map[string][]string `toml:"instances" json:"instances"`
	// Fleet is [fleet]: this host is one of several coordinated through
	// etcd (fleet.go). Default: none (one host on its own).
	Fleet *Fleet `toml:"fleet" json:"fleet,omitempty"`

	// Path is the file the config came from; empty for built-in defaults.
	Path string `toml:"-" json:"-"`

	loc *locator // where each key is in the file, for Warnings
}

// Settings is the [settings] table.
type Settings struct {
	// DataDir holds the store and one directory per instance,
	// {data_dir}/{service}/{id}. Default /var/lib/tenement.
	DataDir string `toml:"data_dir" json:"data_dir"`
	// Domain is the root domain: {id}.{service}.{domain} reaches an
	// instance. Default "localhost".
	Domain string `toml:"domain" json:"domain"`
	// Listen is the HTTP listener's address, host:port. Default ":8080".
	Listen string `toml:"listen" json:"listen"`
	// APISocket is the local management API socket.
	// Default /run/tenement/api.sock.
	APISocket string `toml:"api_socket" json:"api_socket"`
	// HealthCheckInterval is the time between health checks. Default 10s.
	HealthCheckInterval Duration `toml:"health_check_interval" json:"health_check_interval"`
	// MaxRestarts is how many restarts within RestartWindow are allowed
	// before an instance is marked failed. Default 3.
	MaxRestarts int `toml:"max_restarts" json:"max_restarts"`
	// RestartWindow is the sliding window for MaxRestarts. Default 300s.
	RestartWindow Duration `toml:"restart_window" json:"restart_window"`
	// BackoffBaseMS is the first health-restart delay in milliseconds; it
	// doubles with every further restart in the window. Default 1000.
	BackoffBaseMS int `toml:"backoff_base_ms" json:"backoff_base_ms"`
	// BackoffMaxMS caps the health-restart delay. Default 60000.
	BackoffMaxMS int `toml:"backoff_max_ms" json:"backoff_max_ms"`
	// PortRange is the inclusive range tenant ports come from, "LOW-HIGH".
	// Default "20000-29999" (below the kernel's ephemeral range).
	PortRange string `toml:"port_range" json:"port_range"`
	// TrustedProxies narrows FrontListen to these peers (addresses or CIDR
	// prefixes): only they may send forwarding headers there. Loopback
	// addresses are refused (every tenant can connect from them). Default:
	// none (any peer of FrontListen).
	TrustedProxies []string `toml:"trusted_proxies" json:"trusted_proxies"`
	// FrontListen is the listener meant for a front proxy (Caddy, a load
	// balancer): "unix:/path" or "host:port" (not a loopback address).
	// Only requests that arrive on it keep their X-Forwarded-For and
	// X-Forwarded-Proto. Default: none.
	FrontListen string `toml:"front_listen" json:"front_listen"`
	// FrontGroup is the group of FrontListen's unix socket (mode 0660),
	// e.g. "caddy". Default: none (root only, mode 0600).
	FrontGroup string `toml:"front_group" json:"front_group"`
	// APIOverHTTP is who may use the root domain's API and dashboard over
	// plain HTTP (the listener of Listen, without [settings.tls]):
	// "loopback" (loopback peers, and the front proxy on FrontListen) or
	// "any" (every peer; bearer tokens then cross the network in clear
	// text). HTTPS and the API socket are not affected.
	// Default "loopback".
	APIOverHTTP string `toml:"api_over_http" json:"api_over_http"`
	// CredentialsDir holds the systemd credentials of instances:
	// {credentials_dir}/{service}/NAME for every instance of a service and
	// {credentials_dir}/{service}/{id}/NAME for one (which wins). Root
	// only. Default /etc/tenement/credentials.
	CredentialsDir string `toml:"credentials_dir" json:"credentials_dir"`
	// ClientIdleTimeout closes a public listener's keep-alive connection
	// idle this long. Default 60s.
	ClientIdleTimeout Duration `toml:"client_idle_timeout" json:"client_idle_timeout"`
	// ClientHeaderTimeout bounds how long a client may take to send a
	// request's headers. Default 10s.
	ClientHeaderTimeout Duration `toml:"client_header_timeout" json:"client_header_timeout"`
	// MaxHeaderBytes bounds a request's headers. Default 65536.
	MaxHeaderBytes int `toml:"max_header_bytes" json:"max_header_bytes"`
	// MaxConnsPerClient bounds the open connections of one client address
	// on the public listeners; more are closed at once. 0 means no limit.
	// Default 256.
	MaxConnsPerClient *int `toml:"max_conns_per_client" json:"max_conns_per_client"`
	// SpawnPerClientPerMinute bounds how many instances requests from one
	// client address may create per minute (spawn_on_request). Default 10.
	SpawnPerClientPerMinute *int `toml:"spawn_per_client_per_minute" json:"spawn_per_client_per_minute"`
	// AuditMaxEntries is how many audit entries are kept; older ones are
	// dropped. Default 100000.
	AuditMaxEntries int `toml:"audit_max_entries" json:"audit_max_entries"`
	// APIWritesPerMinute bounds each token's (and each local user's)
	// changing API calls per minute; more get 429. 0 means no limit.
	// Default 120.
	APIWritesPerMinute *int `toml:"api_writes_per_minute" json:"api_writes_per_minute"`
	// MaxDomainsPerInstance bounds the custom domains bound to one
	// instance (ten domain add). 0 means no limit. Default 20.
	MaxDomainsPerInstance *int `toml:"max_domains_per_instance" json:"max_domains_per_instance"`
	// LogLevel is the daemon's log level: debug, info, warn or error.
	// Default "info".
	LogLevel string `toml:"log_level" json:"log_level"`
	// TLS is [settings.tls]: HTTPS with ACME certificates (tls.go).
	// Default: off.
	TLS TLS `toml:"tls" json:"tls"`

	// Derived by Validate.
	portLow, portHigh int
	trusted           []netip.Prefix
}

// Limits of one client and one token.
const (
	DefaultMaxConnsPerClient       = 256
	DefaultSpawnPerClientPerMinute = 10
	DefaultAPIWritesPerMinute      = 120
	DefaultAuditMaxEntries         = 100000
	DefaultMaxDomainsPerInstance   = 20
	DefaultCredentialsDir          = "/etc/tenement/credentials"
)

// ConnsPerClient returns MaxConnsPerClient (0: no limit).
func (s *Settings) ConnsPerClient() int { return deref(s.MaxConnsPerClient, DefaultMaxConnsPerClient) }

// SpawnsPerClient returns SpawnPerClientPerMinute (0: no limit).
func (s *Settings) SpawnsPerClient() int {
	return deref(s.SpawnPerClientPerMinute, DefaultSpawnPerClientPerMinute)
}

// APIWrites returns APIWritesPerMinute (0: no limit).
func (s *Settings) APIWrites() int { return deref(s.APIWritesPerMinute, DefaultAPIWritesPerMinute) }

// DomainsPerInstance returns MaxDomainsPerInstance (0: no limit).
func (s *Settings) DomainsPerInstance() int {
	return deref(s.MaxDomainsPerInstance, DefaultMaxDomainsPerInstance)
}

func deref(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// Service is one [service.NAME] table: the template every instance of the
// service is started from.
type Service struct {
	// Command is the program to run, with arguments when Args is empty
	// (then it is split like a shell would). Templates {name} {id}
	// {data_dir} {port} {socket} are replaced. Required.
	Command string `toml:"command" json:"command"`
	// Args are explicit arguments; when set, Command is not split.
	// Templates are replaced in each. Default: none.
	Args []string `toml:"args" json:"args"`
	// Health is the HTTP path polled for health, e.g. "/health"; only 2xx
	// is healthy. Default: none (a TCP connect is the health check).
	Health string `toml:"health" json:"health"`
	// Ready is how readiness is decided: "health", "notify" (the app sends
	// READY=1) or "tcp". Default "health" when Health is set, else "tcp".
	Ready string `toml:"ready" json:"ready"`
	// Activation is "proxy" (tenement starts the unit and holds requests)
	// or "socket" (systemd holds the listening socket). Default "proxy".
	Activation string `toml:"activation" json:"activation"`
	// Network is "host" or "private" (only loopback; needs socket
	// activation). Default "host".
	Network string `toml:"network" json:"network"`
	// Isolation is "process", "namespace" or "sandbox". Default "namespace".
	Isolation string `toml:"isolation" json:"isolation"`
	// IdleTimeout stops an instance that had no request for this long;
	// 0 never stops it. Default 0.
	IdleTimeout Duration `toml:"idle_timeout" json:"idle_timeout"`
	// StartupTimeout bounds how long a spawn waits for readiness.
	// Default 10s.
	StartupTimeout Duration `toml:"startup_timeout" json:"startup_timeout"`
	// RequestTimeout bounds a proxied request until its response headers;
	// then 504. Default 30s.
	RequestTimeout Duration `toml:"request_timeout" json:"request_timeout"`
	// WakeTimeout bounds how long a request waits for an asleep instance;
	// then 503. Default: StartupTimeout.
	WakeTimeout Duration `toml:"wake_timeout" json:"wake_timeout"`
	// StopTimeout is the time between SIGTERM and SIGKILL on stop.
	// Default 10s.
	StopTimeout Duration `toml:"stop_timeout" json:"stop_timeout"`
	// Restart is the crash restart policy: "always", "on-failure" or
	// "never". Default "on-failure".
	Restart string `toml:"restart" json:"restart"`
	// StoragePersist keeps the data dir when the instance stops; false
	// empties it on every stop. Default true.
	StoragePersist *bool `toml:"storage_persist" json:"storage_persist"`
	// MemoryLimitMB is MemoryMax in MiB; 0 means no limit. Default 0.
	MemoryLimitMB int `toml:"memory_limit_mb" json:"memory_limit_mb"`
	// CPUShares is CPUWeight, 1–10000 (100 is normal). Every tenant gets
	// one, so each is its own CPU group and a tenant's many busy tasks
	// cannot starve a neighbour's few. Default 100.
	CPUShares int `toml:"cpu_shares" json:"cpu_shares"`
	// TasksMax limits processes and threads; 0 means systemd's default.
	// Default 512.
	TasksMax *int `toml:"tasks_max" json:"tasks_max"`
	// StorageQuotaMB is a soft quota on the data dir in MiB; 0 means none.
	// Default 0.
	StorageQuotaMB int `toml:"storage_quota_mb" json:"storage_quota_mb"`
	// Workdir is the working directory (relative commands resolve against
	// the config file's directory, not this one). Default: the instance's
	// data dir.
	Workdir string `toml:"workdir" json:"workdir"`
	// User runs process-isolated instances as this existing user.
	// Default: root for "process"; namespace and sandbox give every
	// instance its own user and reject this key.
	User string `toml:"user" json:"user"`
	// SpawnOnRequest lets a request for an unknown id create the instance.
	// Default false: unknown ids are 404.
	SpawnOnRequest bool `toml:"spawn_on_request" json:"spawn_on_request"`
	// Socket is SOCKET_PATH, a unix socket path the app may listen on;
	// templates {name} {id} {data_dir}. Default
	// "{data_dir}/{name}/{id}/app.sock".
	Socket string `toml:"socket" json:"socket"`
	// Env is extra environment; templates are replaced in the values.
	// It is not secret: use credentials for secrets.
	Env map[string]string `toml:"env" json:"env"`
	// MaxInstances bounds how many instances the service may have; a
	// creation past it is refused (a request that would create one gets
	// 429). 0 means no limit. Default 0.
	MaxInstances int `toml:"max_instances" json:"max_instances"`

	// Wake and sleep policy (policy.go).

	// ProbePaths are paths that, while an instance is asleep, tenement
	// answers itself (200, a small JSON body) without waking it; while it
	// is awake they are proxied. Exact paths. Neither counts as activity.
	// Default: none.
	ProbePaths []string `toml:"probe_paths" json:"probe_paths"`
	// NoWakeUserAgents are regular expressions: a request whose
	// User-Agent matches one never wakes an instance (503 with
	// Retry-After while it sleeps) and never counts as activity.
	// Default: none.
	NoWakeUserAgents []string `toml:"no_wake_user_agents" json:"no_wake_user_agents"`
	// Wake is how a request that finds its instance asleep is answered:
	// "hold" (held until ready), "page" (a browser's GET gets a small
	// self-refreshing page at once; other requests are held) or
	// "background" (503 with Retry-After at once; the instance starts).
	// Default "hold".
	Wake string `toml:"wake" json:"wake"`
	// ServerTiming adds "Server-Timing: wake;dur=<ms>" to the answer of a
	// request that caused or waited for a wake. Default true.
	ServerTiming *bool `toml:"server_timing" json:"server_timing"`
	// KeepAwake lists windows during which the service's instances are
	// not put to sleep, in the server's local time: "mon-fri 08:00-18:00",
	// "sat 10:00-12:00", "daily 00:00-06:00". Default: none.
	KeepAwake []string `toml:"keep_awake" json:"keep_awake"`
	// KeepAwakeWake wakes every registered instance of the service at the
	// start of each keep_awake window. Default false.
	KeepAwakeWake bool `toml:"keep_awake_wake" json:"keep_awake_wake"`
	// StreamIdleTimeout: an open WebSocket or server-sent events stream
	// keeps its instance awake only while bytes flowed within this time.
	// 0 keeps it awake as long as the stream is open. Default 0.
	StreamIdleTimeout Duration `toml:"stream_idle_timeout" json:"stream_idle_timeout"`
	// IdleAction is what idle_timeout does: "stop" (the instance sleeps;
	// the next request wakes it) or "throttle" (it keeps running with
	// lowered CPU and memory, restored on the next request: no cold
	// start). Default "stop".
	IdleAction string `toml:"idle_action" json:"idle_action"`
	// ThrottleCPUPercent is the CPUQuota= of a throttled instance, in
	// percent of one CPU. Default 5.
	ThrottleCPUPercent int `toml:"throttle_cpu_percent" json:"throttle_cpu_percent"`
	// ThrottleMemoryHighMB is the MemoryHigh= of a throttled instance in
	// MiB (the kernel reclaims above it); 0 leaves memory alone.
	// Default 0.
	ThrottleMemoryHighMB int `toml:"throttle_memory_high_mb" json:"throttle_memory_high_mb"`

	noWake   []*regexp.Regexp // compiled NoWakeUserAgents
	windows  []Window         // parsed KeepAwake
	probeSet map[string]bool
}

// PortBounds returns the inclusive tenant port range (PortRange, parsed).
func (s *Settings) PortBounds() (low, high int) { return s.portLow, s.portHigh }

// Trusted returns the parsed TrustedProxies.
func (s *Settings) Trusted() []netip.Prefix { return s.trusted }

// Persist reports whether the data dir survives a stop.
func (s *Service) Persist() bool { return s.StoragePersist == nil || *s.StoragePersist }

// Tasks returns the TasksMax value (0 means systemd's default).
func (s *Service) Tasks() int {
	if s.TasksMax == nil {
		return defaultTasksMax
	}
	return *s.TasksMax
}

const defaultTasksMax = 512
