package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

func TestAcquireWakesOnce(t *testing.T) {
	f := newFake(30 * time.Millisecond)
	s := newTestSupervisor(t, f, webService)
	n, _ := names.Parse("web:alice")
	ctx := context.Background()
	if _, err := s.Spawn(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx, n); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.Acquire(ctx, n)
			if err != nil {
				errs <- err
				return
			}
			defer l.Release()
			if l.Addr == "" {
				errs <- errors.New("empty address")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.count(f.starts, n.Unit()); got != 2 {
		t.Errorf("unit started %d times (spawn + wake), want 2", got)
	}
}

func TestAcquireUnknown(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"\n[service.open]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\nspawn_on_request = true\n")
	ctx := context.Background()
	for _, in := range []string{"web:nobody", "blog:x"} {
		n, _ := names.Parse(in)
		if _, err := s.Acquire(ctx, n); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Acquire(%s) = %v, want ErrNotFound", n, err)
		}
	}
	if l, _ := s.List(ListOptions{}); len(l) != 0 {
		t.Error("a request created an instance")
	}
	n, _ := names.Parse("open:carol")
	if _, err := s.Acquire(ctx, n); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Acquire created %s: %v", n, err)
	}
	if err := s.CreateForRequest(names.Instance{Service: "web", ID: "x"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CreateForRequest without spawn_on_request: %v", err)
	}
	if err := s.CreateForRequest(n); err != nil {
		t.Fatalf("spawn_on_request: %v", err)
	}
	l, err := s.Acquire(ctx, n)
	if err != nil {
		t.Fatalf("spawn_on_request: %v", err)
	}
	l.Release()
	if i, _ := s.Get(ctx, n); i.Weight != 0 {
		t.Errorf("a new instance has weight %d, want 0", i.Weight)
	}
}

func TestCreateForRequestStopsAtMaxInstances(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, "[service.open]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\nspawn_on_request = true\nmax_instances = 3\n")
	ctx := context.Background()
	for i := range 5 {
		n, _ := names.New("open", fmt.Sprintf("id%d", i))
		err := s.CreateForRequest(n)
		if i < 3 && err != nil {
			t.Errorf("creation %d: %v", i, err)
		}
		if i >= 3 && !errors.Is(err, errdefs.ErrRateLimited) {
			t.Errorf("creation %d past max_instances: %v, want ErrRateLimited", i, err)
		}
	}
	// An admin is not held to it; a deletion makes room for requests.
	admin, _ := names.New("open", "admin")
	if _, err := s.Spawn(ctx, admin); err != nil {
		t.Fatalf("admin spawn past max_instances: %v", err)
	}
	for _, id := range []string{"id0", "admin"} {
		if err := s.Delete(ctx, names.Instance{Service: "open", ID: id}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateForRequest(names.Instance{Service: "open", ID: "later"}); err != nil {
		t.Errorf("after deletions: %v", err)
	}
}

func TestUnservedInstanceIsForgottenWhenItSleeps(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, "[service.open]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\nspawn_on_request = true\n")
	ctx := context.Background()
	quiet, _ := names.New("open", "quiet")
	served, _ := names.New("open", "served")
	for _, n := range []names.Instance{quiet, served} {
		if err := s.CreateForRequest(n); err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if n == served {
			l.Served(200)
		} else {
			l.Served(404)
		}
		l.Release()
	}
	waitFor(t, "the first 2xx stored", func() bool {
		in := s.lookup(served)
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.rec.Served
	})
	for _, n := range []names.Instance{quiet, served} {
		in := s.lookup(n)
		s.stopInst(ctx, in, true, false)
		s.forgetUnserved(in)
	}
	if s.Known(quiet) {
		t.Error("an instance that never answered 2xx is still known after it slept")
	}
	if !s.Known(served) {
		t.Error("an instance that answered 2xx was forgotten")
	}
}

func TestPickExactProportions(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	for id, w := range map[string]int{"a": 80, "b": 20, "c": 0} {
		n, _ := names.New("web", id)
		if _, err := s.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := s.SetWeight(n, w); err != nil {
			t.Fatal(err)
		}
	}
	// Smooth weighted round robin is exact over every window of 100.
	for window := 0; window < 5; window++ {
		got := map[string]int{}
		for range 100 {
			n, err := s.Pick("web")
			if err != nil {
				t.Fatal(err)
			}
			got[n.ID]++
		}
		if got["a"] != 80 || got["b"] != 20 || got["c"] != 0 {
			t.Fatalf("window %d: %v, want a=80 b=20 c=0", window, got)
		}
	}
	if err := s.SetWeight(names.Instance{Service: "web", ID: "a"}, 101); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("weight 101: %v", err)
	}
}

func TestRouteIsAtomicForPick(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	for _, id := range []string{"v1", "v2"} {
		n, _ := names.New("web", id)
		if _, err := s.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	s.SetWeight(names.Instance{Service: "web", ID: "v1"}, 100)
	s.SetWeight(names.Instance{Service: "web", ID: "v2"}, 0)
	var failures atomic.Int64
	stop := testbed.Repeat(4, func(int) {
		if _, err := s.Pick("web"); err != nil {
			failures.Add(1)
		}
	})
	for i := 0; i < 50; i++ {
		from, to := "v1", "v2"
		if i%2 == 1 {
			from, to = to, from
		}
		if err := s.Route(names.Instance{Service: "web", ID: from}, names.Instance{Service: "web", ID: to}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d picks found no instance during route flips", n)
	}
}

func TestIdleSleepAndLeases(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+"idle_timeout = \"150ms\"\n")
	n, _ := names.Parse("web:idle")
	ctx := context.Background()
	l, err := s.Acquire(ctx, n) // unknown: not spawned
	if err == nil {
		l.Release()
		t.Fatal("acquired an unknown instance")
	}
	if _, err := s.Spawn(ctx, n); err != nil {
		t.Fatal(err)
	}
	l, err = s.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // a held lease keeps it awake
	if i, _ := s.Get(ctx, n); i.State != StateRunning {
		t.Fatalf("with a lease held: %s", i.State)
	}
	l.Release()
	deadline := time.Now().Add(2 * time.Second)
	for {
		i, _ := s.Get(ctx, n)
		if i.State == StateAsleep {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not asleep after idle_timeout: %s", i.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.count(f.stops, n.Unit()); got != 1 {
		t.Errorf("stops = %d", got)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n, base, max int
		want         time.Duration
	}{
		{0, 1000, 60000, time.Second},
		{1, 1000, 60000, 2 * time.Second},
		{2, 1000, 60000, 4 * time.Second},
		{6, 1000, 60000, 60 * time.Second},
		{100, 1000, 60000, 60 * time.Second},
		{3, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, tt.base, tt.max); got != tt.want {
			t.Errorf("backoff(%d, %d, %d) = %v, want %v", tt.n, tt.base, tt.max, got, tt.want)
		}
	}
}

func TestForeignUnitsAreNotAdopted(t *testing.T) {
	f := newFake(0)
	n, _ := names.Parse("web:other")
	f.units[n.Unit()] = &fakeUnit{env: []string{"TENEMENT_DAEMON=/somewhere/else", "PORT=21500"}, active: dbusapi.Active, sub: dbusapi.SubRunning}
	s := newTestSupervisor(t, f, webService)
	if l, _ := s.List(ListOptions{}); len(l) != 0 {
		t.Fatal("adopted a unit of another daemon")
	}
	// And it refuses to start over it.
	if _, err := s.Spawn(context.Background(), n); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("spawn over a foreign unit: %v, want ErrConflict", err)
	}
	if f.count(f.stops, n.Unit()) != 0 {
		t.Error("stopped a unit of another daemon")
	}
}

func TestPickWithEmptyPoolWakesNothing(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	ctx := context.Background()
	for _, id := range []string{"alice", "bob"} {
		n, _ := names.New("web", id)
		if _, err := s.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	before := f.count(f.starts, "tenement@web-alice.service") + f.count(f.starts, "tenement@web-bob.service")
	if _, err := s.Pick("web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Pick with no instance of weight > 0 = %v, want ErrNotFound", err)
	}
	if after := f.count(f.starts, "tenement@web-alice.service") + f.count(f.starts, "tenement@web-bob.service"); after != before {
		t.Errorf("Pick started a unit")
	}
}

// waitFor waits up to 5s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
