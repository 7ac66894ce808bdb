package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings
	if s.Domain != "example.com" {
		t.Errorf("Domain = %q, want lowercased without trailing dot", s.Domain)
	}
	if s.HealthCheckInterval.D() != 2*time.Second || s.RestartWindow.D() != 600*time.Second {
		t.Errorf("durations: %v %v", s.HealthCheckInterval, s.RestartWindow)
	}
	if lo, hi := s.PortBounds(); lo != 21000 || hi != 21999 {
		t.Errorf("PortBounds = %d-%d", lo, hi)
	}
	if len(s.Trusted()) != 2 || s.Trusted()[0].String() != "192.0.2.7/32" {
		t.Errorf("Trusted = %v", s.Trusted())
	}
	if nw, addr := s.FrontAddr(); nw != "unix" || addr != "/run/tenement/front.sock" || s.FrontGroup != "caddy" {
		t.Errorf("FrontAddr = %s %s, group %q", nw, addr, s.FrontGroup)
	}
	if s.APIOverHTTP != APIOverHTTPAny {
		t.Errorf("APIOverHTTP = %q", s.APIOverHTTP)
	}
	if s.CredentialsDir != "/srv/credentials" || s.ClientIdleTimeout.D() != 30*time.Second || s.ClientHeaderTimeout.D() != 5*time.Second ||
		s.MaxHeaderBytes != 32768 || s.ConnsPerClient() != 64 || s.SpawnsPerClient() != 5 || s.AuditMaxEntries != 5000 || s.APIWrites() != 60 ||
		s.DomainsPerInstance() != 5 {
		t.Errorf("limits: %+v", s)
	}
	n := c.Services["notes"]
	if n.Persist() || n.Tasks() != 64 || n.IdleTimeout.D() != 5*time.Minute || n.WakeTimeout.D() != 15*time.Second {
		t.Errorf("notes: persist=%v tasks=%d idle=%v wake=%v", n.Persist(), n.Tasks(), n.IdleTimeout, n.WakeTimeout)
	}
	v := Vars{Name: "notes", ID: "alice", DataDir: s.DataDir, Port: "21000"}
	argv, err := n.Argv(v)
	if err != nil || strings.Join(argv, "|") != "python3|app.py|--port|21000" {
		t.Errorf("Argv = %q, %v", argv, err)
	}
	if got := n.Environ(v); strings.Join(got, " ") != "DATABASE=/srv/tenement/notes/alice/notes.db TENANT=alice" {
		t.Errorf("Environ = %q", got)
	}
	if got := n.SocketPath(v); got != "/run/notes/alice.sock" {
		t.Errorf("SocketPath = %q", got)
	}
	a := c.Services["api"]
	argv, _ = a.Argv(Vars{Name: "api", ID: "prod", Port: "1"})
	if len(argv) != 5 || argv[4] != "api prod" {
		t.Errorf("explicit args not kept as words: %q", argv)
	}
	if a.Isolation != IsolationNamespace || a.Restart != RestartOnFailure || !a.Persist() || a.Tasks() != 512 {
		t.Errorf("api defaults: %+v", a)
	}
	if a.CPUShares != 100 {
		t.Errorf("cpu_shares default %d, want 100 (every tenant its own CPU group)", a.CPUShares)
	}
	if n.MaxInstances != 500 || a.MaxInstances != 0 {
		t.Errorf("max_instances: %d %d", n.MaxInstances, a.MaxInstances)
	}
	if got := c.Instances["notes"]; len(got) != 2 {
		t.Errorf("Instances = %v", c.Instances)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("/etc/t.toml", nil) // a file with nothing in it
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings
	if s.DataDir != DefaultDataDir || s.Domain != "localhost" || s.Listen != ":8080" || s.APISocket != DefaultAPISocket {
		t.Errorf("settings defaults: %+v", s)
	}
	if s.HealthCheckInterval.D() != 10*time.Second || s.MaxRestarts != 3 || s.RestartWindow.D() != 300*time.Second ||
		s.BackoffBaseMS != 1000 || s.BackoffMaxMS != 60000 || s.PortRange != "20000-29999" {
		t.Errorf("settings defaults: %+v", s)
	}
	if s.CredentialsDir != DefaultCredentialsDir || s.ClientIdleTimeout.D() != time.Minute || s.ClientHeaderTimeout.D() != 10*time.Second ||
		s.MaxHeaderBytes != 65536 || s.ConnsPerClient() != 256 || s.SpawnsPerClient() != 10 || s.AuditMaxEntries != 100000 ||
		s.APIWrites() != 120 || s.TLS.OrdersPerHour() != 60 || s.FrontListen != "" || s.DomainsPerInstance() != 20 {
		t.Errorf("limit defaults: %+v", s)
	}
	if s.APIOverHTTP != "loopback" {
		t.Errorf("api_over_http default %q, want loopback", s.APIOverHTTP)
	}
	c, err = Parse("/etc/t.toml", []byte("[service.web]\ncommand = \"./web\"\nhealth = \"/h\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Services["web"]
	if w.Isolation != "namespace" || w.Ready != "health" || w.Activation != "proxy" || w.Network != "host" ||
		w.Restart != "on-failure" || w.StartupTimeout.D() != 10*time.Second || w.RequestTimeout.D() != 30*time.Second ||
		w.WakeTimeout.D() != 10*time.Second || w.StopTimeout.D() != 10*time.Second || !w.Persist() || w.Tasks() != 512 ||
		w.IdleTimeout != 0 || w.SpawnOnRequest {
		t.Errorf("service defaults: %+v", w)
	}
	c, _ = Parse("/etc/t.toml", []byte("[service.web]\ncommand = \"web\"\n"))
	if c.Services["web"].Ready != "tcp" {
		t.Errorf("ready without health = %q, want tcp", c.Services["web"].Ready)
	}
}

func TestRelativePaths(t *testing.T) {
	c, err := Parse("/opt/app/tenement.toml", []byte("[settings]\ndata_dir = \"data\"\n[service.web]\ncommand = \"./web\"\nworkdir = \"www\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Settings.DataDir != "/opt/app/data" || c.Services["web"].Workdir != "/opt/app/www" {
		t.Errorf("data_dir=%q workdir=%q", c.Settings.DataDir, c.Services["web"].Workdir)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // the whole one-line error
	}{
		{
			name: "unknown key",
			toml: "[service.notes]\ncommand = \"x\"\ncomand = \"y\"\n",
			want: "t.toml:3: service.notes.comand: unknown key; did you mean command?",
		},
		{
			name: "unknown settings key",
			toml: "[settings]\n\ndomian = \"x\"\n",
			want: "t.toml:3: settings.domian: unknown key; did you mean domain?",
		},
		{
			name: "unknown top-level table",
			toml: "[servce.notes]\ncommand = \"x\"\n",
			want: "t.toml:1: servce.notes: unknown key",
		},
		{
			name: "wrong type",
			toml: "[service.notes]\ncommand = \"x\"\nmemory_limit_mb = \"lots\"\n",
			want: "t.toml:3: service.notes.memory_limit_mb: wrong type: want an integer, not a string",
		},
		{
			name: "wrong type bool",
			toml: "[service.notes]\ncommand = \"x\"\nstorage_persist = \"yes\"\n",
			want: "t.toml:3: service.notes.storage_persist: wrong type: want a boolean, not a string",
		},
		{
			name: "invalid isolation",
			toml: "[service.notes]\ncommand = \"x\"\nisolation = \"vm\"\n",
			want: `t.toml:3: service.notes.isolation: invalid value "vm": want "process", "namespace", "sandbox"`,
		},
		{
			name: "bad duration",
			toml: "[service.notes]\ncommand = \"x\"\nidle_timeout = \"soon\"\n",
			want: `t.toml:3: service.notes.idle_timeout: invalid duration "soon": want seconds (300) or a duration ("5m", "500ms")`,
		},
		{
			name: "negative duration",
			toml: "[service.notes]\ncommand = \"x\"\nidle_timeout = -5\n",
			want: `t.toml:3: service.notes.idle_timeout: negative duration -5`,
		},
		{
			name: "missing command",
			toml: "[service.notes]\nhealth = \"/h\"\n",
			want: "t.toml:1: service.notes.command: missing: every service needs a command",
		},
		{
			name: "bad service name",
			toml: "[service.my-app]\ncommand = \"x\"\n",
			want: `t.toml:1: service.my-app: service name "my-app": '-' is not allowed; only lowercase letters and digits are allowed`,
		},
		{
			name: "instances of unknown service",
			toml: "[service.notes]\ncommand = \"x\"\n[instances]\nblog = [\"a\"]\n",
			want: "t.toml:4: instances.blog: no [service.blog] is defined",
		},
		{
			name: "bad instance id",
			toml: "[service.notes]\ncommand = \"x\"\n[instances]\nnotes = [\"Alice\"]\n",
			want: `t.toml:4: instances.notes: instance id "Alice": uppercase 'A' is not allowed; only lowercase letters, digits and "-" are allowed`,
		},
		{
			name: "routing rejected",
			toml: "[service.notes]\ncommand = \"x\"\n[routing]\ndefault = \"notes\"\n",
			want: "t.toml:3: routing: [routing] is not supported: tenement routes by subdomain ({id}.{service}.{domain}); remove it",
		},
		{
			name: "original runtime key",
			toml: "[service.notes]\ncommand = \"x\"\nimage = \"alpine\"\n",
			want: `t.toml:3: service.notes.image: not supported: container images belong to the original's Docker runtimes; use isolation = "sandbox" to run the command under gVisor`,
		},
		{
			name: "reserved env",
			toml: "[service.notes]\ncommand = \"x\"\nenv = { PORT = \"1\" }\n",
			want: "t.toml:3: service.notes.env.PORT: tenement sets PORT (the instance's port); remove it",
		},
		{
			name: "private network needs socket activation",
			toml: "[service.notes]\ncommand = \"x\"\nnetwork = \"private\"\n",
			want: `t.toml:3: service.notes.network: "private" needs activation = "socket": the tenant then serves through the socket systemd hands it`,
		},
		{
			name: "notify with sandbox",
			toml: "[service.notes]\ncommand = \"x\"\nisolation = \"sandbox\"\nready = \"notify\"\n",
			want: `t.toml:4: service.notes.ready: "notify" does not work with isolation = "sandbox": READY=1 cannot reach systemd from inside gVisor; use "health" or "tcp"`,
		},
		{
			name: "socket activation with sandbox",
			toml: "[service.notes]\ncommand = \"x\"\nisolation = \"sandbox\"\nactivation = \"socket\"\n",
			want: `t.toml:4: service.notes.activation: "socket" does not work with isolation = "sandbox": gVisor's runsc does not hand systemd's socket to the app; use activation = "proxy" or isolation = "namespace"`,
		},
		{
			name: "domain is an IP address",
			toml: "[settings]\ndomain = \"10.1.2.3\"\n",
			want: `t.toml:2: settings.domain: "10.1.2.3" is an IP address: want a DNS name such as example.com ({id}.{service}.{domain} must be names; for a quick try use localhost)`,
		},
		{
			name: "zero timeout",
			toml: "[service.notes]\ncommand = \"x\"\nstartup_timeout = 0\n",
			want: `t.toml:3: service.notes.startup_timeout: 0 is not allowed: want a positive value, or leave the key out for its default`,
		},
		{
			name: "zero backoff",
			toml: "[settings]\nbackoff_base_ms = 0\n",
			want: `t.toml:2: settings.backoff_base_ms: 0 is not allowed: want a positive value, or leave the key out for its default`,
		},
		{
			name: "zero interval",
			toml: "[settings]\nhealth_check_interval = \"0s\"\n",
			want: `t.toml:2: settings.health_check_interval: 0 is not allowed: want a positive value, or leave the key out for its default`,
		},
		{
			name: "unknown key far from any",
			toml: "[settings]\nfrobnicate = 1\n",
			want: `t.toml:2: settings.frobnicate: unknown key`,
		},
		{
			name: "unknown tls key",
			toml: "[settings.tls]\nacme_emial = \"a@b.c\"\n",
			want: `t.toml:2: settings.tls.acme_emial: unknown key; did you mean acme_email?`,
		},
		{
			name: "loopback trusted proxy",
			toml: "[settings]\nfront_listen = \"unix:/run/f.sock\"\ntrusted_proxies = [\"::1\"]\n",
			want: `t.toml:3: settings.trusted_proxies[0]: "::1": every tenant on this host can connect from a loopback address and would be believed; put the front proxy on front_listen = "unix:/run/tenement/front.sock" instead`,
		},
		{
			name: "trusted proxies without front listener",
			toml: "[settings]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
			want: `t.toml:2: settings.trusted_proxies: forwarding headers are believed only on front_listen; set front_listen (a unix socket, or an address only the front proxy reaches)`,
		},
		{
			name: "front listener on loopback",
			toml: "[settings]\nfront_listen = \"127.0.0.1:8081\"\n",
			want: `t.toml:2: settings.front_listen: "127.0.0.1:8081": every tenant on this host can connect to a loopback address; use a unix socket (unix:/run/tenement/front.sock)`,
		},
		{
			name: "front listener on every address",
			toml: "[settings]\nfront_listen = \":8081\"\n",
			want: `t.toml:2: settings.front_listen: ":8081": a wildcard address lets anyone send forwarding headers; bind the address only the front proxy reaches`,
		},
		{
			name: "front group with an address",
			toml: "[settings]\nfront_listen = \"10.0.0.5:8081\"\nfront_group = \"caddy\"\n",
			want: `t.toml:3: settings.front_group: only with a unix socket in front_listen`,
		},
		{
			name: "api over http",
			toml: "[settings]\napi_over_http = \"all\"\n",
			want: `t.toml:2: settings.api_over_http: "all": want "loopback" (the API and dashboard over plain HTTP to loopback peers and front_listen only) or "any"`,
		},
		{
			name: "negative connection cap",
			toml: "[settings]\nmax_conns_per_client = -1\n",
			want: `t.toml:2: settings.max_conns_per_client: -1: want 0 (no limit) or more`,
		},
		{
			name: "negative domain cap",
			toml: "[settings]\nmax_domains_per_instance = -1\n",
			want: `t.toml:2: settings.max_domains_per_instance: -1: want 0 (no limit) or more`,
		},
		{
			name: "negative max instances",
			toml: "[service.notes]\ncommand = \"x\"\nmax_instances = -3\n",
			want: `t.toml:3: service.notes.max_instances: -3: want 0 (no limit) or more`,
		},
		{
			name: "user with namespace",
			toml: "[service.notes]\ncommand = \"x\"\nuser = \"www\"\n",
			want: `t.toml:3: service.notes.user: only for isolation = "process": namespace gives every instance its own user`,
		},
		{
			name: "port range",
			toml: "[settings]\nport_range = \"80-90\"\n",
			want: `t.toml:2: settings.port_range: "80-90": want 1024 <= LOW <= HIGH <= 65535`,
		},
		{
			name: "syntax error",
			toml: "[service.notes\ncommand = \"x\"\n",
			want: "t.toml:2: expected '.' or ']' to end table name, but got '\\n' instead",
		},
		{
			name: "two problems",
			toml: "[service.notes]\ncommand = \"x\"\ncpu_shares = 20000\nhealth = \"h\"\n",
			want: `t.toml:3: service.notes.cpu_shares: 20000: want 1–10000 (100 is normal) (and 1 more)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tt.toml))
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error is not ErrInvalid: %v", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got  %s\n want %s", got, tt.want)
			}
		})
	}
}

func TestMaxRestartsZeroMeansNone(t *testing.T) {
	c, err := Parse("/etc/t.toml", []byte("[settings]\nmax_restarts = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Settings.MaxRestarts != 0 {
		t.Errorf("max_restarts = 0 became %d", c.Settings.MaxRestarts)
	}
	if c, _ := Parse("/etc/t.toml", nil); c.Settings.MaxRestarts != 3 {
		t.Errorf("default max_restarts %d, want 3", c.Settings.MaxRestarts)
	}
}

func TestWarnings(t *testing.T) {
	c, err := Parse("/etc/t.toml", []byte("[service.a]\ncommand = \"x\"\nisolation = \"process\"\n[service.b]\ncommand = \"x\"\nisolation = \"process\"\nuser = \"www\"\n[service.c]\ncommand = \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0].Error(), `/etc/t.toml:3: service.a.isolation: "process" without user runs every tenant as root`) {
		t.Errorf("Warnings = %v", w)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TENEMENT_CONFIG", "")
	if _, err := os.Stat(DefaultPath); err == nil {
		t.Skip("a system config exists")
	}
	if got := Find(""); got != "" {
		t.Errorf("Find with nothing = %q", got)
	}
	os.WriteFile(filepath.Join(dir, "tenement.toml"), nil, 0o644)
	if got := Find(""); got != "" {
		t.Errorf("Find took %q from the current directory", got)
	}
	t.Setenv("TENEMENT_CONFIG", "/x.toml")
	if got := Find(""); got != "/x.toml" {
		t.Errorf("Find env = %q", got)
	}
	if got := Find("/y.toml"); got != "/y.toml" {
		t.Errorf("Find explicit = %q", got)
	}
}

// FuzzParse checks that the loader never panics and that whatever it
// accepts is valid and serialisable.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/full.toml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[service.a]\ncommand = \"x {port}\"\n[instances]\na = [\"b\"]\n"))
	f.Add([]byte("[settings]\nhealth_check_interval = \"1ms\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.toml", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		for name, svc := range c.Services {
			if _, err := svc.Argv(Vars{Name: name}); err != nil {
				t.Fatalf("accepted service %s with bad command: %v", name, err)
			}
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOverride(t *testing.T) {
	tests := []struct {
		name         string
		listen       string
		port         int
		domain       string
		wantListen   string
		wantDomain   string
		wantErrMatch string
	}{
		{"nothing", "127.0.0.1:8080", 0, "", "127.0.0.1:8080", "localhost", ""},
		{"port keeps the host", "127.0.0.1:8080", 9090, "", "127.0.0.1:9090", "localhost", ""},
		{"port of a wildcard listen", ":8080", 80, "", ":80", "localhost", ""},
		{"domain", ":8080", 0, "Example.COM.", ":8080", "example.com", ""},
		{"bad port", ":8080", 70000, "", "", "", "--port: 70000"},
		{"bad domain", ":8080", 0, "bad_domain", "", "", "--domain:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.toml", []byte(fmt.Sprintf("[settings]\nlisten = %q\n", tt.listen)))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Override(tt.port, tt.domain)
			if tt.wantErrMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrMatch) {
					t.Fatalf("Override: %v, want %q", err, tt.wantErrMatch)
				}
				return
			}
			if err != nil || c.Settings.Listen != tt.wantListen || c.Settings.Domain != tt.wantDomain {
				t.Fatalf("Override: %v; listen %q domain %q", err, c.Settings.Listen, c.Settings.Domain)
			}
		})
	}
}

// `ten config show --json` uses the TOML key names.
func TestJSONUsesTOMLNames(t *testing.T) {
	c, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"data_dir", "health_check_interval", "max_restarts", "port_range", "tls"} {
		if _, ok := m["settings"][k]; !ok {
			t.Errorf("settings has no %q in JSON: %s", k, b)
		}
	}
	notes := m["service"]["notes"].(map[string]any)
	for _, k := range []string{"command", "idle_timeout", "memory_limit_mb", "spawn_on_request"} {
		if _, ok := notes[k]; !ok {
			t.Errorf("service.notes has no %q in JSON", k)
		}
	}
	if strings.Contains(string(b), `"DataDir"`) {
		t.Errorf("Go field names in JSON: %s", b)
	}
}
