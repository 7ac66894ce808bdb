package dbusapi

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

func TestIntegrationSnapshot(t *testing.T) {
	c := dial(t, "")
	ctx := context.Background()
	run, _ := names.New("snap", "run")
	bad, _ := names.New("snap", "bad")
	sock, _ := names.New("snap", "sock")
	if err := c.StartTransient(ctx, run.Unit(), sleepUnit(run)); err != nil {
		t.Fatal(err)
	}
	exit3 := []units.Property{
		{Name: "Type", Value: "exec"},
		{Name: "Environment", Value: []string{"WHO=bad"}},
		{Name: "ExecStart", Value: []units.Exec{{Path: "/bin/sh", Argv: []string{"sh", "-c", "exit 3"}}}},
	}
	// The start job may end "failed" or "done": sh can exit before it does.
	_ = c.StartTransient(ctx, bad.Unit(), exit3)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	listen := []units.Property{{Name: "Listen", Value: []units.Listen{{Type: "Stream", Address: addr}}}}
	if err := c.StartTransient(ctx, sock.SocketUnit(), listen, Aux{Name: sock.Unit(), Properties: sleepUnit(sock)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, u := range []string{run.Unit(), sock.SocketUnit(), sock.Unit(), bad.Unit()} {
			c.Stop(ctx, u)
			c.ResetFailed(ctx, u)
		}
	})
	testbed.Eventually(t, 5*time.Second, "unit failed", func() error {
		if st, err := c.State(ctx, bad.Unit()); err != nil || st.ActiveState != "failed" {
			return errorf("state %+v, %v", st, err)
		}
		return nil
	})

	before := c.Calls()
	s, err := c.Snapshot(ctx, UnitFields|ServiceFields|FieldEnvironment, "tenement@snap-*")
	if err != nil {
		t.Fatal(err)
	}
	calls := callsSince(before, c)
	// Two services not inactive: 8 properties each and Environment; the
	// inactive one: Environment; the socket: nothing.
	if want := map[string]uint64{"ListUnitsByPatterns": 1, "Get": 2*9 + 1}; !mapsEqual(calls, want) {
		t.Errorf("Snapshot made the calls %v, want %v", calls, want)
	}
	byName := map[string]Unit{}
	for _, u := range s.Units {
		byName[u.Name] = u
		if u.Seq != s.Seq {
			t.Errorf("%s: Seq %v, snapshot's %v", u.Name, u.Seq, s.Seq)
		}
	}
	want := map[string]struct {
		fields      Field
		active      ActiveState
		sub         SubState
		description string
	}{
		run.Unit():        {ListFields | UnitFields | ServiceFields | FieldEnvironment, Active, SubRunning, "dbusapi test snap:run"},
		bad.Unit():        {ListFields | UnitFields | ServiceFields | FieldEnvironment, Failed, SubFailed, bad.Unit()}, // no Description: its name
		sock.Unit():       {ListFields | FieldEnvironment, Inactive, SubDead, "dbusapi test snap:sock"},
		sock.SocketUnit(): {ListFields, Active, SubListening, ""},
	}
	if len(s.Units) != len(want) {
		t.Errorf("snapshot of %d units, want %d: %+v", len(s.Units), len(want), s.Units)
	}
	for name, w := range want {
		u, ok := byName[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if u.Fields != w.fields || u.ActiveState != w.active || u.SubState != w.sub || u.LoadState != Loaded ||
			(w.description != "" && u.Description != w.description) {
			t.Errorf("%s: fields %b %s %s/%s %q; want fields %b loaded %s/%s %q",
				name, u.Fields, u.LoadState, u.ActiveState, u.SubState, u.Description, w.fields, w.active, w.sub, w.description)
		}
		if !u.Fields.Has(FieldEnvironment) {
			continue
		}
		st, err := c.State(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.Environment, st.Environment) || len(u.Environment) == 0 {
			t.Errorf("%s: Environment %q, State says %q", name, u.Environment, st.Environment)
		}
		if !u.Fields.Has(FieldMainPID) {
			continue
		}
		if u.MainPID != st.MainPID || u.NRestarts != st.NRestarts || u.Result != st.Result ||
			u.ExecMainCode != st.ExecMainCode || u.ExecMainStatus != st.ExecMainStatus ||
			!u.ActiveEnter.Equal(st.ActiveEnter) || !u.StateChange.Equal(st.StateChangeTime) || u.InvocationID != st.InvocationID {
			t.Errorf("%s: snapshot %+v\n\tState %+v", name, u, st)
		}
	}
	if u := byName[bad.Unit()]; u.Result != "exit-code" || u.ExecMainCode != 1 || u.ExecMainStatus != 3 {
		t.Errorf("failed unit: result %s exit %d/%d, want exit-code 1/3", u.Result, u.ExecMainCode, u.ExecMainStatus)
	}
	if u := byName[run.Unit()]; u.MainPID == 0 || u.ActiveEnter.IsZero() {
		t.Errorf("running unit without MainPID or ActiveEnter: %+v", u)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// BenchmarkSnapshot measures a resync of 1 000 running units: one
// listing and eight Gets a unit.
func BenchmarkSnapshot(b *testing.B) {
	const n = 1000
	testbed.Require(b)
	ctx := context.Background()
	c, err := Dial(ctx, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close) // after startMany's cleanup
	startMany(b, c, "bench", n)
	before, cpu0 := c.Calls(), pid1CPU(b)
	for b.Loop() {
		s, err := c.Snapshot(ctx, UnitFields|ServiceFields, "tenement@bench-*")
		if err != nil || len(s.Units) != n {
			b.Fatalf("snapshot of %d units: %v", len(s.Units), err)
		}
	}
	cpu := pid1CPU(b) - cpu0
	calls := callsSince(before, c)
	b.ReportMetric(float64(calls["Get"]+calls["ListUnitsByPatterns"])/float64(b.N), "calls/op")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "systemd-cpu-ms/op")
}

// pid1CPU is the CPU time systemd (PID 1 of the test manager) has used.
func pid1CPU(tb testing.TB) time.Duration {
	b, err := os.ReadFile("/proc/1/stat")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
