package dbusapi

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

func TestIntegrationWatch(t *testing.T) {
	for _, bus := range []string{"private", "system"} {
		t.Run(bus, func(t *testing.T) {
			c := dial(t, bus)
			svc := "watch" + bus[:3]
			f := follow(t, c, "tenement@"+svc+"-", 0)
			before := c.Calls()

			t.Run("start and stop", func(t *testing.T) { watchStartStop(t, c, f, svc) })
			t.Run("crash and restart", func(t *testing.T) { watchCrash(t, c, f, svc) })
			t.Run("socket activation", func(t *testing.T) { watchSocket(t, c, f, svc) })

			calls := callsSince(before, c)
			t.Logf("calls while the events flowed: %v", calls)
			for _, m := range perUnitReads {
				if calls[m] != 0 {
					t.Errorf("%d %s calls while the events flowed, want none", calls[m], m)
				}
			}
			if calls["StartTransientUnit"] != 3 {
				t.Errorf("%d StartTransientUnit calls, want 3: the count misses calls", calls["StartTransientUnit"])
			}
			if f.resyncs != 0 {
				t.Errorf("%d resyncs, want none", f.resyncs)
			}
		})
	}
}

func watchStartStop(t *testing.T, c *Conn, f *follower, svc string) {
	ctx := context.Background()
	n, _ := names.New(svc, "plain")
	if err := c.StartTransient(ctx, n.Unit(), sleepUnit(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(ctx, n.Unit()) })
	// The unit's signals come before its job's result, on the connection
	// Watch reads: when StartTransient returns they are queued already.
	f.drain()
	u := f.units[n.Unit()]
	if u.ActiveState != Active || u.SubState != SubRunning || u.MainPID == 0 || !u.Fields.Has(FieldMainPID) {
		t.Fatalf("right after the start: %s pid %d (fields %b); want active/running with a MainPID; %s", f.state(n.Unit()), u.MainPID, u.Fields, f.describe())
	}
	if u.ActiveEnter.IsZero() || time.Since(u.ActiveEnter) > time.Minute || len(u.InvocationID) != 32 {
		t.Errorf("ActiveEnter %v, InvocationID %q", u.ActiveEnter, u.InvocationID)
	}
	if out, _ := exec.Command("systemctl", "show", "-p", "MainPID", "--value", n.Unit()).Output(); strings.TrimSpace(string(out)) != fmt.Sprint(u.MainPID) {
		t.Errorf("MainPID %d, systemctl says %s", u.MainPID, out)
	}
	pid := u.MainPID

	if err := c.Stop(ctx, n.Unit()); err != nil {
		t.Fatal(err)
	}
	f.drain()
	// The unit may be gone already; its last state came first.
	var last Unit
	for _, ev := range f.hist[n.Unit()] {
		last = last.Merge(ev.Unit)
	}
	if last.ActiveState != Inactive || last.MainPID != 0 || last.ExecMainCode != 2 || last.ExecMainStatus != 15 {
		t.Errorf("right after the stop: %s/%s pid %d exit %d/%d; want inactive, no MainPID, killed by SIGTERM (2/15)",
			last.ActiveState, last.SubState, last.MainPID, last.ExecMainCode, last.ExecMainStatus)
	}
	f.until("unit removed", 5*time.Second, func() bool { _, ok := f.units[n.Unit()]; return !ok })
	inOrder(t, n.Unit(), f.hist[n.Unit()], []step{
		{"new", func(ev Event, _ Unit) bool { return ev.Kind == EventNew }},
		{"activating/start", changed(Activating, SubStart, nil)},
		{"active/running", changed(Active, SubRunning, func(u Unit) bool { return u.MainPID == pid })},
		{"start job done", func(ev Event, _ Unit) bool { return ev.Kind == EventJobRemoved && ev.JobResult == "done" }},
		{"deactivating/stop-sigterm", changed(Deactivating, SubStopSigterm, nil)},
		{"inactive/dead", changed(Inactive, SubDead, func(u Unit) bool { return u.MainPID == 0 && u.Result == "success" })},
		{"stop job done", func(ev Event, _ Unit) bool { return ev.Kind == EventJobRemoved && ev.JobResult == "done" }},
		{"removed", func(ev Event, _ Unit) bool { return ev.Kind == EventRemoved }},
	})
}

func watchCrash(t *testing.T, c *Conn, f *follower, svc string) {
	ctx := context.Background()
	n, _ := names.New(svc, "crash")
	props := []units.Property{
		{Name: "Type", Value: "exec"},
		{Name: "ExecStart", Value: []units.Exec{{Path: "/bin/sh", Argv: []string{"sh", "-c", "sleep 0.3; exit 3"}}}},
		{Name: "Restart", Value: "on-failure"},
		{Name: "RestartUSec", Value: uint64(100_000)},
		{Name: "StartLimitBurst", Value: uint32(2)},
		{Name: "StartLimitIntervalUSec", Value: uint64(60_000_000)},
	}
	if err := c.StartTransient(ctx, n.Unit(), props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(ctx, n.Unit()); c.ResetFailed(ctx, n.Unit()) })
	jobFailed := func() bool {
		h := f.hist[n.Unit()]
		return len(h) > 0 && h[len(h)-1].Kind == EventJobRemoved && h[len(h)-1].JobResult == "failed"
	}
	f.until("restart refused by the start limit", 15*time.Second, jobFailed)
	u := f.units[n.Unit()]
	if u.ActiveState != Failed || u.SubState != SubFailed || u.NRestarts != 2 || u.MainPID != 0 {
		t.Errorf("at the end: %s restarts %d pid %d; want failed/failed after 2 restarts, no MainPID", f.state(n.Unit()), u.NRestarts, u.MainPID)
	}
	var pid1 uint32
	crashed := func(u Unit) bool {
		return u.Result == "exit-code" && u.ExecMainCode == 1 && u.ExecMainStatus == 3 && u.MainPID == 0
	}
	inOrder(t, n.Unit(), f.hist[n.Unit()], []step{
		{"running", changed(Active, SubRunning, func(u Unit) bool { pid1 = u.MainPID; return u.MainPID != 0 && u.NRestarts == 0 })},
		{"crashed: failed", changed(Failed, SubFailed, crashed)},
		{"auto-restart", changed(Activating, SubAutoRestart, crashed)},
		{"restart counted", changed(Activating, SubAutoRestart, func(u Unit) bool { return u.NRestarts == 1 })},
		{"running again", changed(Active, SubRunning, func(u Unit) bool { return u.MainPID != 0 && u.MainPID != pid1 && u.NRestarts == 1 })},
		{"crashed again", changed(Failed, SubFailed, crashed)},
		{"auto-restart again", changed(Activating, SubAutoRestart, nil)},
		{"restart refused: failed", changed(Failed, SubFailed, func(u Unit) bool { return u.NRestarts == 2 })},
		{"restart job failed", func(ev Event, _ Unit) bool { return ev.Kind == EventJobRemoved && ev.JobResult == "failed" }},
	})
	if err := c.ResetFailed(ctx, n.Unit()); err != nil {
		t.Fatal(err)
	}
	f.until("failed unit removed after reset-failed", 5*time.Second, func() bool { _, ok := f.units[n.Unit()]; return !ok })
}

func watchSocket(t *testing.T, c *Conn, f *follower, svc string) {
	ctx := context.Background()
	n, _ := names.New(svc, "sock")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	service := []units.Property{
		{Name: "ExecStart", Value: []units.Exec{{Path: "/usr/bin/python3", Argv: []string{"python3", "-c",
			"import socket,sys;s=socket.socket(fileno=3);c,_=s.accept();c.sendall(b'hi\\n');c.recv(1)"}}}},
	}
	sock := []units.Property{{Name: "Listen", Value: []units.Listen{{Type: "Stream", Address: addr}}}}
	if err := c.StartTransient(ctx, n.SocketUnit(), sock, Aux{Name: n.Unit(), Properties: service}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(ctx, n.SocketUnit()); c.Stop(ctx, n.Unit()) })
	f.drain()
	// The service was loaded with the socket (EventNew) and has not
	// changed since: no state was signalled for it yet.
	if f.state(n.SocketUnit()) != "active/listening" || f.state(n.Unit()) != "/" {
		t.Fatalf("after the socket's start: socket %s, service %s; want active/listening and a service loaded without a state", f.state(n.SocketUnit()), f.state(n.Unit()))
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	f.until("service running", 5*time.Second, func() bool { return f.state(n.Unit()) == "active/running" })
	if u := f.units[n.Unit()]; u.MainPID == 0 {
		t.Errorf("socket-activated service runs without a MainPID: %+v", u)
	}
	if s := f.state(n.SocketUnit()); s != "active/running" {
		t.Errorf("socket %s while its service runs, want active/running", s)
	}
	conn.Close() // the service exits
	f.until("service back to inactive", 5*time.Second, func() bool { return f.state(n.Unit()) == "inactive/dead" })
	f.until("socket listening again", 5*time.Second, func() bool { return f.state(n.SocketUnit()) == "active/listening" })
	if err := c.Stop(ctx, n.SocketUnit()); err != nil {
		t.Fatal(err)
	}
	f.until("socket and service removed", 5*time.Second, func() bool {
		return f.state(n.SocketUnit()) == "gone" && f.state(n.Unit()) == "gone"
	})
}

// TestIntegrationWatchBurst starts hundreds of units at once and checks
// that the state kept from the events alone matches what systemd reports
// then, and that no unit was read while they started.
func TestIntegrationWatchBurst(t *testing.T) {
	const n = 400
	c := dial(t, "")
	f := follow(t, c, "tenement@burst-", 0)
	before := c.Calls()
	t0 := time.Now()
	all := startMany(t, c, "burst", n)
	f.until("every unit running", 30*time.Second, func() bool { return countRunning(f.units) == n })
	calls := callsSince(before, c)
	t.Logf("%d units started in %v; %d events, %d resyncs; calls %v", n, time.Since(t0).Round(time.Millisecond), f.events, f.resyncs, calls)
	if f.resyncs != 0 {
		t.Errorf("%d resyncs: events were lost with a buffer of %d", f.resyncs, defaultBuffer)
	}
	for _, m := range perUnitReads {
		if calls[m] != 0 {
			t.Errorf("%d %s calls during the burst, want none", calls[m], m)
		}
	}
	// What the events said is what systemd says.
	s, err := c.Snapshot(context.Background(), snapshotFields, "tenement@burst-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Units) != n {
		t.Errorf("snapshot has %d units, want %d", len(s.Units), n)
	}
	for _, su := range s.Units {
		fu := f.units[su.Name]
		if fu.ActiveState != su.ActiveState || fu.SubState != su.SubState || fu.MainPID != su.MainPID ||
			fu.NRestarts != su.NRestarts || fu.InvocationID != su.InvocationID || !fu.ActiveEnter.Equal(su.ActiveEnter) {
			t.Errorf("%s: from events %+v\n\tsnapshot %+v", su.Name, fu, su)
		}
	}
	stopMany(t, c, all)
	f.until("every unit removed", 30*time.Second, func() bool { return len(f.units) == 0 })
}

// TestIntegrationWatchOverflow lets the events pile up beyond the buffer
// and checks that a Resync follows and the table is right after it.
func TestIntegrationWatchOverflow(t *testing.T) {
	const n = 40
	c := dial(t, "")
	f := follow(t, c, "tenement@overflow-", 16)
	before := c.Calls()
	all := startMany(t, c, "overflow", n) // nobody reads meanwhile
	f.until("every unit running", 20*time.Second, func() bool { return countRunning(f.units) == n })
	if f.resyncs == 0 {
		t.Errorf("no resync although %d events could not fit in 16", f.events)
	}
	calls := callsSince(before, c)
	t.Logf("%d events, %d resyncs; calls %v", f.events, f.resyncs, calls)
	// Only the resync reads units: a listing and eight reads per unit.
	if calls["ListUnitsByPatterns"] != uint64(f.resyncs) || calls["Get"] > uint64(f.resyncs*n*8) || calls["GetAll"] != 0 {
		t.Errorf("calls %v for %d resyncs of %d units: more than one listing and 8 Gets a unit each", calls, f.resyncs, n)
	}
	stopMany(t, c, all)
	f.until("every unit removed", 20*time.Second, func() bool { return len(f.units) == 0 })
}

// TestIntegrationWatchReconnect restarts the system bus under a Watch and
// checks that a Resync follows and the events of the new connection flow.
func TestIntegrationWatchReconnect(t *testing.T) {
	c := dial(t, "system")
	ctx := context.Background()
	f := follow(t, c, "tenement@rewatch-", 0)
	gen := f.since.gen
	if out, err := exec.Command("systemctl", "restart", "dbus.service").CombinedOutput(); err != nil {
		t.Fatalf("restart dbus: %v %s", err, out)
	}
	f.until("resync after the bus restarted", 15*time.Second, func() bool { return f.resyncs > 0 })
	if f.since.gen <= gen {
		t.Errorf("snapshot after the reconnect of generation %d, before it %d", f.since.gen, gen)
	}
	n, _ := names.New("rewatch", "a")
	if err := c.StartTransient(ctx, n.Unit(), sleepUnit(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(ctx, n.Unit()) })
	f.until("unit running", 5*time.Second, func() bool { return f.state(n.Unit()) == "active/running" })
	if err := c.Stop(ctx, n.Unit()); err != nil {
		t.Fatal(err)
	}
	f.until("unit removed", 5*time.Second, func() bool { return f.state(n.Unit()) == "gone" })
}

// TestIntegrationWatchDaemonReload checks that a daemon-reload and a
// daemon-reexec, which make systemd send UnitRemoved and UnitNew for every
// unit and then no state, neither lose a unit nor its state.
func TestIntegrationWatchDaemonReload(t *testing.T) {
	for _, bus := range []string{"private", "system"} {
		t.Run(bus, func(t *testing.T) {
			c := dial(t, bus)
			ctx := context.Background()
			svc := "reload" + bus[:3]
			f := follow(t, c, "tenement@"+svc+"-", 0)
			n, _ := names.New(svc, "a")
			if err := c.StartTransient(ctx, n.Unit(), sleepUnit(n)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Stop(ctx, n.Unit()) })
			f.until("unit running", 5*time.Second, func() bool { return f.state(n.Unit()) == "active/running" })
			pid := f.units[n.Unit()].MainPID
			for _, verb := range []string{"daemon-reload", "daemon-reexec"} {
				f.hist, f.resyncs = map[string][]Event{}, 0
				if out, err := exec.Command("systemctl", verb).CombinedOutput(); err != nil {
					t.Fatalf("%s: %v %s", verb, err, out)
				}
				f.until("resync after "+verb, 15*time.Second, func() bool { return f.resyncs > 0 })
				for _, ev := range f.hist[n.Unit()] {
					if ev.Kind == EventRemoved || ev.Kind == EventNew {
						t.Errorf("%s: %s", verb, render(ev))
					}
				}
				if u := f.units[n.Unit()]; u.ActiveState != Active || u.MainPID != pid {
					t.Errorf("after %s: %s pid %d, want active/running pid %d", verb, f.state(n.Unit()), u.MainPID, pid)
				}
			}
			if err := c.Stop(ctx, n.Unit()); err != nil {
				t.Fatal(err)
			}
			f.until("unit removed", 5*time.Second, func() bool { return f.state(n.Unit()) == "gone" })
		})
	}
}
