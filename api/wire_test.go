package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tenement/tenement/journal"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// An instance and a log entry on the wire, with the original's names.
func TestWireNames(t *testing.T) {
	n := names.Instance{Service: "notes", ID: "alice"}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mem := uint64(1 << 20)
	info := supervisor.Info{Instance: n, Unit: n.Unit(), State: supervisor.StateRunning, Health: supervisor.HealthHealthy,
		Port: 21001, Addr: "127.0.0.1:21001", Weight: 100, Restarts: 2, MainPID: 42, Since: now.Add(-time.Hour),
		LastActive: now.Add(-90 * time.Second), MemoryBytes: &mem, DataDir: "/var/lib/tenement/notes/alice",
		Isolation: "process", Activation: "proxy"}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"instance", instanceOut(info, now), `{"id":"notes:alice","service":"notes","instance_id":"alice","unit":"tenement@notes-alice.service",` +
			`"state":"running","health":"healthy","port":21001,"socket":"127.0.0.1:21001","weight":100,"restarts":2,"main_pid":42,` +
			`"since":"2025-06-01T11:00:00Z","uptime_secs":3600,"idle_secs":90,"memory_bytes":1048576,"cpu_usage_nsec":null,` +
			`"data_dir":"/var/lib/tenement/notes/alice","isolation":"process","activation":"proxy","storage_used_bytes":null,"storage_quota_bytes":null}`},
		{"asleep", instanceOut(supervisor.Info{Instance: n, State: supervisor.StateAsleep, Health: supervisor.HealthUnknown}, now),
			`{"id":"notes:alice","service":"notes","instance_id":"alice","unit":"","state":"asleep","health":"unknown","port":0,"socket":"",` +
				`"weight":0,"restarts":0,"uptime_secs":0,"idle_secs":0,"memory_bytes":null,"cpu_usage_nsec":null,"data_dir":"","isolation":"",` +
				`"activation":"","storage_used_bytes":null,"storage_quota_bytes":null}`},
		{"log entry", logEntryOut(journal.Entry{Time: now.Add(123 * time.Millisecond), Instance: n, Priority: 3, Source: journal.SourceApp, PID: 7, Message: "boom"}),
			`{"time":"2025-06-01T12:00:00.123Z","timestamp":1748779200123,"instance":"notes:alice","process":"notes","instance_id":"alice",` +
				`"level":"err","priority":3,"source":"app","pid":7,"message":"boom"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil || string(b) != tc.want {
				t.Errorf("got  %s (%v)\nwant %s", b, err, tc.want)
			}
		})
	}
}
