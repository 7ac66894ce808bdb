package dbusapi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// Signals as systemd sends them (see the measurement in signals.go).

func propsSignal(seq uint64, sender, unit, iface string, changed map[string]any) *godbus.Signal {
	m := make(map[string]godbus.Variant, len(changed))
	for k, v := range changed {
		m[k] = godbus.MakeVariant(v)
	}
	return &godbus.Signal{
		Sender: sender, Path: unitPath(unit), Name: sigPropertiesChanged, Sequence: godbus.Sequence(seq),
		Body: []any{iface, m, []string{"Conditions", "Asserts"}},
	}
}

func unitSignal(seq uint64, active, sub string) func(sender, unit string) *godbus.Signal {
	return func(sender, unit string) *godbus.Signal {
		return propsSignal(seq, sender, unit, ifaceUnit, map[string]any{
			"ActiveState": active, "SubState": sub,
			"ActiveEnterTimestamp": uint64(1_700_000_000_000_000), "StateChangeTimestamp": uint64(1_700_000_000_500_000),
			"InvocationID": []byte{0xab, 0xcd}, "Job": struct {
				ID   uint32
				Path godbus.ObjectPath
			}{0, "/"},
			"FreezerState": "running",
		})
	}
}

func serviceSignal(seq uint64, pid uint32, result string, restarts uint32, code, status int32) func(sender, unit string) *godbus.Signal {
	return func(sender, unit string) *godbus.Signal {
		return propsSignal(seq, sender, unit, ifaceService, map[string]any{
			"MainPID": pid, "Result": result, "NRestarts": restarts, "ExecMainCode": code, "ExecMainStatus": status,
			"ControlPID": uint32(0), "StatusText": "",
		})
	}
}

func managerSignal(seq uint64, sender, member string, body ...any) *godbus.Signal {
	return &godbus.Signal{Sender: sender, Path: "/org/freedesktop/systemd1", Name: "org.freedesktop.systemd1.Manager." + member,
		Sequence: godbus.Sequence(seq), Body: body}
}

// render shows what a test cares about in an event.
func render(ev Event) string {
	u := ev.Unit
	s := ev.Kind.String()
	if ev.Kind == EventResync {
		return s
	}
	s += fmt.Sprintf(" %s #%d", u.Name, u.Seq.n)
	if u.Fields.Has(FieldActiveState | FieldSubState) {
		s += fmt.Sprintf(" %s/%s", u.ActiveState, u.SubState)
	}
	if u.Fields.Has(FieldMainPID) {
		s += fmt.Sprintf(" pid=%d", u.MainPID)
	}
	if u.Fields.Has(FieldResult) {
		s += " result=" + u.Result
	}
	if u.Fields.Has(FieldNRestarts) {
		s += fmt.Sprintf(" restarts=%d", u.NRestarts)
	}
	if u.Fields.Has(FieldExecMain) {
		s += fmt.Sprintf(" exit=%d/%d", u.ExecMainCode, u.ExecMainStatus)
	}
	if ev.Kind == EventJobRemoved {
		s += fmt.Sprintf(" job=%d:%s", ev.JobID, ev.JobResult)
	}
	return s
}

func TestDecode(t *testing.T) {
	const (
		unit    = "tenement@a-b.service"
		systemd = ":1.0"
	)
	tests := []struct {
		name    string
		bus     bool
		prefix  string
		signals []*godbus.Signal
		want    []string
	}{{
		name: "a state change is one event with both interfaces",
		signals: []*godbus.Signal{
			serviceSignal(7, 150, "success", 0, 0, 0)("", unit),
			unitSignal(8, "active", "running")("", unit),
		},
		want: []string{"changed tenement@a-b.service #8 active/running pid=150 result=success restarts=0 exit=0/0"},
	}, {
		name: "a crash",
		signals: []*godbus.Signal{
			serviceSignal(58, 0, "exit-code", 0, 1, 3)("", unit),
			unitSignal(59, "failed", "failed")("", unit),
			serviceSignal(61, 0, "exit-code", 0, 1, 3)("", unit),
			unitSignal(62, "activating", "auto-restart")("", unit),
		},
		want: []string{
			"changed tenement@a-b.service #59 failed/failed pid=0 result=exit-code restarts=0 exit=1/3",
			"changed tenement@a-b.service #62 activating/auto-restart pid=0 result=exit-code restarts=0 exit=1/3",
		},
	}, {
		name: "unit new, removed, job removed",
		signals: []*godbus.Signal{
			managerSignal(1, "", "UnitNew", unit, unitPath(unit)),
			managerSignal(2, "", "JobNew", uint32(41), godbus.ObjectPath("/org/freedesktop/systemd1/job/41"), unit),
			managerSignal(3, "", "JobRemoved", uint32(41), godbus.ObjectPath("/org/freedesktop/systemd1/job/41"), unit, "done"),
			managerSignal(4, "", "UnitRemoved", unit, unitPath(unit)),
		},
		want: []string{"new tenement@a-b.service #1", "job-removed tenement@a-b.service #3 job=41:done", "removed tenement@a-b.service #4"},
	}, {
		name: "a daemon-reload unloads and reloads every unit: hidden, then a resync",
		signals: []*godbus.Signal{
			managerSignal(1, "", "Reloading", true),
			managerSignal(2, "", "UnitRemoved", unit, unitPath(unit)),
			managerSignal(3, "", "UnitNew", unit, unitPath(unit)),
			managerSignal(4, "", "Reloading", false),
			managerSignal(5, "", "UnitRemoved", unit, unitPath(unit)),
		},
		want: []string{"resync", "removed tenement@a-b.service #5"},
	}, {
		name: "other units are skipped",
		signals: []*godbus.Signal{
			serviceSignal(1, 9, "success", 0, 0, 0)("", "nginx.service"),
			unitSignal(2, "active", "running")("", "nginx.service"),
			unitSignal(3, "active", "active")("", "system-tenement.slice"),
			unitSignal(4, "active", "active")("", "tenement.slice"),
			managerSignal(5, "", "UnitNew", "nginx.service", unitPath("nginx.service")),
			managerSignal(6, "", "JobRemoved", uint32(1), godbus.ObjectPath("/org/freedesktop/systemd1/job/1"), "nginx.service", "done"),
		},
	}, {
		name:   "no prefix: every unit",
		prefix: "-",
		signals: []*godbus.Signal{
			unitSignal(3, "active", "active")("", "system-tenement.slice"),
		},
		want: []string{"changed system-tenement.slice #3 active/active"},
	}, {
		name: "a type-specific signal not followed by its Unit one goes out alone",
		signals: []*godbus.Signal{
			serviceSignal(1, 150, "success", 0, 0, 0)("", unit),
			unitSignal(2, "active", "running")("", "tenement@c-d.service"),
			propsSignal(3, "", "tenement@c-d.socket", ifaceSocket, map[string]any{"Result": "success", "NConnections": uint32(1)}),
			managerSignal(4, "", "UnitRemoved", unit, unitPath(unit)),
		},
		want: []string{
			"changed tenement@a-b.service #1 pid=150 result=success restarts=0 exit=0/0",
			"changed tenement@c-d.service #2 active/running",
			"changed tenement@c-d.socket #3 result=success",
			"removed tenement@a-b.service #4",
		},
	}, {
		name: "values of the wrong type are left out, malformed signals skipped",
		signals: []*godbus.Signal{
			propsSignal(1, "", unit, ifaceUnit, map[string]any{"ActiveState": uint32(1), "SubState": "running"}),
			{Path: unitPath(unit), Name: sigPropertiesChanged, Sequence: 2, Body: []any{ifaceUnit}},
			{Path: unitPath(unit), Name: sigPropertiesChanged, Sequence: 3, Body: []any{uint32(5), map[string]godbus.Variant{}}},
			managerSignal(4, "", "UnitNew"),
			managerSignal(5, "", "JobRemoved", "x"),
		},
		want: []string{"changed tenement@a-b.service #1"},
	}, {
		name: "system bus: only systemd's signals count",
		bus:  true,
		signals: []*godbus.Signal{
			unitSignal(1, "failed", "failed")(":1.66", unit), // a tenant posing as systemd
			managerSignal(2, ":1.66", "UnitRemoved", unit, unitPath(unit)),
			unitSignal(3, "active", "running")(systemd, unit),
		},
		want: []string{"changed tenement@a-b.service #3 active/running"},
	}, {
		name: "system bus: systemd re-executed under a new name",
		bus:  true,
		signals: []*godbus.Signal{
			{Sender: ":1.66", Path: "/org/freedesktop/DBus", Name: sigNameOwnerChanged, Sequence: 1, Body: []any{systemdName, systemd, ":1.66"}},
			{Sender: busName, Path: "/org/freedesktop/DBus", Name: sigNameOwnerChanged, Sequence: 2, Body: []any{systemdName, systemd, ""}},
			unitSignal(3, "active", "running")(systemd, unit),
			{Sender: busName, Path: "/org/freedesktop/DBus", Name: sigNameOwnerChanged, Sequence: 4, Body: []any{systemdName, "", ":1.7"}},
			unitSignal(5, "active", "running")(systemd, unit),
			unitSignal(6, "active", "running")(":1.7", unit),
		},
		want: []string{"resync", "changed tenement@a-b.service #6 active/running"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "tenement@"
			if tt.prefix == "-" {
				prefix = ""
			}
			tp := &tap{w: &stream{prefix: prefix}, gen: 1, bus: tt.bus}
			if tt.bus {
				tp.sender = systemd
			}
			var d decoder
			d.reset(tp)
			var got []string
			for _, s := range tt.signals {
				d.decode(s, func(ev Event) { got = append(got, render(ev)) })
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("events:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	tp := &tap{w: &stream{prefix: "tenement@"}, gen: 3}
	var d decoder
	d.reset(tp)
	var evs []Event
	emit := func(ev Event) { evs = append(evs, ev) }
	d.decode(serviceSignal(10, 150, "signal", 2, 2, 9)("", "tenement@x-y.service"), emit)
	d.decode(unitSignal(11, "active", "running")("", "tenement@x-y.service"), emit)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	u := evs[0].Unit
	want := Unit{
		Name: "tenement@x-y.service", Fields: UnitFields | ServiceFields, Seq: Seq{3, 11},
		ActiveState: Active, SubState: SubRunning,
		ActiveEnter:  time.UnixMicro(1_700_000_000_000_000),
		StateChange:  time.UnixMicro(1_700_000_000_500_000),
		InvocationID: "abcd",
		MainPID:      150, Result: "signal", NRestarts: 2, ExecMainCode: 2, ExecMainStatus: 9,
	}
	if fmt.Sprintf("%+v", u) != fmt.Sprintf("%+v", want) {
		t.Errorf("unit\n\t%+v\nwant\n\t%+v", u, want)
	}
}

// BenchmarkDecode decodes one state change of a unit: its Service and
// Unit PropertiesChanged signals, merged into one event.
func BenchmarkDecode(b *testing.B) {
	tp := &tap{w: &stream{prefix: "tenement@"}, gen: 1}
	var d decoder
	d.reset(tp)
	svc := serviceSignal(1, 150, "success", 0, 0, 0)("", "tenement@a-b.service")
	unit := unitSignal(2, "active", "running")("", "tenement@a-b.service")
	other := unitSignal(3, "active", "running")("", "cron.service")
	n := 0
	emit := func(Event) { n++ }
	b.ReportAllocs()
	for b.Loop() {
		d.decode(svc, emit)
		d.decode(unit, emit)
		d.decode(other, emit) // another unit's, skipped
	}
	if n != b.N {
		b.Fatalf("%d events for %d changes", n, b.N)
	}
}

// unitPath is the object path of the unit called name.
func unitPath(name string) godbus.ObjectPath {
	return godbus.ObjectPath(unitPathPrefix + busLabel(name))
}
