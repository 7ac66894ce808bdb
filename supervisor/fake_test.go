package supervisor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// fakeSystemd stands in for systemd at the D-Bus boundary: a "unit" is an
// HTTP listener on the port from its Environment, started after a delay,
// and every change is an event on the Watch stream, in systemd's order
// (events before the job's result), as dbusapi's are.
type fakeSystemd struct {
	delay  time.Duration
	events chan dbusapi.Event

	mu     sync.Mutex
	units  map[string]*fakeUnit
	starts map[string]int
	stops  map[string]int
	calls  map[string]int // State and Snapshot calls: reads per instance
	set    []string       // SetProperties calls, formatted
}

type fakeUnit struct {
	env       []string
	active    dbusapi.ActiveState
	sub       dbusapi.SubState
	result    string
	pid       uint32
	nrestarts uint32
	ln        net.Listener
}

func newFake(delay time.Duration) *fakeSystemd {
	return &fakeSystemd{delay: delay, events: make(chan dbusapi.Event, 4096),
		units: map[string]*fakeUnit{}, starts: map[string]int{}, stops: map[string]int{}, calls: map[string]int{}}
}

// unitState is a unit's state in one signal of systemd's.
type unitState struct {
	active dbusapi.ActiveState
	sub    dbusapi.SubState
	result string // "" keeps the one it had
	// restart counts one more restart by systemd (NRestarts).
	restart bool
}

// The sequences systemd 252 sends for a service (dbusapi/signals.go).
var (
	// crashed: the app exited with an error and Restart= will restart it.
	crashed = []unitState{{active: dbusapi.Failed, sub: dbusapi.SubFailed, result: "exit-code"},
		{active: dbusapi.Activating, sub: dbusapi.SubAutoRestart}}
	// restartSec: RestartSec passed; systemd counts the restart.
	restartSec = []unitState{{active: dbusapi.Activating, sub: dbusapi.SubAutoRestart, restart: true}}
	// restarted: the restart job ran, and the app is up again.
	restarted = []unitState{{active: dbusapi.Inactive, sub: dbusapi.SubDead, result: "success"},
		{active: dbusapi.Activating, sub: dbusapi.SubStart}, {active: dbusapi.Active, sub: dbusapi.SubRunning}}
	// refused: the start limit refused the restart; the crash's Result
	// stays.
	refused = []unitState{{active: dbusapi.Inactive, sub: dbusapi.SubDead}, {active: dbusapi.Failed, sub: dbusapi.SubFailed}}
	// started: a start job, or a connection to the unit's socket.
	started = []unitState{{active: dbusapi.Activating, sub: dbusapi.SubStart}, {active: dbusapi.Active, sub: dbusapi.SubRunning}}
)

// to moves a unit through states, one event each, as systemd does. The
// unit's app listens while the unit is active: its MainPID is 42, and one
// more for every restart. The caller holds f.mu.
func (f *fakeSystemd) to(name string, u *fakeUnit, states ...unitState) {
	for _, st := range states {
		u.active, u.sub = st.active, st.sub
		if st.result != "" {
			u.result = st.result
		}
		if st.restart {
			u.nrestarts++
		}
		u.pid = 0
		if u.active == dbusapi.Active && strings.HasSuffix(name, ".service") {
			u.pid = 42 + u.nrestarts
			u.listen()
		} else if u.ln != nil {
			u.ln.Close()
			u.ln = nil
		}
		f.events <- dbusapi.Event{Kind: dbusapi.EventChanged, Unit: u.state(name, dbusapi.UnitFields|dbusapi.ServiceFields)}
	}
}

// listen starts the unit's app on the port of its environment.
func (u *fakeUnit) listen() {
	if u.ln != nil {
		return
	}
	port, _ := units.EnvValue(u.env, "PORT")
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	u.ln = ln
	go http.Serve(ln, app(u.env))
}

// app is a unit's app: "ok" to everything, but 503 to /health when its
// environment has HEALTH=fail.
func app(env []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && slices.Contains(env, "HEALTH=fail") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, "ok")
	})
}

func (u *fakeUnit) state(name string, fields dbusapi.Field) dbusapi.Unit {
	return dbusapi.Unit{Name: name, Fields: fields, LoadState: dbusapi.Loaded, ActiveState: u.active, SubState: u.sub,
		MainPID: u.pid, Result: u.result, NRestarts: u.nrestarts, Environment: u.env}
}

// load makes systemd hold a new unit, in state st. The caller holds f.mu.
func (f *fakeSystemd) load(name string, props []units.Property, st unitState) *fakeUnit {
	env, _ := units.Get(props, "Environment").([]string)
	u := &fakeUnit{env: env, result: "success"}
	f.units[name] = u
	f.events <- dbusapi.Event{Kind: dbusapi.EventNew, Unit: dbusapi.Unit{Name: name}}
	f.to(name, u, st)
	return u
}

// StartTransient starts a service (its app up after the fake's delay), or
// a socket (listening) with its service loaded and inactive.
func (f *fakeSystemd) StartTransient(ctx context.Context, name string, props []units.Property, aux ...dbusapi.Aux) error {
	f.mu.Lock()
	if u := f.units[name]; u != nil {
		f.mu.Unlock()
		return fmt.Errorf("%w: %s exists", errdefs.ErrConflict, name)
	}
	f.starts[name]++
	if strings.HasSuffix(name, ".socket") {
		defer f.mu.Unlock()
		f.load(name, props, unitState{active: dbusapi.Active, sub: dbusapi.SubListening})
		for _, a := range aux {
			f.load(a.Name, a.Properties, unitState{active: dbusapi.Inactive, sub: dbusapi.SubDead})
		}
		return nil
	}
	u := f.load(name, props, started[0])
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.units[name] != u {
		return fmt.Errorf("start %s: job canceled", name) // a stop replaced the start job
	}
	f.to(name, u, started[1:]...)
	return nil
}

// Start starts a loaded unit (the service of a socket).
func (f *fakeSystemd) Start(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.units[name]
	if u == nil {
		return fmt.Errorf("%w: unit %s not loaded", errdefs.ErrNotFound, name)
	}
	f.starts[name]++
	f.to(name, u, started...)
	return nil
}

// Stop stops a unit, and unloads it unless it is the service of a socket
// that stays.
func (f *fakeSystemd) Stop(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.units[name]
	f.stops[name]++
	if u == nil {
		return nil
	}
	f.to(name, u, unitState{active: dbusapi.Inactive, sub: dbusapi.SubDead})
	if n, err := names.FromUnit(name); err == nil && name == n.Unit() && f.units[n.SocketUnit()] != nil {
		return nil
	}
	delete(f.units, name)
	f.events <- dbusapi.Event{Kind: dbusapi.EventRemoved, Unit: dbusapi.Unit{Name: name}}
	return nil
}

// send moves a loaded unit through states (see to).
func (f *fakeSystemd) send(name string, states ...unitState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.to(name, f.units[name], states...)
}

// crash makes a running unit's app exit with an error, and systemd
// restart it (Restart=on-failure): the events a real crash brings.
func (f *fakeSystemd) crash(name string) {
	f.send(name, slices.Concat(crashed, restartSec, restarted)...)
}

func (f *fakeSystemd) ResetFailed(ctx context.Context, name string) error { return nil }

func (f *fakeSystemd) SetProperties(ctx context.Context, name string, props []units.Property) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set = append(f.set, units.Format(props))
	return nil
}

func (f *fakeSystemd) State(ctx context.Context, name string) (dbusapi.UnitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["State"]++
	u := f.units[name]
	if u == nil {
		return dbusapi.UnitState{Name: name, LoadState: "not-found", ActiveState: "inactive"}, nil
	}
	return dbusapi.UnitState{Name: name, LoadState: "loaded", ActiveState: string(u.active), SubState: string(u.sub), Environment: u.env, MainPID: u.pid}, nil
}

func (f *fakeSystemd) Watch(ctx context.Context, opts dbusapi.WatchOptions) (<-chan dbusapi.Event, error) {
	f.events <- dbusapi.Event{Kind: dbusapi.EventResync}
	return f.events, nil
}

func (f *fakeSystemd) Snapshot(ctx context.Context, want dbusapi.Field, patterns ...string) (dbusapi.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Snapshot"]++
	var s dbusapi.Snapshot
	for name, u := range f.units {
		s.Units = append(s.Units, u.state(name, dbusapi.ListFields|want))
	}
	return s, nil
}

func (f *fakeSystemd) count(m map[string]int, unit string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[unit]
}

// newTestSupervisor runs a supervisor over fake systemd and a real store.
func newTestSupervisor(t *testing.T, f *fakeSystemd, services string) *Supervisor {
	t.Helper()
	return newObservedSupervisor(t, f, services, nil)
}

// newObservedSupervisor is newTestSupervisor with an observer.
func newObservedSupervisor(t *testing.T, f *fakeSystemd, services string, obs Observer) *Supervisor {
	t.Helper()
	return newSupervisorWith(t, f, services, func(o *Options, _ *store.Store) { o.Observer = obs })
}

// newSupervisorWith is newTestSupervisor with options that opts sets,
// given the store.
func newSupervisorWith(t *testing.T, f *fakeSystemd, services string, opts func(*Options, *store.Store)) *Supervisor {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(dir+"/tenement.toml", []byte(fmt.Sprintf("[settings]\ndata_dir = %q\nport_range = \"21000-21999\"\nhealth_check_interval = \"100ms\"\n%s", dir, services)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o := Options{Config: cfg, Systemd: f, Store: st, Log: slog.New(slog.DiscardHandler), Wrapper: "/bin/true", DropInDir: t.TempDir()}
	opts(&o, st)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() { s.Run(ctx, func() { close(ready) }); close(done) }()
	select {
	case <-ready:
	case <-done:
		t.Fatal("supervisor did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-done
		f.mu.Lock()
		for _, u := range f.units {
			if u.ln != nil {
				u.ln.Close()
			}
		}
		f.mu.Unlock()
	})
	return s
}

const webService = `
[service.web]
command = "/bin/true"
isolation = "process"
ready = "tcp"
`

// wakes records the wakes an Observer is told of, as "instance cause".
type wakes struct {
	nopObserver
	mu  sync.Mutex
	got []string
}

func (w *wakes) Woke(n names.Instance, cause Cause, _ time.Duration, _ error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, n.String()+" "+string(cause))
}

func (w *wakes) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.got, ", ")
}
