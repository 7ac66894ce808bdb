// Package units renders the systemd unit properties of an instance.
//
// Render is a pure function: from a service's config, an instance name, its
// allocated port and its isolation level to the properties that
// StartTransientUnit takes. It does no I/O and knows nothing of
// D-Bus; the dbusapi package sends what it returns. Golden files in testdata/
// pin the output (go test ./units -update rewrites them).
package units

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/isolation"
	"github.com/tenement/tenement/names"
)

// restartDelay is RestartSec for crash restarts: short, so a crashed tenant
// is back in well under a second; systemd's start limit stops a crash loop.
const restartDelay = 100 * time.Millisecond

// Spec is everything an instance's units depend on.
type Spec struct {
	Instance names.Instance
	Service  *config.Service
	Settings *config.Settings
	// Port is the instance's TCP port on 127.0.0.1.
	Port int
	// Argv is the resolved command line; Argv[0] must be absolute.
	Argv []string
	// Marker is the daemon's marker: units carry it in TENEMENT_DAEMON=, and
	// a daemon adopts only units with its own marker.
	Marker string
	// ConfigPrint is the fingerprint of the config the unit is rendered
	// from (TENEMENT_RUN_CONFIG=): after a reload, or a daemon restart with
	// a changed config, a running instance whose print differs is
	// restart-pending.
	ConfigPrint string
	// Wrapper is the absolute path of the isolation wrapper (ten-isolate,
	// or ten itself: isolation.WrapperPath). Every level runs its port
	// guard; namespace and sandbox also wrap the app.
	Wrapper string
	// ConfigPath is the daemon's config file, which namespace and sandbox
	// units must not see ("" when built in).
	ConfigPath string
	// Credentials are the instance's credential files, delivered with
	// LoadCredential= (the supervisor lists them at each start).
	Credentials []Credential
}

// Units is what Render produces: the service unit, and for socket
// activation the socket unit started together with it.
type Units struct {
	Service       []Property
	Socket        []Property // nil unless activation = "socket"
	ServiceName   string
	SocketName    string // "" unless activation = "socket"
	DataDir       string
	Environment   []string
	ListenAddress string
	// ExecDropIn restates the commands with flags in unit file syntax, for
	// the drop-in the daemon writes next to the unit (dropin.go); "" when
	// there are none.
	ExecDropIn string
}

// DataDir returns the data dir of an instance: {data_dir}/{service}/{id}.
func DataDir(dataRoot string, n names.Instance) string {
	return filepath.Join(dataRoot, n.Service, n.ID)
}

// Render returns the units of one instance.
func Render(s Spec) (Units, error) {
	if s.Service == nil || s.Settings == nil {
		return Units{}, fmt.Errorf("%w: render %s: no service or settings", errdefs.ErrInvalid, s.Instance)
	}
	if len(s.Argv) == 0 || !filepath.IsAbs(s.Argv[0]) {
		return Units{}, fmt.Errorf("%w: render %s: program %q is not an absolute path", errdefs.ErrInvalid, s.Instance, first(s.Argv))
	}
	if s.Port <= 0 || s.Port > 65535 {
		return Units{}, fmt.Errorf("%w: render %s: invalid port %d", errdefs.ErrInvalid, s.Instance, s.Port)
	}
	if lo, _ := s.Settings.PortBounds(); lo < 1 {
		return Units{}, fmt.Errorf("%w: render %s: settings have no port range (not validated)", errdefs.ErrInvalid, s.Instance)
	}
	if !filepath.IsAbs(s.Wrapper) {
		return Units{}, fmt.Errorf("%w: render %s: the port guard needs the isolation wrapper, have %q", errdefs.ErrInvalid, s.Instance, s.Wrapper)
	}
	svc, set := s.Service, s.Settings
	n := s.Instance
	guard := guardExec(s)
	u := Units{
		ServiceName:   n.Unit(),
		DataDir:       DataDir(set.DataDir, n),
		ListenAddress: "127.0.0.1:" + strconv.Itoa(s.Port),
	}
	u.Environment = environment(s, u.DataDir)

	workdir := svc.Workdir
	if workdir == "" {
		workdir = u.DataDir
	}
	exec := Exec{Path: s.Argv[0], Argv: s.Argv}
	level, err := isolationProperties(s, u.DataDir, workdir, &exec)
	if err != nil {
		return Units{}, err
	}
	typ := "exec"
	if svc.Ready == config.ReadyNotify {
		typ = "notify"
	}
	p := []Property{
		{"Description", "tenement instance " + n.String()},
		{"Type", typ},
		{execName("ExecStart", exec), []Exec{exec}},
		{execName("ExecStartPre", guard), []Exec{guard}},
		{"Environment", u.Environment},
		{"WorkingDirectory", workdir},
		{"Slice", n.Slice()},
		{"KillSignal", int32(15)},
		{"SendSIGKILL", true},
		{"TimeoutStartUSec", usec(svc.StartupTimeout.D())},
		{"TimeoutStopUSec", usec(svc.StopTimeout.D())},
		{"Restart", restartPolicy(svc.Restart, set.MaxRestarts)},
		{"RestartUSec", usec(restartDelay)},
		{"StartLimitIntervalUSec", usec(set.RestartWindow.D())},
		// StartLimitBurst counts every run within the interval, the
		// first included (measured on 252: burst N gives N runs, and
		// NRestarts also counts the refused attempt): max_restarts
		// restarts need max_restarts + 1 runs.
		{"StartLimitBurst", uint32(set.MaxRestarts + 1)},
		{"SyslogIdentifier", n.Service + "-" + n.ID},
		{"LogExtraFields", LogFields{"TENEMENT_SERVICE=" + n.Service, "TENEMENT_ID=" + n.ID, "TENEMENT_INSTANCE=" + n.String()}},
	}
	if typ == "notify" {
		p = append(p, Property{"NotifyAccess", "all"})
	}
	if svc.MemoryLimitMB > 0 {
		p = append(p, Property{"MemoryMax", uint64(svc.MemoryLimitMB) << 20})
	}
	if svc.CPUShares > 0 {
		p = append(p, Property{"CPUWeight", uint64(svc.CPUShares)})
	}
	if t := svc.Tasks(); t > 0 {
		p = append(p, Property{"TasksMax", uint64(t)})
	}
	if len(s.Credentials) > 0 {
		p = append(p, Property{"LoadCredential", s.Credentials})
	}
	if svc.Network == config.NetworkPrivate {
		p = append(p, Property{"PrivateNetwork", true})
	}
	// Stop signals go to the whole cgroup, so no process of a tenant
	// outlives it, unless the level says otherwise (sandbox: see there).
	if Get(level, "KillMode") == nil {
		p = append(p, Property{"KillMode", "control-group"})
	}
	p = append(p, level...)
	u.Service = p
	u.ExecDropIn = execDropIn(p)

	if svc.Activation == config.ActivationSocket {
		u.SocketName = n.SocketUnit()
		u.Socket = []Property{
			{"Description", "tenement socket " + n.String()},
			{"Listen", []Listen{{Type: "Stream", Address: u.ListenAddress}}},
			{"NoDelay", true},
			{"FreeBind", true},
			{"Backlog", uint32(4096)},
		}
	}
	return u, nil
}

// environment returns the instance's environment: what tenement sets, then
// the service's own env (whose keys never collide: config rejects them).
func environment(s Spec, dataDir string) []string {
	n, set := s.Instance, s.Settings
	v := s.Service.InstanceVars(n.Service, n.ID, set.DataDir, s.Port)
	env := []string{
		"PORT=" + v.Port,
		"DATA_DIR=" + dataDir,
		"SOCKET_PATH=" + v.Socket,
		"TENEMENT_SERVICE=" + n.Service,
		"TENEMENT_ID=" + n.ID,
		MarkerEnv(s.Marker),
	}
	if s.ConfigPrint != "" {
		env = append(env, ConfigPrintVar+"="+s.ConfigPrint)
	}
	return append(env, s.Service.Environ(v)...)
}

// restartPolicy maps the config's restart to Restart=; max_restarts = 0
// allows no restart at all.
func restartPolicy(r string, maxRestarts int) string {
	if r == config.RestartNever || maxRestarts == 0 {
		return "no"
	}
	return r
}

// execName is the property that sends e: base (ExecStart,
// ExecStartPre), or base+"Ex" when e has flags.
func execName(base string, e Exec) string {
	if len(e.Flags) > 0 {
		return base + "Ex"
	}
	return base
}

// guardExec is the unit's ExecStartPre=+: the wrapper's guard mode, with
// full privileges but in the unit's cgroup, before the app runs (package
// portguard). Every level gets it, process and socket activation too: an
// app must bind no port of the tenant range but its own. systemd runs it
// again before every restart of the app.
func guardExec(s Spec) Exec {
	lo, hi := s.Settings.PortBounds()
	o := isolation.Options{Mode: isolation.ModeGuard, Port: s.Port, PortLow: lo, PortHigh: hi}
	return Exec{
		Path:  s.Wrapper,
		Argv:  append([]string{s.Wrapper}, o.Args()...),
		Flags: []string{privilegedFlag},
	}
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}
