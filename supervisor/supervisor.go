// Package supervisor keeps tenement's instances: it starts them as transient
// systemd units, knows their state from systemd's signals, decides readiness
// and health, restarts unhealthy ones with backoff, puts idle ones to sleep
// and wakes them once however many requests wait, and re-adopts its own
// units when the daemon restarts.
//
// systemd does the supervising: crashes are restarted by Restart=, limits and
// kills are its own. The supervisor never forks a tenant and never polls a
// PID; what it polls is only an app's readiness (a TCP connect or the health
// path), as the config asks.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/isolation"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// Systemd is what the supervisor needs from systemd; *dbusapi.Conn has it.
type Systemd interface {
	StartTransient(ctx context.Context, name string, props []units.Property, aux ...dbusapi.Aux) error
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	ResetFailed(ctx context.Context, name string) error
	WaitUnloaded(ctx context.Context, name string) error
	State(ctx context.Context, name string) (dbusapi.UnitState, error)
	List(ctx context.Context, patterns ...string) ([]dbusapi.UnitStatus, error)
	Subscribe(prefix string) (<-chan dbusapi.Change, error)
}

var _ Systemd = (*dbusapi.Conn)(nil)

// Store is what the supervisor keeps across restarts; *store.Store has it.
type Store interface {
	Instances() ([]store.Instance, error)
	CreateInstance(in store.Instance) error
	UpdateInstance(n names.Instance, f func(*store.Instance) error) (store.Instance, error)
	UpdateInstances(ns []names.Instance, f func([]*store.Instance) error) error
	DeleteInstance(n names.Instance) error
}

var _ Store = (*store.Store)(nil)

// Options configure a Supervisor.
type Options struct {
	Config  *config.Config
	Systemd Systemd
	Store   Store
	Log     *slog.Logger
	// Wrapper is the binary that wraps apps for namespace and sandbox
	// isolation. Default: isolation.WrapperPath of this executable.
	Wrapper string
	// Observer, if set, is told about wakes and restarts (metrics).
	Observer Observer
}

// Observer receives lifecycle events (for metrics); it must not block.
type Observer interface {
	// Woke reports a start caused by a request or a connection to the
	// instance's socket: how long until it was ready, or why it failed.
	Woke(n names.Instance, d time.Duration, err error)
	// Restarted reports a restart: "crash" (by systemd), "unhealthy" (by
	// the daemon) or "user".
	Restarted(n names.Instance, reason string)
	// Deleted reports that an instance is forgotten.
	Deleted(n names.Instance)
}

// Supervisor keeps the instances of one daemon.
type Supervisor struct {
	cfg     *config.Config
	sd      Systemd
	store   Store
	log     *slog.Logger
	marker  string
	wrapper string
	obs     Observer

	ctx    context.Context // the daemon's life; set by Run
	cancel context.CancelFunc

	ports *ports

	mu     sync.RWMutex
	insts  map[names.Instance]*inst
	counts map[string]int         // instances per service (max_instances)
	rr     map[string]*roundRobin // weighted routing state per service

	bg sync.WaitGroup // background work (store writes) waited for at shutdown
}

// New returns a Supervisor. Call Run to adopt units and follow their state.
func New(o Options) (*Supervisor, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Wrapper == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("supervisor: find own executable: %w", err)
		}
		o.Wrapper = isolation.WrapperPath(exe)
	}
	lo, hi := o.Config.Settings.PortBounds()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{
		cfg:     o.Config,
		sd:      o.Systemd,
		store:   o.Store,
		log:     o.Log.With("component", "supervisor"),
		marker:  o.Config.Settings.DataDir,
		wrapper: o.Wrapper,
		obs:     o.Observer,
		ctx:     ctx,
		cancel:  cancel,
		ports:   newPorts(lo, hi),
		insts:   map[names.Instance]*inst{},
		counts:  map[string]int{},
		rr:      map[string]*roundRobin{},
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	return s, nil
}

type nopObserver struct{}

func (nopObserver) Woke(names.Instance, time.Duration, error) {}
func (nopObserver) Restarted(names.Instance, string)          {}
func (nopObserver) Deleted(names.Instance)                    {}

// Marker is the value of TENEMENT_DAEMON= in this daemon's units.
func (s *Supervisor) Marker() string { return s.marker }

// Run loads the known instances, re-adopts this daemon's running units,
// starts the configured [instances], then follows unit state changes until
// ctx is done. Tenants keep running when it returns.
func (s *Supervisor) Run(ctx context.Context, ready func()) error {
	changes, err := s.sd.Subscribe("tenement@")
	if err != nil {
		return fmt.Errorf("supervisor: subscribe to systemd: %w", err)
	}
	if err := s.load(); err != nil {
		return err
	}
	if err := s.adopt(ctx); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	go s.spawnConfigured()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case ch := <-changes:
			s.handle(ctx, ch)
		}
	}
}

// shutdown stops the supervisor's own goroutines and timers. It does not
// touch any unit: tenants keep running while the daemon is away.
func (s *Supervisor) shutdown() {
	s.cancel()
	s.mu.RLock()
	for _, in := range s.insts {
		in.mu.Lock()
		in.endRun()
		in.mu.Unlock()
	}
	s.mu.RUnlock()
	s.bg.Wait()
}

// load creates the in-memory instances from the store.
func (s *Supervisor) load() error {
	recs, err := s.store.Instances()
	if err != nil {
		return fmt.Errorf("supervisor: load instances: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range recs {
		n := rec.Name()
		svc := s.cfg.Services[n.Service]
		if svc == nil {
			s.log.Warn("known instance of a service no longer configured; it stays asleep", "instance", n.String())
			continue
		}
		in := s.newInst(n, svc, rec)
		if rec.Failed {
			in.state, in.reason = StateFailed, rec.FailedReason
		}
		s.insts[n] = in
		s.counts[n.Service]++
		s.ports.take(rec.Port, n)
	}
	return nil
}

func (s *Supervisor) newInst(n names.Instance, svc *config.Service, rec store.Instance) *inst {
	return &inst{name: n, unit: n.Unit(), svc: svc, rec: rec, state: StateAsleep, health: HealthUnknown}
}

// spawnConfigured starts the [instances] of the config, concurrently.
func (s *Supervisor) spawnConfigured() {
	var wg sync.WaitGroup
	for svc, ids := range s.cfg.Instances {
		for _, id := range ids {
			n, err := names.New(svc, id)
			if err != nil {
				continue // config validation already rejected it
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Services[svc].StartupTimeout.D()+30*time.Second)
				defer cancel()
				if _, err := s.Spawn(ctx, n); err != nil {
					s.log.Error("configured instance did not start", "instance", n.String(), "err", err)
				}
			}()
		}
	}
	wg.Wait()
}

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
	if s.cfg.Services[n.Service] == nil {
		return nil, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	return nil, fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
}

// Create makes an instance known without starting it, with the given
// routing weight; an instance that is known already is left as it is. A
// deploy creates a new version with weight 0, so that weighted traffic
// reaches it only once it is healthy.
func (s *Supervisor) Create(n names.Instance, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("%w: weight %d: want 0–100", errdefs.ErrInvalid, weight)
	}
	_, err := s.ensureRecord(n, newRecord{weight: weight})
	return err
}

// CreateForRequest makes an instance known because a request asked for it
// (spawn_on_request): only for such a service, and only while the service
// has fewer than max_instances instances. The instance is marked as
// created by a request: if it never answers a 2xx, it is forgotten when it
// goes to sleep or fails (forgetUnserved). An instance known already is
// left as it is.
func (s *Supervisor) CreateForRequest(n names.Instance) error {
	svc := s.cfg.Services[n.Service]
	if svc == nil || !svc.SpawnOnRequest {
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	_, err := s.ensureRecord(n, newRecord{weight: DefaultWeight, byRequest: true, limit: svc.MaxInstances})
	return err
}

// ensure returns the instance, creating (and storing) it when its service
// is configured and it is not known yet.
func (s *Supervisor) ensure(n names.Instance) (*inst, error) {
	return s.ensureRecord(n, newRecord{weight: DefaultWeight})
}

// newRecord is how a new instance's record starts.
type newRecord struct {
	weight    int
	byRequest bool
	// limit is the service's max_instances for this creation (0: none).
	// Admins are not held to it, so that a flood of requests cannot lock
	// the operator out; requests are.
	limit int
}

func (s *Supervisor) ensureRecord(n names.Instance, nr newRecord) (*inst, error) {
	if in := s.lookup(n); in != nil {
		return in, nil
	}
	svc := s.cfg.Services[n.Service]
	if svc == nil {
		return nil, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.insts[n]; in != nil {
		return in, nil
	}
	if nr.limit > 0 && s.counts[n.Service] >= nr.limit {
		return nil, fmt.Errorf("%w: service %s has max_instances (%d) instances", errdefs.ErrRateLimited, n.Service, nr.limit)
	}
	port, err := s.ports.allocate(n)
	if err != nil {
		return nil, err
	}
	rec := store.Instance{Service: n.Service, ID: n.ID, Port: port, Weight: nr.weight,
		ByRequest: nr.byRequest, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateInstance(rec); err != nil {
		s.ports.release(port)
		return nil, fmt.Errorf("remember %s: %w", n, err)
	}
	in := s.newInst(n, svc, rec)
	s.insts[n] = in
	s.counts[n.Service]++
	return in, nil
}

// DefaultWeight is the routing weight of a new instance: 0, so that a new
// instance (one customer's) never receives {service}.{domain} traffic until
// `ten weight`, `ten deploy` or `ten route` puts it in the service's pool.
const DefaultWeight = 0

// List returns every known instance, ordered by name. With accounting, it
// also reads memory and CPU use from systemd for running instances.
func (s *Supervisor) List(ctx context.Context, accounting bool) []Info {
	s.mu.RLock()
	all := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		all = append(all, in)
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name.String() < all[j].name.String() })
	out := make([]Info, len(all))
	for i, in := range all {
		out[i] = s.info(ctx, in, accounting)
	}
	return out
}

// Get returns one instance's Info, with accounting.
func (s *Supervisor) Get(ctx context.Context, n names.Instance) (Info, error) {
	in, err := s.known(n)
	if err != nil {
		return Info{}, err
	}
	return s.info(ctx, in, true), nil
}

func (s *Supervisor) info(ctx context.Context, in *inst, accounting bool) Info {
	in.mu.Lock()
	i := in.snapshot(time.Now(), s.dataDir(in.name))
	in.mu.Unlock()
	if accounting && (i.State == StateRunning || i.State == StateStarting) {
		if st, err := s.sd.State(ctx, in.unit); err == nil {
			if st.MemoryOK {
				i.MemoryBytes = &st.MemoryCurrent
			}
			if st.CPUOK {
				i.CPUNanos = &st.CPUUsageNSec
			}
		}
	}
	return i
}

// Services returns the configured services' names, sorted.
func (s *Supervisor) Services() []string {
	out := make([]string, 0, len(s.cfg.Services))
	for name := range s.cfg.Services {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Config returns the daemon's config.
func (s *Supervisor) Config() *config.Config { return s.cfg }

func (s *Supervisor) dataDir(n names.Instance) string {
	return units.DataDir(s.cfg.Settings.DataDir, n)
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
