package supervisor

import (
	"context"
	"fmt"
	"testing"

	"github.com/tenement/tenement/names"
)

// A crash that systemd restarts is followed from the events alone: the
// instance goes back to starting, then running with the new MainPID, one
// restart counted, and nothing is read from systemd.
func TestCrashIsFollowedFromEvents(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	n, _ := names.Parse("web:alice")
	if _, err := s.Spawn(ctx, n); err != nil {
		t.Fatal(err)
	}
	reads := f.count(f.calls, "State") + f.count(f.calls, "Snapshot")
	f.crash(n.Unit())
	waitFor(t, "running again with the new MainPID", func() bool {
		i, _ := s.Get(ctx, n)
		return i.State == StateRunning && i.MainPID == 43 && i.Restarts == 1
	})
	if got := f.count(f.calls, "State") + f.count(f.calls, "Snapshot"); got != reads {
		t.Errorf("following a crash read systemd %d times", got-reads)
	}
}

// With restart = "never" a failed unit is final at once.
func TestFailureWithoutRestartIsFinal(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"restart = \"never\"\n")
	ctx := context.Background()
	n, _ := names.Parse("web:alice")
	if _, err := s.Spawn(ctx, n); err != nil {
		t.Fatal(err)
	}
	f.crash(n.Unit()) // the fake restarts anyway; the first event decides
	waitFor(t, "failed", func() bool {
		i, _ := s.Get(ctx, n)
		return i.State == StateFailed
	})
}

// Reads answer from memory: listing 200 running instances asks systemd
// nothing.
func TestReadsAskSystemdNothing(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	for i := range 200 {
		n, _ := names.New("web", fmt.Sprintf("t%03d", i))
		if _, err := s.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	reads := f.count(f.calls, "State") + f.count(f.calls, "Snapshot")
	list, _ := s.List(ListOptions{Accounting: true})
	if len(list) != 200 {
		t.Fatalf("listed %d", len(list))
	}
	for _, i := range list[:10] {
		if _, err := s.Get(ctx, i.Instance); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, i.Instance); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count(f.calls, "State") + f.count(f.calls, "Snapshot"); got != reads {
		t.Errorf("reads asked systemd %d times", got-reads)
	}
}

// CreateMany registers instances asleep, in one call, starting none; each
// wakes on its first lease.
func TestCreateManyStartsNothing(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	var ns []names.Instance
	for i := range 1000 {
		n, _ := names.New("web", fmt.Sprintf("c%04d", i))
		ns = append(ns, n, n) // a repeat counts once
	}
	created, err := s.CreateMany(ns)
	if err != nil || created != 1000 {
		t.Fatalf("CreateMany = %d, %v", created, err)
	}
	if again, err := s.CreateMany(ns[:10]); err != nil || again != 0 {
		t.Errorf("again: %d, %v", again, err)
	}
	list, _ := s.List(ListOptions{})
	if len(list) != 1000 {
		t.Fatalf("%d known", len(list))
	}
	for _, i := range list {
		if i.State != StateAsleep || i.Port != 0 {
			t.Fatalf("%s: %s on port %d, want asleep without a port", i.Instance, i.State, i.Port)
		}
	}
	if len(f.starts) != 0 {
		t.Errorf("units started: %v", f.starts)
	}
	l, err := s.Acquire(ctx, ns[0])
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if f.count(f.starts, ns[0].Unit()) != 1 {
		t.Error("the first lease did not wake it")
	}
	if _, err := s.CreateMany([]names.Instance{{Service: "nope", ID: "x"}}); err == nil {
		t.Error("CreateMany of an unknown service succeeded")
	}
}

// An instance holds a port only while it has a unit.
func TestPortsAreHeldOnlyWhileAwake(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	n, _ := names.Parse("web:alice")
	i, err := s.Spawn(ctx, n)
	if err != nil || i.Port == 0 {
		t.Fatalf("spawn: port %d, %v", i.Port, err)
	}
	port := i.Port
	if err := s.Stop(ctx, n); err != nil {
		t.Fatal(err)
	}
	if i, _ := s.Get(ctx, n); i.Port != 0 {
		t.Errorf("asleep with port %d", i.Port)
	}
	s.ports.mu.Lock()
	held := len(s.ports.used)
	s.ports.mu.Unlock()
	if held != 0 {
		t.Errorf("%d ports held with nothing awake", held)
	}
	if i, _ := s.Spawn(ctx, n); i.Port != port {
		t.Errorf("woke on port %d, want its last one %d", i.Port, port)
	}
}

// List filters and pages.
func TestListFiltersAndPages(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"\n[service.blog]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\n")
	ctx := context.Background()
	var ns []names.Instance
	for i := range 25 {
		ns = append(ns, names.Instance{Service: "web", ID: fmt.Sprintf("w%02d", i)}, names.Instance{Service: "blog", ID: fmt.Sprintf("b%02d", i)})
	}
	if _, err := s.CreateMany(ns); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"w03", "w07"} {
		if _, err := s.Spawn(ctx, names.Instance{Service: "web", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := s.List(ListOptions{State: StateRunning}); len(l) != 2 || l[0].Instance.ID != "w03" || l[1].Instance.ID != "w07" {
		t.Errorf("running: %v", l)
	}
	if l, _ := s.List(ListOptions{SkipAsleep: true}); len(l) != 2 || l[0].Instance.ID != "w03" || l[1].Instance.ID != "w07" {
		t.Errorf("not asleep: %v", l)
	}
	if c := s.StateCounts(); c[StateAsleep] != 48 || c[StateRunning] != 2 || len(c) != 2 {
		t.Errorf("state counts: %v, want 48 asleep and 2 running", c)
	}
	var got []string
	var after names.Instance
	for {
		page, next := s.List(ListOptions{Service: "web", Limit: 10, After: after})
		for _, i := range page {
			got = append(got, i.Instance.ID)
		}
		if next.IsZero() {
			break
		}
		after = next
	}
	if len(got) != 25 || got[0] != "w00" || got[24] != "w24" {
		t.Errorf("paged web: %v", got)
	}
	if l, _ := s.List(ListOptions{Only: func(n names.Instance) bool { return n.ID == "b01" }}); len(l) != 1 || l[0].Instance.String() != "blog:b01" {
		t.Errorf("only: %v", l)
	}
}
