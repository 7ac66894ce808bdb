package dbusapi

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
