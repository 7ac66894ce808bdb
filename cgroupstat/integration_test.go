package cgroupstat

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// TestIntegrationRead compares a pass with what systemd reports for a few
// running units of the test manager. In a unified tree without the memory
// and pids controllers (the unified pass on a hybrid host), those numbers
// must be absent; CPU is there in every layout.
func TestIntegrationRead(t *testing.T) {
	testbed.Require(t)
	hasMem, hasPids := testbed.HasController(t, "memory"), testbed.HasController(t, "pids")
	ctx := context.Background()
	c, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// Each allocates and touches 30 MB, burns 0.3 s of CPU, then sleeps
	// with two more tasks.
	const prog = "import os,subprocess,time\nb=b'x'*(30<<20)\nwhile sum(os.times()[:2])<0.3: pass\n" +
		"ps=[subprocess.Popen(['sleep','600']) for _ in range(2)]\ntime.sleep(600)"
	var ins []names.Instance
	for _, id := range []string{"a", "b", "c"} {
		n, _ := names.New("cgs", id)
		props := []units.Property{
			{Name: "Type", Value: "exec"},
			{Name: "Slice", Value: n.Slice()},
			{Name: "ExecStart", Value: []units.Exec{{Path: "/usr/bin/python3", Argv: []string{"python3", "-c", prog}}}},
		}
		if err := c.StartTransient(ctx, n.Unit(), props); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Stop(ctx, n.Unit()) })
		ins = append(ins, n)
	}
	r, err := New(Options{MaxAge: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	var s *Stats
	testbed.Eventually(t, 30*time.Second, "every unit has burnt its CPU and started its tasks", func() error {
		if s, err = r.Read(); err != nil {
			return err
		}
		for _, n := range ins {
			u, ok := s.Get(n)
			if !ok || !u.CPUOK || u.CPU < 300*time.Millisecond || (hasPids && u.Tasks != 3) {
				return fmt.Errorf("%s: %+v (in pass: %v)", n, u, ok)
			}
		}
		return nil
	})
	for _, n := range ins {
		u, _ := s.Get(n)
		sd := show(t, n.Unit(), "MemoryCurrent", "TasksCurrent", "CPUUsageNSec")
		t.Logf("%s: read mem %d tasks %d cpu %v; systemd MemoryCurrent=%s TasksCurrent=%s CPUUsageNSec=%s",
			n, u.MemoryBytes, u.Tasks, u.CPU, sd["MemoryCurrent"], sd["TasksCurrent"], sd["CPUUsageNSec"])
		mem, err := strconv.ParseUint(sd["MemoryCurrent"], 10, 64)
		switch {
		case !hasMem:
			if u.MemoryOK || sd["MemoryCurrent"] != "[not set]" {
				t.Errorf("%s: no memory controller, but memory %d (ok %v), systemd says %s: want none", n, u.MemoryBytes, u.MemoryOK, sd["MemoryCurrent"])
			}
		case err != nil || !u.MemoryOK || u.MemoryBytes < 30<<20 || float64(u.MemoryBytes) < 0.5*float64(mem) || float64(u.MemoryBytes) > 2*float64(mem):
			t.Errorf("%s: memory %d (ok %v), systemd says %s: want at least 30 MiB and the same order", n, u.MemoryBytes, u.MemoryOK, sd["MemoryCurrent"])
		}
		switch {
		case !hasPids:
			if u.TasksOK || sd["TasksCurrent"] != "[not set]" {
				t.Errorf("%s: no pids controller, but %d tasks (ok %v), systemd says %s: want none", n, u.Tasks, u.TasksOK, sd["TasksCurrent"])
			}
		case !u.TasksOK || strconv.FormatUint(u.Tasks, 10) != sd["TasksCurrent"]:
			t.Errorf("%s: %d tasks, systemd says %s", n, u.Tasks, sd["TasksCurrent"])
		}
		if u.CPU > 30*time.Second {
			t.Errorf("%s: CPU %v, more than the test ran", n, u.CPU)
		}
		// systemd 252 reports CPUUsageNSec only in a unified tree (from the
		// same cpu.stat, cpu controller or not); a hybrid one wants cpuacct
		if ns, err := strconv.ParseUint(sd["CPUUsageNSec"], 10, 64); err == nil {
			if d := time.Duration(ns); u.CPU < d/2 || u.CPU > 2*d {
				t.Errorf("%s: CPU %v, systemd says %v", n, u.CPU, d)
			}
		} else if testbed.CgroupLayout() == "unified" {
			t.Errorf("%s: systemd reports no CPUUsageNSec (%s) in a unified tree", n, sd["CPUUsageNSec"])
		}
	}
	// Every number has a file here: the files stay open between passes.
	if _, kept := r.open.m[ins[0]]; !kept && hasMem && hasPids {
		t.Errorf("%s's files are not kept open between passes", ins[0])
	}
	if err := c.Stop(ctx, ins[0].Unit()); err != nil {
		t.Fatal(err)
	}
	if s, err = r.Read(); err != nil {
		t.Fatal(err)
	}
	if u, ok := s.Get(ins[0]); ok {
		t.Errorf("%s stopped but in the pass: %+v", ins[0], u)
	}
	if _, ok := s.Get(ins[1]); !ok || s.Len() != 2 {
		t.Errorf("after one stop: %d units in the pass, want 2", s.Len())
	}
	if _, kept := r.open.m[ins[0]]; kept {
		t.Errorf("%s stopped but its files are kept open", ins[0])
	}

	// Started again under the same name, in a new cgroup: the numbers are
	// the new run's (one task, little CPU, little memory), not those of the
	// files kept open from the first run.
	props := []units.Property{
		{Name: "Type", Value: "exec"},
		{Name: "Slice", Value: ins[0].Slice()},
		{Name: "ExecStart", Value: []units.Exec{{Path: "/usr/bin/sleep", Argv: []string{"sleep", "600"}}}},
	}
	if err := c.StartTransient(ctx, ins[0].Unit(), props); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 10*time.Second, "the second run is read", func() error {
		if s, err = r.Read(); err != nil {
			return err
		}
		u, ok := s.Get(ins[0])
		switch {
		case !ok:
			return fmt.Errorf("%s not in the pass", ins[0])
		case !u.CPUOK || u.CPU >= 300*time.Millisecond:
			return fmt.Errorf("%s: CPU %v (ok %v), want the new run's, under 300ms", ins[0], u.CPU, u.CPUOK)
		case hasPids && u.Tasks != 1:
			return fmt.Errorf("%s: %d tasks, want 1", ins[0], u.Tasks)
		case hasMem && u.MemoryBytes >= 30<<20:
			return fmt.Errorf("%s: memory %d, want the new run's, under 30 MiB", ins[0], u.MemoryBytes)
		}
		return nil
	})
}

func show(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", strings.Join(props, ","), unit).Output()
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}
