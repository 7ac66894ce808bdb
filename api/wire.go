package api

import (
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/journal"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// The server's own types are mapped to the wire's (package apitype) here,
// at the edge: the supervisor's snapshot gains the original's
// compatibility fields ("id", "instance_id", "socket"), the journal's
// entries theirs ("process", "timestamp").

// instanceOut is an instance as the API shows it, at now.
func instanceOut(i supervisor.Info, now time.Time) apitype.Instance {
	out := apitype.Instance{
		Name:           i.Instance.String(),
		Service:        i.Instance.Service,
		ID:             i.Instance.ID,
		Unit:           i.Unit,
		State:          i.State,
		Health:         i.Health,
		Port:           i.Port,
		Listen:         i.Addr,
		Weight:         i.Weight,
		Restarts:       i.Restarts,
		MainPID:        i.MainPID,
		Since:          i.Since,
		LastWake:       i.LastWake,
		MemoryBytes:    i.MemoryBytes,
		CPUNanos:       i.CPUNanos,
		Reason:         i.Reason,
		DataDir:        i.DataDir,
		Isolation:      i.Isolation,
		Activation:     i.Activation,
		StorageBytes:   i.StorageBytes,
		StorageQuota:   i.StorageQuota,
		RestartPending: i.RestartPending,
		Orphaned:       i.Orphaned,
		KeepAwakeUntil: i.KeepAwakeUntil,
		Throttled:      i.Throttled,
		Domains:        i.Domains,
		Host:           i.Host,
		HostDown:       i.HostDown,
	}
	if !i.Since.IsZero() {
		out.UptimeSecs = int64(now.Sub(i.Since) / time.Second)
	}
	if !i.LastActive.IsZero() {
		out.IdleSecs = int64(now.Sub(i.LastActive) / time.Second)
	}
	return out
}

// instanceResponse answers spawn and restart.
func instanceResponse(i supervisor.Info) apitype.InstanceResponse {
	return apitype.InstanceResponse{Instance: i.Instance.String(), Socket: i.Addr, Port: i.Port, State: i.State, Unit: i.Unit, Host: i.Host}
}

// logEntryOut is a journal entry as the API shows it.
func logEntryOut(e journal.Entry) apitype.LogEntry {
	out := apitype.LogEntry{Time: e.Time, Instance: e.Instance.String(), Process: e.Instance.Service, InstanceID: e.Instance.ID,
		Level: e.Level(), Priority: e.Priority, Source: e.Source, PID: e.PID, Message: e.Message}
	if !e.Time.IsZero() {
		out.Timestamp = e.Time.UnixMilli()
	}
	return out
}

// tokenInfo describes a stored token, without its hash.
func tokenInfo(t store.Token) apitype.TokenInfo {
	return apitype.TokenInfo{ID: t.ID, Tenant: t.Tenant, Admin: t.Tenant == "", Description: t.Description, CreatedAt: t.CreatedAt}
}
