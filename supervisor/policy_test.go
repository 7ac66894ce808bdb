package supervisor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/names"
)

func spawnOne(t *testing.T, s *Supervisor, name string) names.Instance {
	t.Helper()
	n, _ := names.Parse(name)
	if _, err := s.Spawn(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return n
}

func state(s *Supervisor, n names.Instance) Info {
	i, _ := s.Get(context.Background(), n)
	return i
}

// A probe lease neither wakes an asleep instance nor counts as activity.
func TestAcquireAwakeIsPassive(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"idle_timeout = \"300ms\"\n")
	n := spawnOne(t, s, "web:alice")
	for range 8 { // probes every 100ms for 800ms: it still sleeps
		if l, ok, err := s.AcquireAwake(n); err == nil && ok {
			l.Release()
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, "asleep despite probes", func() bool { return state(s, n).State == StateAsleep })
	if _, ok, err := s.AcquireAwake(n); ok || err != nil {
		t.Errorf("AcquireAwake of an asleep instance: %v %v", ok, err)
	}
	if got := f.count(f.starts, n.Unit()); got != 1 {
		t.Errorf("a probe woke it: %d starts", got)
	}
	if err := s.Wake(n, CauseRequest); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "running after Wake", func() bool { return state(s, n).State == StateRunning })
}

// With stream_idle_timeout, a silent stream stops holding its instance.
func TestQuietStreamLetsItSleep(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"idle_timeout = \"200ms\"\nstream_idle_timeout = \"300ms\"\n")
	n := spawnOne(t, s, "web:alice")
	l, err := s.Acquire(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	l.Stream()
	for range 5 { // bytes flow for 500ms: awake
		l.Touch()
		time.Sleep(100 * time.Millisecond)
	}
	if st := state(s, n).State; st != StateRunning {
		t.Fatalf("with bytes flowing: %s", st)
	}
	waitFor(t, "asleep once the stream went quiet", func() bool { return state(s, n).State == StateAsleep })
	l.Release()
}

// Without stream_idle_timeout an open stream keeps it awake.
func TestOpenStreamKeepsItAwake(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"idle_timeout = \"100ms\"\n")
	n := spawnOne(t, s, "web:alice")
	l, _ := s.Acquire(context.Background(), n)
	l.Stream()
	time.Sleep(500 * time.Millisecond)
	if st := state(s, n).State; st != StateRunning {
		t.Errorf("an open stream did not keep it awake: %s", st)
	}
	l.Release()
	waitFor(t, "asleep after the stream closed", func() bool { return state(s, n).State == StateAsleep })
}

// keep-awake holds it past idle_timeout, and ps says until when.
func TestKeepAwake(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"idle_timeout = \"100ms\"\n")
	n := spawnOne(t, s, "web:alice")
	until := time.Now().Add(700 * time.Millisecond)
	if err := s.KeepAwake(n, until); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	i := state(s, n)
	if i.State != StateRunning || i.KeepAwakeUntil.IsZero() {
		t.Fatalf("kept awake: %s until %v", i.State, i.KeepAwakeUntil)
	}
	waitFor(t, "asleep after the keep-awake", func() bool { return state(s, n).State == StateAsleep })
	if err := s.KeepAwake(n, time.Now().Add(30*24*time.Hour)); err == nil {
		t.Error("a keep-awake of 30 days was accepted")
	}
}

// idle_action = "throttle": idle lowers CPU at runtime instead of
// stopping; the next request restores it without a start.
func TestThrottleInsteadOfStop(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"idle_timeout = \"100ms\"\nidle_action = \"throttle\"\nthrottle_cpu_percent = 7\n")
	n := spawnOne(t, s, "web:alice")
	waitFor(t, "throttled", func() bool { return state(s, n).Throttled })
	if i := state(s, n); i.State != StateRunning {
		t.Errorf("throttled instance is %s", i.State)
	}
	f.mu.Lock()
	set := strings.Join(f.set, "|")
	f.mu.Unlock()
	if !strings.Contains(set, "CPUQuotaPerSecUSec=70000") || !strings.Contains(set, "CPUWeight=1") {
		t.Errorf("throttle set %q", set)
	}
	l, err := s.Acquire(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if state(s, n).Throttled || f.count(f.starts, n.Unit()) != 1 || f.count(f.stops, n.Unit()) != 0 {
		t.Errorf("after a request: throttled %v, %d starts, %d stops", state(s, n).Throttled, f.count(f.starts, n.Unit()), f.count(f.stops, n.Unit()))
	}
	f.mu.Lock()
	last := f.set[len(f.set)-1]
	f.mu.Unlock()
	if !strings.Contains(last, "CPUQuotaPerSecUSec=18446744073709551615") || !strings.Contains(last, "CPUWeight=100") {
		t.Errorf("restore set %q", last)
	}
}
