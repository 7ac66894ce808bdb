package supervisor

import (
	"sync"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// State is an instance's lifecycle state, and Health the result of its
// health checks (meaningful only while it runs): the API's, which
// publishes their names (apitype). Asleep instances have no unit: they
// wake on the next request.
type (
	State  = apitype.State
	Health = apitype.Health
)

// The states and health values, under the supervisor's names.
const (
	StateAsleep, StateStarting, StateRunning, StateStopping, StateFailed = apitype.StateAsleep, apitype.StateStarting,
		apitype.StateRunning, apitype.StateStopping, apitype.StateFailed
	HealthUnknown, HealthHealthy, HealthDegraded, HealthUnhealthy = apitype.HealthUnknown, apitype.HealthHealthy,
		apitype.HealthDegraded, apitype.HealthUnhealthy
)

// unhealthyAfter is how many failed checks in a row make an instance
// unhealthy (and restarted); fewer make it degraded.
const unhealthyAfter = 3

// op is an operation others may wait for: a start (with readiness) or a
// stop. err is set before done is closed.
type op struct {
	done   chan struct{}
	err    error
	cancel func()
}

func newOp() *op { return &op{done: make(chan struct{})} }

func (o *op) finish(err error) {
	o.err = err
	close(o.done)
}

// inst is the daemon's view of one instance. mu guards every field below
// it; name and unit never change.
type inst struct {
	name names.Instance
	unit string

	// recMu serialises changes to the stored record (store, then rec).
	recMu sync.Mutex

	mu  sync.Mutex
	svc *config.Service
	rec store.Instance

	state  State
	health Health
	fails  int    // consecutive failed health checks
	reason string // why the instance last failed or did not start

	start *op // the start in progress (starting), or nil
	stop  *op // the stop in progress (stopping), or nil

	// systemd's view of the instance's units, kept by the event loop
	// (events.go) from systemd's signals; nothing reads systemd per
	// instance. A unit that is not loaded has loaded false.
	svcUnit    dbusapi.Unit
	svcLoaded  bool
	sockUnit   dbusapi.Unit
	sockLoaded bool
	sockUp     bool // the .socket unit listens (activation = "socket")
	// restarting is true while systemd restarts a crashed app (from
	// auto-restart until the new run is active): the "inactive" it
	// passes through on the way is not an exit.
	restarting bool
	// restartDead is true once a restart reached inactive/dead without
	// activating yet; finalFail that the unit failed for good (events.go,
	// followRestart).
	restartDead, finalFail bool
	// changed is closed and replaced whenever the event loop changes the
	// units' state: waiters take the current one under mu, check, wait.
	changed chan struct{}

	// owned is true while a unit of this daemon exists for the instance:
	// only then do unit events apply to it.
	owned bool
	// nrestarts is NRestarts of the current unit, already counted in
	// rec.Restarts.
	nrestarts uint32
	// pendingFail is armed when the unit failed and systemd may still
	// restart it (an auto-restart follows at once when it does).
	pendingFail *time.Timer

	// port is the instance's TCP port while it has a unit (0 asleep: an
	// asleep instance holds no port); lastPort is the one it had, tried
	// first at the next wake.
	port, lastPort int

	marking bool // the first 2xx of a ByRequest instance is being stored
	// fenced keeps the instance from waking while it moves to another
	// host of a fleet (fleet.go).
	fenced bool

	// orphaned is true when the instance's service is no longer in the
	// config (reload.go): it is listed, adopted, stopped and deleted, but
	// never woken. runPrint is the fingerprint of the config its unit was
	// started with: when the service's differs, a restart is pending.
	orphaned bool
	runPrint string

	inflight    int                     // requests the proxy holds
	streams     map[*streamRef]struct{} // open streams (lease.go)
	throttled   bool                    // idle_action = "throttle" lowered it
	keepUntil   time.Time               // keep-awake of its own (KeepAwake)
	asleepSince time.Time               // when it last went to sleep
	lastActive  time.Time               // end of the last request, or when it woke
	lastWake    time.Time
	since       time.Time // running since

	healthRestarts []time.Time // daemon restarts inside the restart window
	gen            uint64      // bumped when a run ends: its loops and timers quit
	idle           *time.Timer
	pending        *time.Timer // a scheduled health restart

	// storage is the data dir's last measured size (storage.go); it has
	// its own lock.
	storage storageState
}

// notify wakes everyone waiting for a change of the units' state. The
// caller holds in.mu.
func (in *inst) notify() {
	close(in.changed)
	in.changed = make(chan struct{})
}

// Info is a snapshot of an instance, for the API (which shows it as an
// apitype.Instance), the metrics and the proxy.
type Info struct {
	Instance names.Instance
	Unit     string
	State    State
	Health   Health // HealthUnknown unless running
	Port     int    // 0 while it holds no port (asleep)
	Addr     string // where the app listens, host:port; "" without a port
	Weight   int
	Restarts int
	MainPID  uint32
	// Since is when it began running (zero unless running); LastActive
	// when its last request ended, or when it woke; LastWake when it last
	// woke.
	Since, LastActive, LastWake time.Time
	// MemoryBytes and CPUNanos are nil unless running and measured
	// (ListOptions.Accounting).
	MemoryBytes *uint64
	CPUNanos    *uint64
	Reason      string // why it failed or did not start
	DataDir     string
	Isolation   string
	Activation  string
	// StorageBytes is the data dir's last measured size; StorageQuota its
	// storage_quota_mb in bytes. nil: not measured yet, no quota.
	StorageBytes *int64
	StorageQuota *int64
	// RestartPending: it runs with a config older than the one in force
	// (a reload changed its service); `ten restart` applies it.
	RestartPending bool
	// Orphaned: its service is no longer configured; it keeps running
	// until stopped or deleted, and is never woken.
	Orphaned bool
	// KeepAwakeUntil is when its keep-awake (its own, or its service's
	// window now) ends; zero without one.
	KeepAwakeUntil time.Time
	// Throttled: idle, running with lowered CPU and memory
	// (idle_action = "throttle") until the next request.
	Throttled bool
	// Domains are the custom domains bound to it, sorted (shared: do not
	// change).
	Domains []string
	// Host is the fleet host the instance lives on, and HostDown that
	// the host's lease expired: the fleet's view fills them in (package
	// fleetops); the supervisor leaves them empty.
	Host     string
	HostDown bool
}

// snapshot returns the instance's Info; the caller holds in.mu.
func (in *inst) snapshot(now time.Time, dataDir string) Info {
	i := Info{
		Instance:   in.name,
		Unit:       in.unit,
		State:      in.state,
		Health:     in.health,
		Port:       in.port,
		Weight:     in.rec.Weight,
		Restarts:   in.rec.Restarts,
		LastWake:   in.lastWake,
		LastActive: in.lastActive,
		Reason:     in.reason,
		DataDir:    dataDir,
		Isolation:  in.svc.Isolation,
		Activation: in.svc.Activation,
	}
	if in.port > 0 {
		i.Addr = addr(in.port)
	}
	if now.Before(in.keepUntil) {
		i.KeepAwakeUntil = in.keepUntil
	}
	if ok, until := in.svc.KeepAwakeAt(now); ok && until.After(i.KeepAwakeUntil) {
		i.KeepAwakeUntil = until
	}
	i.Throttled = in.throttled
	if in.state != StateRunning {
		i.Health = HealthUnknown
	}
	if in.state == StateRunning || in.state == StateStarting {
		i.MainPID = in.svcUnit.MainPID
	}
	if in.state == StateRunning {
		i.Since = in.since
	}
	i.StorageBytes = in.storage.used()
	if q := in.svc.StorageQuotaMB; q > 0 {
		b := int64(q) << 20
		i.StorageQuota = &b
	}
	return i
}
