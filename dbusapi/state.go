package dbusapi

import "time"

// Systemd's unit states, typed. The values are systemd's own strings, so a
// state read from the bus converts without a table; a value systemd adds
// later still converts and simply matches no constant.

// LoadState is whether systemd has loaded a unit's configuration.
type LoadState string

// Load states (systemd's unit_load_state_table).
const (
	Loaded     LoadState = "loaded"
	NotFound   LoadState = "not-found"
	BadSetting LoadState = "bad-setting"
	LoadError  LoadState = "error"
	Masked     LoadState = "masked"
	Stub       LoadState = "stub"
	Merged     LoadState = "merged"
)

// ActiveState is the state every unit type shares.
type ActiveState string

// Active states (systemd's unit_active_state_table).
const (
	Active       ActiveState = "active"
	Reloading    ActiveState = "reloading"
	Inactive     ActiveState = "inactive"
	Failed       ActiveState = "failed"
	Activating   ActiveState = "activating"
	Deactivating ActiveState = "deactivating"
	Maintenance  ActiveState = "maintenance"
)

// SubState is the state specific to a unit type. Only the ones tenement's
// services and sockets pass through are named; every other value systemd
// sends is kept as it is.
type SubState string

// Sub-states of services (service_state_table) and sockets
// (socket_state_table) that tenement looks at.
const (
	SubDead        SubState = "dead"         // service or socket: inactive
	SubStart       SubState = "start"        // service: ExecStart= running, not ready yet
	SubRunning     SubState = "running"      // service: main process up; socket: a service it activated runs
	SubExited      SubState = "exited"       // service: RemainAfterExit=yes and the process exited
	SubStopSigterm SubState = "stop-sigterm" // service: stopping, SIGTERM sent
	SubStopSigkill SubState = "stop-sigkill" // service: stopping, SIGKILL sent
	SubFailed      SubState = "failed"       // service or socket: failed, stays so until reset-failed
	SubAutoRestart SubState = "auto-restart" // service: crashed, waiting RestartSec= before systemd restarts it
	SubListening   SubState = "listening"    // socket: listening, no service running
)

// Field names a field of Unit. A Unit carries a mask of the fields it has
// values for: a signal carries some, a Snapshot others.
type Field uint32

// Fields of Unit.
const (
	FieldLoadState Field = 1 << iota
	FieldDescription
	FieldActiveState
	FieldSubState
	FieldActiveEnter
	FieldStateChange
	FieldInvocationID
	FieldMainPID
	FieldResult
	FieldNRestarts
	FieldExecMain // ExecMainCode and ExecMainStatus
	FieldEnvironment
)

// Groups of fields.
const (
	// UnitFields are the fields of the org.freedesktop.systemd1.Unit
	// interface that every PropertiesChanged signal on it carries.
	UnitFields = FieldActiveState | FieldSubState | FieldActiveEnter | FieldStateChange | FieldInvocationID
	// ServiceFields are the fields of the org.freedesktop.systemd1.Service
	// interface that every PropertiesChanged signal on it carries.
	ServiceFields = FieldMainPID | FieldResult | FieldNRestarts | FieldExecMain
	// ListFields come with every unit from ListUnitsByPatterns.
	ListFields = FieldLoadState | FieldDescription | FieldActiveState | FieldSubState
)

// Has reports whether f includes every field of g.
func (f Field) Has(g Field) bool { return f&g == g }

// Seq orders what one connection to systemd received: signals and the
// replies to calls, in the order systemd sent them. Seqs of an older
// connection (before a reconnect) come before those of a newer one. The
// zero Seq comes before every other.
type Seq struct {
	gen int    // the connection's generation, from 1
	n   uint64 // godbus's sequence number of the message on it
}

// Before reports whether s comes before o.
func (s Seq) Before(o Seq) bool {
	if s.gen != o.gen {
		return s.gen < o.gen
	}
	return s.n < o.n
}

// Unit is a unit's state as systemd reported it, in one signal or in a
// Snapshot. Fields says which fields have values: the rest are zero
// because the report did not include them, not because they are zero.
// Seq is when systemd reported it.
type Unit struct {
	Name   string
	Fields Field
	Seq    Seq

	LoadState   LoadState
	Description string
	ActiveState ActiveState
	SubState    SubState
	ActiveEnter time.Time // when the unit last entered "active"; zero if never
	StateChange time.Time // when ActiveState or SubState last changed
	// InvocationID identifies one run of the unit (hex); it changes on
	// every start, a restart by systemd included.
	InvocationID string

	// Service units only.
	MainPID        uint32
	Result         string // "success", "exit-code", "signal", "core-dump", "timeout", "start-limit-hit", ...
	NRestarts      uint32 // restarts by systemd (Restart=) since the unit was loaded or reset
	ExecMainCode   int32  // how the main process ended: CLD_EXITED (1), CLD_KILLED (2), CLD_DUMPED (3)
	ExecMainStatus int32  // its exit status or signal number
	Environment    []string
}

// Merge returns u updated with the fields o carries, unless o was reported
// before u (a signal queued before a Snapshot that already covers it),
// which changes nothing. Both must be of the same unit.
func (u Unit) Merge(o Unit) Unit {
	if o.Seq.Before(u.Seq) {
		return u
	}
	if u.Name == "" {
		u.Name = o.Name
	}
	u.Seq = o.Seq
	u.Fields |= o.Fields
	f := o.Fields
	if f&FieldLoadState != 0 {
		u.LoadState = o.LoadState
	}
	if f&FieldDescription != 0 {
		u.Description = o.Description
	}
	if f&FieldActiveState != 0 {
		u.ActiveState = o.ActiveState
	}
	if f&FieldSubState != 0 {
		u.SubState = o.SubState
	}
	if f&FieldActiveEnter != 0 {
		u.ActiveEnter = o.ActiveEnter
	}
	if f&FieldStateChange != 0 {
		u.StateChange = o.StateChange
	}
	if f&FieldInvocationID != 0 {
		u.InvocationID = o.InvocationID
	}
	if f&FieldMainPID != 0 {
		u.MainPID = o.MainPID
	}
	if f&FieldResult != 0 {
		u.Result = o.Result
	}
	if f&FieldNRestarts != 0 {
		u.NRestarts = o.NRestarts
	}
	if f&FieldExecMain != 0 {
		u.ExecMainCode, u.ExecMainStatus = o.ExecMainCode, o.ExecMainStatus
	}
	if f&FieldEnvironment != 0 {
		u.Environment = o.Environment
	}
	return u
}
