package dbusapi

import (
	"strings"
	"sync/atomic"

	godbus "github.com/godbus/dbus/v5"
)

// Unit state from systemd's signals.
//
// What systemd 252 sends (measured in the test manager with a raw
// subscriber: a start and stop, a crash with Restart=on-failure up to its
// start limit, a socket-activated start):
//
//   - Every change of a unit's state is two PropertiesChanged signals,
//     first on the type's interface (Service, Socket), then on Unit, sent
//     back to back ("clients may rely on this order to get atomic
//     behavior", systemd's dbus-unit.c). Each carries, with values, every
//     property of its interface flagged "emits change", changed or not:
//     Unit: ActiveState, SubState, the Active/Inactive Enter/Exit,
//     StateChange, Condition and Assert timestamps, InvocationID, Job,
//     FreezerState, ActivationDetails; Service: MainPID, ControlPID,
//     Result, NRestarts, ExecMainCode, ExecMainStatus, ExecMainPID, the
//     ExecMain timestamps, StatusText, StatusErrno, UID, GID,
//     ReloadResult, CleanResult; Socket: Result, ControlPID, UID, GID.
//     Only invalidated (named, no value): Unit.Conditions, Unit.Asserts,
//     the Exec* command lists. Never signalled: LoadState, Description,
//     Environment and the rest of the configuration, and the accounting
//     (MemoryCurrent, CPUUsageNSec, TasksCurrent, IP and IO counters):
//     read those from ListUnitsByPatterns, a Snapshot or the cgroup files.
//   - systemd flushes a unit's pending signal before each state change,
//     so every transition is seen, in order, often twice (the flush and
//     the queue both send it: harmless, each signal is the whole state).
//     A start: UnitNew, inactive/dead, activating/start, active/running,
//     then JobRemoved "done"; the unit's signals always come before the
//     JobRemoved of a job on it (systemd sends pending unit changes first).
//   - A crash with Restart=on-failure passes through failed/failed
//     (Result "exit-code", MainPID 0) and, in the same instant,
//     activating/auto-restart; after RestartSec NRestarts goes up (still
//     auto-restart), a restart job runs: inactive/dead (Result back to
//     "success"), activating/start, active/running with the new MainPID.
//     When the start limit refuses the restart: auto-restart,
//     inactive/dead, failed/failed, JobRemoved "failed". So a failed
//     signal alone does not mean systemd gave up: with Restart= set,
//     auto-restart follows it unless the restart is refused.
//   - A socket-activated start: the socket goes listening -> running, its
//     service inactive -> active/running (no UnitNew: the service was
//     loaded with the socket), and back to listening and inactive/dead.
//   - Reading the properties of a unit systemd does not have (State of a
//     stopped unit) loads a not-found unit for a moment: UnitNew, then
//     UnitRemoved.
//   - daemon-reload: Reloading(true), UnitRemoved and UnitNew for every
//     unit, running ones included, Reloading(false), and no state after:
//     the units kept theirs. daemon-reexec starts the same way, then
//     closes the private socket's connections (on the system bus systemd
//     comes back under a new unique name). The decoder hides the
//     removals and follows with a Resync.

// EventKind says what an Event reports.
type EventKind uint8

// Kinds of Event.
const (
	// EventResync: events may have been lost (the stream just started,
	// the connection was replaced, the reader fell behind, systemd
	// reloaded or re-executed). Rebuild from a Snapshot.
	EventResync EventKind = iota + 1
	// EventNew: systemd loaded the unit (UnitNew). It carries no state,
	// and none comes until the unit changes: a started unit's first
	// EventChanged follows at once, a socket's service stays inactive
	// without one until its first connection.
	EventNew
	// EventChanged: the unit's state (PropertiesChanged), in Unit.Fields.
	EventChanged
	// EventRemoved: systemd unloaded the unit (UnitRemoved).
	EventRemoved
	// EventJobRemoved: a job on the unit ended (JobRemoved), with
	// JobResult "done", "failed", "canceled", "timeout", "dependency"
	// or "skipped". Its unit's state changes came before it.
	EventJobRemoved
)

func (k EventKind) String() string {
	switch k {
	case EventResync:
		return "resync"
	case EventNew:
		return "new"
	case EventChanged:
		return "changed"
	case EventRemoved:
		return "removed"
	case EventJobRemoved:
		return "job-removed"
	}
	return "unknown"
}

// Event is what one of systemd's signals says about a unit. Unit.Name and
// Unit.Seq are always set (except for EventResync); Unit.Fields says which
// state fields the signal carried.
type Event struct {
	Kind      EventKind
	Unit      Unit
	JobID     uint32 // EventJobRemoved
	JobResult string // EventJobRemoved
}

// Signal names.
const (
	sigPropertiesChanged = "org.freedesktop.DBus.Properties.PropertiesChanged"
	sigUnitNew           = "org.freedesktop.systemd1.Manager.UnitNew"
	sigUnitRemoved       = "org.freedesktop.systemd1.Manager.UnitRemoved"
	sigJobRemoved        = "org.freedesktop.systemd1.Manager.JobRemoved"
	sigReloading         = "org.freedesktop.systemd1.Manager.Reloading"
	sigNameOwnerChanged  = "org.freedesktop.DBus.NameOwnerChanged"
	systemdName          = "org.freedesktop.systemd1"
	busName              = "org.freedesktop.DBus"
)

// tap is where one connection's decoded events go, set when the stream is
// attached to the connection.
type tap struct {
	w   *stream
	gen int // Seq generation of the connection
	// bus is true on the system bus, where anyone may send a signal with
	// a systemd path: only those from sender (systemd's unique name, kept
	// current from NameOwnerChanged) count. On the private socket only
	// systemd sends.
	bus    bool
	sender string
}

// decoder turns the signals of one connection into Events. Only the
// connection's reader goroutine uses it.
type decoder struct {
	t       *tap
	label   string // busLabel of the prefix, "" for every unit
	sender  string
	pending *Event // a type-specific PropertiesChanged awaiting its Unit one
	// reloading: between Reloading(true) and Reloading(false), where
	// systemd sends UnitRemoved and UnitNew for every unit it reloads.
	reloading bool
}

// reset starts decoding for t.
func (d *decoder) reset(t *tap) {
	d.t, d.sender, d.pending, d.reloading = t, t.sender, nil, false
	d.label = ""
	if t.w.prefix != "" {
		d.label = busLabel(t.w.prefix)
	}
}

// decode emits the events sig means.
func (d *decoder) decode(sig *godbus.Signal, emit func(Event)) {
	if sig.Name == sigNameOwnerChanged {
		d.ownerChanged(sig, emit)
		return
	}
	if d.t.bus && (d.sender == "" || sig.Sender != d.sender) {
		return // not from systemd
	}
	seq := Seq{gen: d.t.gen, n: uint64(sig.Sequence)}
	switch sig.Name {
	case sigPropertiesChanged:
		d.propertiesChanged(sig, seq, emit)
	case sigReloading:
		d.reload(sig, emit)
	case sigUnitNew, sigUnitRemoved:
		name, _ := arg[string](sig, 0)
		if !d.wanted(name) || d.reloading {
			return
		}
		kind := EventNew
		if sig.Name == sigUnitRemoved {
			kind = EventRemoved
		}
		d.flush(emit)
		emit(Event{Kind: kind, Unit: Unit{Name: name, Seq: seq}})
	case sigJobRemoved:
		id, _ := arg[uint32](sig, 0)
		name, _ := arg[string](sig, 2)
		result, _ := arg[string](sig, 3)
		if !d.wanted(name) {
			return
		}
		d.flush(emit)
		emit(Event{Kind: EventJobRemoved, Unit: Unit{Name: name, Seq: seq}, JobID: id, JobResult: result})
	}
}

// propertiesChanged decodes a PropertiesChanged signal on a unit. The
// type-specific one is held until the Unit one that systemd sends right
// after it, and the two go out as one event.
func (d *decoder) propertiesChanged(sig *godbus.Signal, seq Seq, emit func(Event)) {
	label, ok := strings.CutPrefix(string(sig.Path), unitPathPrefix)
	if !ok || !strings.HasPrefix(label, d.label) {
		return
	}
	name, ok := unitName(sig.Path)
	iface, ok2 := arg[string](sig, 0)
	changed, ok3 := arg[map[string]godbus.Variant](sig, 1)
	if !ok || !ok2 || !ok3 {
		return
	}
	ev := Event{Kind: EventChanged, Unit: Unit{Name: name, Seq: seq}}
	for _, p := range props {
		if p.iface != iface {
			continue
		}
		if v, ok := changed[p.name]; ok && p.set(&ev.Unit, v.Value()) {
			ev.Unit.Fields |= p.field
		}
	}
	if iface != ifaceUnit {
		d.flush(emit)
		d.pending = &ev
		return
	}
	if d.pending != nil && d.pending.Unit.Name == name {
		ev.Unit = d.pending.Unit.Merge(ev.Unit)
		d.pending = nil
	}
	d.flush(emit)
	emit(ev)
}

// reload hides a daemon-reload (and the start of a daemon-reexec): systemd
// frees every unit, which sends UnitRemoved for each, then loads them
// again, which sends UnitNew, and signals no state for them after: they
// kept it. A Resync follows all the same, as nothing else says that no
// state changed in between.
func (d *decoder) reload(sig *godbus.Signal, emit func(Event)) {
	active, ok := arg[bool](sig, 0)
	if !ok {
		return
	}
	d.flush(emit)
	if d.reloading && !active {
		emit(Event{Kind: EventResync})
	}
	d.reloading = active
}

// ownerChanged follows systemd's unique name on the system bus: it
// changes when systemd re-executes or reconnects to the bus. Whatever
// happened while it was away is lost: a Resync follows its return.
func (d *decoder) ownerChanged(sig *godbus.Signal, emit func(Event)) {
	name, _ := arg[string](sig, 0)
	owner, _ := arg[string](sig, 2)
	if !d.t.bus || sig.Sender != busName || name != systemdName || owner == d.sender {
		return
	}
	d.sender, d.pending = owner, nil
	if owner != "" {
		emit(Event{Kind: EventResync})
	}
}

// flush emits a held type-specific event on its own.
func (d *decoder) flush(emit func(Event)) {
	if d.pending != nil {
		emit(*d.pending)
		d.pending = nil
	}
}

func (d *decoder) wanted(name string) bool {
	return name != "" && strings.HasPrefix(name, d.t.w.prefix)
}

// arg returns argument i of a signal, if it has type T.
func arg[T any](sig *godbus.Signal, i int) (T, bool) {
	var zero T
	if i >= len(sig.Body) {
		return zero, false
	}
	v, ok := sig.Body[i].(T)
	return v, ok
}

// sigHandler is the signal handler of each connection go-systemd dials.
// go-systemd keeps two connections, one for calls and one for signals
// (where it registers the channel that collects job results), and does
// not expose them: the handler of the signal connection is the one
// go-systemd registers a channel with. Its signals are decoded here, on
// the connection's reader goroutine and so in order, before go-systemd
// sees them: an event is queued before the job result that follows it
// reaches StartTransient's caller.
type sigHandler struct {
	conn     *godbus.Conn
	private  bool                 // systemd's private socket, not the system bus
	inner    godbus.SignalHandler // go-systemd's channels, in order
	listened atomic.Bool          // go-systemd registered a channel here
	tap      atomic.Pointer[tap]
	dec      decoder // the reader goroutine's
}

var (
	_ godbus.SignalHandler   = (*sigHandler)(nil)
	_ godbus.SignalRegistrar = (*sigHandler)(nil)
	_ godbus.Terminator      = (*sigHandler)(nil)
)

func newSigHandler() *sigHandler {
	return &sigHandler{inner: godbus.NewSequentialSignalHandler()}
}

// DeliverSignal is called by godbus's reader goroutine for each signal.
func (h *sigHandler) DeliverSignal(iface, name string, sig *godbus.Signal) {
	if t := h.tap.Load(); t != nil {
		if h.dec.t != t {
			h.dec.reset(t)
		}
		h.dec.decode(sig, t.w.send)
	}
	h.inner.DeliverSignal(iface, name, sig)
}

// Terminate is called by godbus when the connection closes; it closes
// go-systemd's channels, which ends go-systemd's dispatcher.
func (h *sigHandler) Terminate() { h.inner.(godbus.Terminator).Terminate() }

func (h *sigHandler) AddSignal(ch chan<- *godbus.Signal) {
	h.listened.Store(true)
	h.inner.(godbus.SignalRegistrar).AddSignal(ch)
}

func (h *sigHandler) RemoveSignal(ch chan<- *godbus.Signal) {
	h.inner.(godbus.SignalRegistrar).RemoveSignal(ch)
}
