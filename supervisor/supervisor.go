// Package supervisor keeps tenement's instances: it starts them as transient
// systemd units, knows their state from systemd's signals, decides readiness
// and health, restarts unhealthy ones with backoff, puts idle ones to sleep
// and wakes them once however many requests wait, and re-adopts its own
// units when the daemon restarts. It also owns the services' weighted pools
// (with package routing): weights, routes, and deploys that put a new
// version in only once it is healthy.
//
// systemd does the supervising: crashes are restarted by Restart=, limits and
// kills are its own. The supervisor never forks a tenant and never polls a
// PID; what it polls is only an app's readiness (a TCP connect or the health
// path), as the config asks.
//
// It does not grow with the number of tenants: one event loop
// keeps every unit's state from systemd's signals (events.go), so no read —
// List, Get, the proxy's Acquire, metrics — asks systemd anything per
// instance; memory and CPU come from one pass over the cgroup files
// (Accounting); an asleep instance holds no port and costs its store record.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenement/tenement/cgroupstat"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/isolation"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/routing"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// Systemd is what the supervisor needs from systemd; *dbusapi.Conn has it.
// State is read only when a unit of an instance's name stands in the way of
// a start (another daemon's, or a stale one).
type Systemd interface {
	StartTransient(ctx context.Context, name string, props []units.Property, aux ...dbusapi.Aux) error
	SetProperties(ctx context.Context, name string, props []units.Property) error
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	ResetFailed(ctx context.Context, name string) error
	State(ctx context.Context, name string) (dbusapi.UnitState, error)
	Watch(ctx context.Context, opts dbusapi.WatchOptions) (<-chan dbusapi.Event, error)
	Snapshot(ctx context.Context, want dbusapi.Field, patterns ...string) (dbusapi.Snapshot, error)
}

var _ Systemd = (*dbusapi.Conn)(nil)

// Store is what the supervisor keeps across restarts; *store.Store has it.
type Store interface {
	Instances() ([]store.Instance, error)
	CreateInstance(in store.Instance) error
	CreateInstances(ins []store.Instance) error
	UpdateInstance(n names.Instance, f func(*store.Instance) error) (store.Instance, error)
	UpdateInstances(ns []names.Instance, f func([]*store.Instance) error) error
	DeleteInstance(n names.Instance) error
}

var _ Store = (*store.Store)(nil)

// Accounting reads the memory, CPU and tasks of every running instance in
// one pass; *cgroupstat.Reader does, from the cgroup files. The pass may be
// cached, but must have begun after since.
type Accounting interface {
	ReadSince(since time.Time) (*cgroupstat.Stats, error)
}

var _ Accounting = (*cgroupstat.Reader)(nil)

// Options configure a Supervisor.
type Options struct {
	Config  *config.Config
	Systemd Systemd
	Store   Store
	Log     *slog.Logger
	// Wrapper is the isolation wrapper: every unit runs its port guard,
	// namespace and sandbox units run the app in it. Default:
	// isolation.WrapperPath of this executable (ten-isolate next to it).
	Wrapper string
	// Observer, if set, is told about wakes and restarts (metrics).
	Observer Observer
	// Accounting, if set, gives running instances their memory and CPU.
	Accounting Accounting
	// DropInDir is where the drop-ins of the units' commands go
	// (dropin.go). Default DefaultDropInDir; "-" writes none.
	DropInDir string
	// Domains, if set, are the custom domains bound to instances: their
	// Info shows them, and Delete forgets them.
	Domains Domains
}

// Domains is what the supervisor needs of the custom domains' table;
// *domains.Table has it.
type Domains interface {
	// Of returns the domains bound to n; the caller must not change it.
	Of(n names.Instance) []string
	// Forget drops, from memory, the domains of an instance the store
	// deleted (with its bindings).
	Forget(n names.Instance)
}

var _ Domains = (*domains.Table)(nil)

type noDomains struct{}

func (noDomains) Of(names.Instance) []string { return nil }
func (noDomains) Forget(names.Instance)      {}

// Observer receives lifecycle events (for metrics); it must not block.
type Observer interface {
	// Woke reports a wake (a start of an asleep instance) and its cause:
	// how long until it was ready, or why it failed.
	Woke(n names.Instance, cause Cause, d time.Duration, err error)
	// Slept reports how long an instance was asleep, when it wakes.
	Slept(n names.Instance, d time.Duration)
	// Restarted reports a restart: "crash" (by systemd), "unhealthy" (by
	// the daemon) or "user".
	Restarted(n names.Instance, reason string)
	// Deleted reports that an instance is forgotten.
	Deleted(n names.Instance)
}

// Supervisor keeps the instances of one daemon.
type Supervisor struct {
	cfg       atomic.Pointer[configState] // swapped by Reload; read with config()
	sd        Systemd
	store     Store
	log       *slog.Logger
	marker    string
	wrapper   string
	dropInDir string
	obs       Observer
	acct      Accounting
	domains   Domains

	// life is the supervisor's own lifetime (not a caller's): starts,
	// stops and health loops run within it, whoever asked for them. It
	// ends when Run returns.
	life    context.Context
	endLife context.CancelFunc
	// tasks tracks every goroutine the supervisor starts; Run waits for
	// them before it returns, so the store and the systemd connection
	// can be closed after it.
	tasksMu sync.Mutex
	closing bool
	tasks   sync.WaitGroup

	// syncs asks the event loop to apply every event it has received
	// (sync).
	syncs chan chan struct{}
	// since is the point of the stream the last Snapshot covers; only
	// the event loop uses it.
	since dbusapi.Seq

	ports  *ports
	router *routing.Router
	// launched is when a unit of this daemon last started (UnixNano): an
	// accounting pass from before it lacks that unit.
	launched atomic.Int64
	// beforeStop runs before any instance's unit is stopped (policy.go).
	beforeStop atomic.Pointer[func(names.Instance)]
	// placer is the fleet's side, in a fleet (fleet.go); nil outside one.
	placer atomic.Pointer[Placer]
	// rescheduled tells scheduleLoop that a reload changed the windows.
	rescheduled chan struct{}

	mu     sync.RWMutex
	insts  map[names.Instance]*inst
	counts map[string]int // instances per service (max_instances)
}

// New returns a Supervisor. Call Run to adopt units and follow their state.
func New(o Options) (*Supervisor, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	switch o.DropInDir {
	case "":
		o.DropInDir = DefaultDropInDir
	case "-":
		o.DropInDir = ""
	}
	if o.Wrapper == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("supervisor: find own executable: %w", err)
		}
		o.Wrapper = isolation.WrapperPath(exe)
	}
	lo, hi := o.Config.Settings.PortBounds()
	life, end := context.WithCancel(context.Background())
	s := &Supervisor{
		sd:      o.Systemd,
		store:   o.Store,
		log:     o.Log.With("component", "supervisor"),
		marker:  o.Config.Settings.DataDir,
		wrapper: o.Wrapper,

		dropInDir: o.DropInDir,
		obs:       o.Observer,
		acct:      o.Accounting,
		life:      life,
		endLife:   end,
		syncs:     make(chan chan struct{}),

		rescheduled: make(chan struct{}, 1),
		ports:       newPorts(lo, hi),
		router:      routing.New(),
		insts:       map[names.Instance]*inst{},
		counts:      map[string]int{},
	}
	s.cfg.Store(newConfigState(o.Config, nil))
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.domains = o.Domains
	if s.domains == nil {
		s.domains = noDomains{}
	}
	return s, nil
}

type nopObserver struct{}

func (nopObserver) Woke(names.Instance, Cause, time.Duration, error) {}
func (nopObserver) Slept(names.Instance, time.Duration)              {}
func (nopObserver) Restarted(names.Instance, string)                 {}
func (nopObserver) Deleted(names.Instance)                           {}

// Run loads the known instances, re-adopts this daemon's running units,
// calls ready, starts the configured [instances], then follows systemd's
// events until ctx is done. It returns once every goroutine it started has
// ended; tenants keep running.
func (s *Supervisor) Run(ctx context.Context, ready func()) error {
	defer s.shutdown()
	events, err := s.sd.Watch(s.life, dbusapi.WatchOptions{Prefix: names.UnitPrefix})
	if err != nil {
		return fmt.Errorf("supervisor: follow systemd's events: %w", err)
	}
	if err := s.load(); err != nil {
		return err
	}
	// The stream begins with a Resync: its Snapshot is the adoption.
	if err := s.adoptFirst(ctx, events); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	s.spawn(s.spawnConfigured)
	s.spawn(s.storageLoop)
	s.spawn(s.scheduleLoop)
	return s.loop(ctx, events)
}

// shutdown ends the supervisor's own goroutines and timers and waits for
// them. It does not touch any unit: tenants keep running while the daemon
// is away.
func (s *Supervisor) shutdown() {
	s.tasksMu.Lock()
	s.closing = true
	s.tasksMu.Unlock()
	s.endLife()
	s.mu.RLock()
	for _, in := range s.insts {
		in.mu.Lock()
		in.endRun()
		if in.pendingFail != nil {
			in.pendingFail.Stop()
		}
		in.mu.Unlock()
	}
	s.mu.RUnlock()
	s.tasks.Wait()
}

// spawn runs f in a goroutine that Run waits for; after shutdown began it
// does not run f.
func (s *Supervisor) spawn(f func()) {
	s.tasksMu.Lock()
	defer s.tasksMu.Unlock()
	if s.closing {
		return
	}
	s.tasks.Go(f)
}

// load creates the in-memory instances from the store: all asleep (adoption
// finds the running ones), holding no port.
func (s *Supervisor) load() error {
	recs, err := s.store.Instances()
	if err != nil {
		return fmt.Errorf("supervisor: load instances: %w", err)
	}
	s.mu.Lock()
	for _, rec := range recs {
		n := rec.Name()
		svc := s.config().Services[n.Service]
		orphaned := svc == nil
		if orphaned {
			// Listed as orphaned, adopted if it runs, stopped and
			// deleted on request; never woken.
			s.log.Warn("known instance of a service no longer configured: orphaned until deleted", "instance", n.String())
			svc = &config.Service{}
		}
		in := s.newInst(n, svc, rec)
		in.orphaned = orphaned
		if rec.Failed {
			in.state, in.reason = StateFailed, rec.FailedReason
		}
		s.insts[n] = in
		s.counts[n.Service]++
	}
	s.mu.Unlock()
	for _, rec := range recs {
		if s.config().Services[rec.Service] != nil {
			s.router.Set(rec.Name(), rec.Weight)
		}
	}
	return nil
}

func (s *Supervisor) newInst(n names.Instance, svc *config.Service, rec store.Instance) *inst {
	return &inst{name: n, unit: n.Unit(), svc: svc, rec: rec, state: StateAsleep, health: HealthUnknown,
		lastPort: rec.Port, changed: make(chan struct{}), streams: map[*streamRef]struct{}{}, keepUntil: rec.KeepAwakeUntil}
}

// spawnConfigured starts the [instances] of the config, concurrently.
func (s *Supervisor) spawnConfigured() {
	for svc, ids := range s.config().Instances {
		for _, id := range ids {
			n, err := names.New(svc, id)
			if err != nil {
				continue // config validation already rejected it
			}
			s.spawn(func() {
				ctx, cancel := context.WithTimeout(s.life, s.config().Services[svc].StartupTimeout.D()+30*time.Second)
				defer cancel()
				if _, err := s.Spawn(ctx, n); err != nil && s.life.Err() == nil {
					s.log.Error("configured instance did not start", "instance", n.String(), "err", err)
				}
			})
		}
	}
}

// config returns the config in force (a reload swaps it).
func (s *Supervisor) config() *config.Config { return s.cfg.Load().cfg }

// lookup returns a known instance or nil.
func (s *Supervisor) lookup(n names.Instance) *inst {
	s.mu.RLock()
	in := s.insts[n]
	s.mu.RUnlock()
	return in
}

// Known reports whether n is a known instance (asleep or not); it asks
// nobody, so it is cheap enough for every TLS handshake.
func (s *Supervisor) Known(n names.Instance) bool { return s.lookup(n) != nil }

// known returns a known instance, or an ErrNotFound error.
func (s *Supervisor) known(n names.Instance) (*inst, error) {
	if in := s.lookup(n); in != nil {
		return in, nil
	}
	// In a fleet, one placed here a moment ago (a move's target, asked to
	// set the weight it had) is known before the sync registers it.
	if in := s.registerPlaced(n); in != nil {
		return in, nil
	}
	if s.config().Services[n.Service] == nil {
		return nil, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	return nil, fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
}

// ServiceConfig returns a service's config, or nil. A service a reload
// removed keeps its last config while its orphaned instances run, so that
// they keep serving until stopped or deleted.
func (s *Supervisor) ServiceConfig(service string) *config.Service {
	return s.cfg.Load().service(service)
}

func (s *Supervisor) dataDir(n names.Instance) string {
	return units.DataDir(s.config().Settings.DataDir, n)
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
