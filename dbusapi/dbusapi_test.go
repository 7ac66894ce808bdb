package dbusapi

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m, nil)) }

func dial(t *testing.T, bus string) *Conn {
	t.Helper()
	testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Options{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func sleepUnit(n names.Instance, extra ...units.Property) []units.Property {
	return append([]units.Property{
		{Name: "Description", Value: "dbusapi test " + n.String()},
		{Name: "Type", Value: "exec"},
		{Name: "ExecStart", Value: []units.Exec{{Path: "/bin/sleep", Argv: []string{"sleep", "600"}}}},
		{Name: "Environment", Value: []string{"TENEMENT_DAEMON=/test", "PORT=1"}},
		{Name: "MemoryMax", Value: uint64(64 << 20)},
		{Name: "TasksMax", Value: uint64(16)},
		{Name: "LogExtraFields", Value: units.LogFields{"TENEMENT_SERVICE=" + n.Service, "TENEMENT_ID=" + n.ID}},
	}, extra...)
}

func TestIntegrationTransientUnitLifecycle(t *testing.T) {
	for _, bus := range []string{"private", "system"} {
		t.Run(bus, func(t *testing.T) {
			c := dial(t, bus)
			ctx := context.Background()
			n, _ := names.Parse("dbustest:" + bus)
			if err := c.StartTransient(ctx, n.Unit(), sleepUnit(n)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Stop(ctx, n.Unit()); c.ResetFailed(ctx, n.Unit()) })

			st, err := c.State(ctx, n.Unit())
			if err != nil {
				t.Fatal(err)
			}
			if st.ActiveState != "active" || st.SubState != "running" || st.MainPID == 0 || !st.Loaded() {
				t.Fatalf("state after start: %+v", st)
			}
			// MemoryCurrent needs the memory controller (a unified tree on a
			// hybrid host has none); systemd 252 reports CPUUsageNSec in a
			// unified tree only
			if testbed.HasController(t, "memory") {
				if !st.MemoryOK || st.MemoryCurrent == 0 {
					t.Errorf("MemoryCurrent not reported: %+v", st)
				}
			} else if st.MemoryOK {
				t.Errorf("MemoryCurrent reported without a memory controller: %+v", st)
			}
			if testbed.CgroupLayout() == "unified" && !st.CPUOK {
				t.Errorf("CPUUsageNSec not reported in a unified tree: %+v", st)
			}
			if st.ActiveEnter.IsZero() || time.Since(st.ActiveEnter) > time.Minute {
				t.Errorf("ActiveEnter = %v", st.ActiveEnter)
			}
			if strings.Join(st.Environment, " ") != "TENEMENT_DAEMON=/test PORT=1" {
				t.Errorf("Environment = %q", st.Environment)
			}
			out, err := exec.Command("systemctl", "show", "-p", "MemoryMax", "-p", "TasksMax", n.Unit()).Output()
			if err != nil || !strings.Contains(string(out), "MemoryMax=67108864") || !strings.Contains(string(out), "TasksMax=16") {
				t.Errorf("systemctl show: %s %v", out, err)
			}
			list, err := c.List(ctx, names.UnitPattern)
			if err != nil || !containsUnit(list, n.Unit()) {
				t.Errorf("List(%s) = %+v, %v", names.UnitPattern, list, err)
			}
			// A second unit of the same name is a conflict, not a silent replace.
			if err := c.StartTransient(ctx, n.Unit(), sleepUnit(n)); !errors.Is(err, errdefs.ErrConflict) {
				t.Errorf("duplicate start: %v, want ErrConflict", err)
			}

			if err := c.Stop(ctx, n.Unit()); err != nil {
				t.Fatal(err)
			}
			waitUnloaded(t, c, n.Unit())
			st, err = c.State(ctx, n.Unit())
			if err != nil || st.Loaded() {
				t.Fatalf("after stop: %+v %v", st, err)
			}
			// Stopping what is not there is fine.
			if err := c.Stop(ctx, n.Unit()); err != nil {
				t.Errorf("stop of unloaded unit: %v", err)
			}
		})
	}
}

func containsUnit(list []UnitStatus, unit string) bool {
	for _, u := range list {
		if u.Name == unit {
			return true
		}
	}
	return false
}

// waitUnloaded waits until systemd collected a stopped unit.
func waitUnloaded(t *testing.T, c *Conn, unit string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, err := c.List(context.Background(), unit)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still loaded: %+v", unit, list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIntegrationFailedJobNamesUnit(t *testing.T) {
	c := dial(t, "")
	ctx := context.Background()
	n, _ := names.Parse("dbustest:bad")
	props := []units.Property{
		{Name: "Type", Value: "exec"},
		{Name: "ExecStart", Value: []units.Exec{{Path: "/nonexistent/app", Argv: []string{"app"}}}},
	}
	err := c.StartTransient(ctx, n.Unit(), props)
	t.Cleanup(func() { c.ResetFailed(ctx, n.Unit()) })
	if err == nil || !strings.Contains(err.Error(), n.Unit()) || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("start of a missing program: %v; want an error naming the unit and the job result", err)
	}
	st, _ := c.State(ctx, n.Unit())
	if st.ActiveState != "failed" {
		t.Errorf("unit state %+v, want failed (kept loaded for systemctl status)", st)
	}
}

func TestIntegrationSocketAux(t *testing.T) {
	c := dial(t, "")
	ctx := context.Background()
	n, _ := names.Parse("dbustest:sock")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	svc := []units.Property{
		{Name: "ExecStart", Value: []units.Exec{{Path: "/usr/bin/python3", Argv: []string{"python3", "-c",
			"import os,socket;s=socket.socket(fileno=3);c,_=s.accept();c.sendall(('fds=%s\\n'%os.environ['LISTEN_FDS']).encode())"}}}},
	}
	sock := []units.Property{{Name: "Listen", Value: []units.Listen{{Type: "Stream", Address: addr}}}}
	if err := c.StartTransient(ctx, n.SocketUnit(), sock, Aux{Name: n.Unit(), Properties: svc}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(ctx, n.SocketUnit()); c.Stop(ctx, n.Unit()); c.ResetFailed(ctx, n.Unit()) })
	st, _ := c.State(ctx, n.Unit())
	if st.ActiveState != "inactive" {
		t.Errorf("service before the first connection: %s, want inactive", st.ActiveState)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	k, _ := conn.Read(buf)
	if got := string(buf[:k]); got != "fds=1\n" {
		t.Fatalf("socket-activated reply %q", got)
	}
}
