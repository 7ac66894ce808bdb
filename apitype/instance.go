package apitype

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenement/tenement/errdefs"
)

// State is an instance's lifecycle state.
type State string

// The states. An asleep instance has no unit: it wakes on its next request.
const (
	StateAsleep   State = "asleep"
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateStopping State = "stopping"
	StateFailed   State = "failed"
)

// StateUnknown is not a lifecycle state: it is what a host of a fleet
// shows for an instance that lives on another host, whose state is known
// only there.
const StateUnknown State = "unknown"

// States lists every state, in lifecycle order.
var States = []State{StateAsleep, StateStarting, StateRunning, StateStopping, StateFailed}

// ParseState returns the state named s, or an ErrInvalid error naming the
// states there are.
func ParseState(s string) (State, error) {
	if i := slices.Index(States, State(s)); i >= 0 {
		return States[i], nil
	}
	want := make([]string, len(States))
	for i, st := range States {
		want[i] = string(st)
	}
	return "", fmt.Errorf("%w: state %q: want %s", errdefs.ErrInvalid, s, strings.Join(want, ", "))
}

// Health is the result of an instance's health checks; it means something
// only while the instance runs ("unknown" otherwise).
type Health string

// The health values.
const (
	HealthUnknown   Health = "unknown"
	HealthHealthy   Health = "healthy"
	HealthDegraded  Health = "degraded"
	HealthUnhealthy Health = "unhealthy"
)

// Instance is one instance as GET /api/instances and GET
// /api/instances/{svc:id} show it.
type Instance struct {
	Name       string    `json:"id"` // "service:id", the original's name
	Service    string    `json:"service"`
	ID         string    `json:"instance_id"`
	Unit       string    `json:"unit"`
	State      State     `json:"state"`
	Health     Health    `json:"health"`
	Port       int       `json:"port"`   // 0 while asleep: an asleep instance holds no port
	Listen     string    `json:"socket"` // the listen address, under the original's name
	Weight     int       `json:"weight"`
	Restarts   int       `json:"restarts"`
	MainPID    uint32    `json:"main_pid,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	UptimeSecs int64     `json:"uptime_secs"`
	IdleSecs   int64     `json:"idle_secs"`
	LastWake   time.Time `json:"last_wake,omitzero"`
	// MemoryBytes and CPUNanos are null when not measured (not running,
	// or ?accounting=false).
	MemoryBytes  *uint64 `json:"memory_bytes"`
	CPUNanos     *uint64 `json:"cpu_usage_nsec"`
	Reason       string  `json:"reason,omitempty"` // why it failed or did not start
	DataDir      string  `json:"data_dir"`
	Isolation    string  `json:"isolation"`
	Activation   string  `json:"activation"`
	StorageBytes *int64  `json:"storage_used_bytes"`
	StorageQuota *int64  `json:"storage_quota_bytes"`
	// RestartPending: it runs with a config older than the one in force;
	// `ten restart` applies it.
	RestartPending bool `json:"restart_pending,omitempty"`
	// Orphaned: its service is no longer configured; it runs until stopped
	// or deleted, and is never woken.
	Orphaned bool `json:"orphaned,omitempty"`
	// KeepAwakeUntil is when its keep-awake (its own, or its service's
	// window now) ends; zero without one.
	KeepAwakeUntil time.Time `json:"keep_awake_until,omitzero"`
	// Throttled: idle, running with lowered CPU and memory until its next
	// request (idle_action = "throttle").
	Throttled bool `json:"throttled,omitempty"`
	// Domains are the custom domains bound to it (ten domain add), sorted;
	// absent when none.
	Domains []string `json:"domains,omitempty"`
	// Host is the fleet host the instance lives on (absent outside a
	// fleet). An instance of another host has only its name, unit and
	// host, and state "unknown".
	Host string `json:"host,omitempty"`
	// HostDown: its host's lease has expired (the host is stopped, or cut
	// off from etcd): requests for it get 503.
	HostDown bool `json:"host_down,omitempty"`
}

// SpawnRequest is the body of POST /api/instances/spawn. Process is the
// original's name for Service.
type SpawnRequest struct {
	Service string `json:"service,omitempty"`
	Process string `json:"process,omitempty"`
	ID      string `json:"id"`
	// Host, in a fleet, names the host to place a new instance on;
	// default: the live host with the most free capacity.
	Host string `json:"host,omitempty"`
}

// InstanceResponse answers spawn and restart: the original's fields and
// the instance's state.
type InstanceResponse struct {
	Instance string `json:"instance"`
	Socket   string `json:"socket"`
	Port     int    `json:"port"`
	State    State  `json:"state"`
	Unit     string `json:"unit"`
	// Host is the fleet host it runs on (absent outside a fleet); Socket
	// is an address on that host.
	Host string `json:"host,omitempty"`
}

// MaxCreate is the most instances one POST /api/instances registers.
const MaxCreate = 10000

// CreateRequest is the body of POST /api/instances: instances to register
// asleep, "service:id" each.
type CreateRequest struct {
	Instances []string `json:"instances"`
	// Host, in a fleet, names the host to place them on; default: each
	// goes to the live host with the most free capacity.
	Host string `json:"host,omitempty"`
}

// CreateResponse says how many instances were new; the others were known
// already and are left as they were.
type CreateResponse struct {
	Created int `json:"created"`
	Known   int `json:"known"`
	// Hosts, in a fleet, counts the new instances by the host they were
	// placed on.
	Hosts map[string]int `json:"hosts,omitempty"`
}

// DeleteRequest is the (optional) body of POST /api/instances/{id}/delete.
type DeleteRequest struct {
	Purge bool `json:"purge"`
}

// WeightRequest is the body of PUT /api/instances/{id}/weight.
type WeightRequest struct {
	Weight *int `json:"weight"`
}

// WeightResponse answers a weight change.
type WeightResponse struct {
	Instance string `json:"instance"`
	Weight   int    `json:"weight"`
}

// HealthResponse answers a health check made now.
type HealthResponse struct {
	Instance string `json:"instance"`
	Health   Health `json:"health"`
	State    State  `json:"state"`
}

// StorageResponse answers GET /api/instances/{id}/storage: the data dir's
// use, measured now. QuotaBytes and UsagePercent are null without a
// storage_quota_mb.
type StorageResponse struct {
	Instance     string   `json:"instance"`
	UsedBytes    int64    `json:"used_bytes"`
	QuotaBytes   *int64   `json:"quota_bytes"`
	UsagePercent *float64 `json:"usage_percent"`
	Path         string   `json:"path"`
}

// KeepAwakeRequest is the body of POST /api/instances/{id}/keep-awake:
// keep the instance from sleeping for a while; 0 ends a keep-awake.
type KeepAwakeRequest struct {
	For Duration `json:"for"`
}

// KeepAwakeResponse says until when the instance stays awake (absent: it
// may sleep again).
type KeepAwakeResponse struct {
	Instance string    `json:"instance"`
	Until    time.Time `json:"until,omitzero"`
}

// Summary answers GET /api/summary: counts over the instances the caller
// may read, for the dashboard. The activity counts cover the time since the
// daemon started.
type Summary struct {
	Scope           string        `json:"scope"` // "admin" or "tenant"
	Tenant          string        `json:"tenant,omitempty"`
	Instances       int           `json:"instances"`
	States          map[State]int `json:"states"` // every state, with 0s
	Restarts        int           `json:"restarts"`
	WakesLastMinute int           `json:"wakes_last_minute"`
	Wakes           uint64        `json:"wakes_total"`
	WakeErrors      uint64        `json:"wake_errors_total"`
	Requests        uint64        `json:"requests_total"`
	// WakesByCause counts the wakes by cause: request, spawn, deploy,
	// schedule (every cause, with 0s).
	WakesByCause map[string]uint64 `json:"wakes_by_cause"`
	// WakeAvgMS is the mean time of the successful wakes, in
	// milliseconds (to 0.1 ms); 0 without any.
	WakeAvgMS float64 `json:"wake_avg_ms"`
	// AsleepSecs is the time the instances spent asleep, counted when
	// each woke.
	AsleepSecs float64 `json:"asleep_seconds_total"`
	// Probes counts the requests tenement answered for asleep instances
	// without waking them (probe_paths, no_wake_user_agents).
	Probes uint64    `json:"probes_answered_total"`
	Time   time.Time `json:"time"`
}
