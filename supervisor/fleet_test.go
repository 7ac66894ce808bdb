package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// fakePlacer is the fleet: a map of placements, this host "here".
type fakePlacer struct {
	mu     sync.Mutex
	places map[names.Instance]string
	calls  []string
	down   bool // etcd unreachable
}

func newFakePlacer() *fakePlacer { return &fakePlacer{places: map[names.Instance]string{}} }

func (p *fakePlacer) PlaceHere(_ context.Context, n names.Instance) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "place "+n.String())
	if p.down {
		return false, fmt.Errorf("%w: fleet: etcd unreachable: place %s", errdefs.ErrUnavailable, n)
	}
	switch h, ok := p.places[n]; {
	case ok && h != "here":
		return false, fmt.Errorf("%w: %s is placed on %s", errdefs.ErrUnavailable, n, h)
	case ok:
		return false, nil
	}
	p.places[n] = "here"
	return true, nil
}

func (p *fakePlacer) Unplace(_ context.Context, n names.Instance) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "unplace "+n.String())
	if _, ok := p.places[n]; !ok {
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	delete(p.places, n)
	return nil
}

func (p *fakePlacer) PlacedHere(n names.Instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.places[n] == "here"
}

func (p *fakePlacer) took() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls
	p.calls = nil
	return c
}

const openService = "[service.open]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\nspawn_on_request = true\nmax_instances = 2\n"

// TestFleetRequestCreation: in a fleet, an instance a request creates is
// placed here before it is stored; one placed elsewhere, or with etcd
// unreachable, is not created here; past max_instances nothing is even
// placed; forgotten unserved, its placement goes too.
func TestFleetRequestCreation(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, openService)
	p := newFakePlacer()
	s.SetPlacer(p)
	a, b, c, elsewhere := name(t, "open:a"), name(t, "open:b"), name(t, "open:c"), name(t, "open:other")
	p.places[elsewhere] = "h2"

	if err := s.CreateForRequest(a); err != nil || !s.Known(a) || !p.PlacedHere(a) {
		t.Fatalf("create a: %v, known %v, placed %v", err, s.Known(a), p.PlacedHere(a))
	}
	if err := s.CreateForRequest(elsewhere); !errors.Is(err, errdefs.ErrUnavailable) || s.Known(elsewhere) {
		t.Errorf("an instance placed on another host: %v, known %v; want ErrUnavailable, unknown", err, s.Known(elsewhere))
	}
	p.down = true
	if err := s.CreateForRequest(b); !errors.Is(err, errdefs.ErrUnavailable) || s.Known(b) {
		t.Errorf("etcd down: %v, known %v; want ErrUnavailable, unknown", err, s.Known(b))
	}
	p.down = false
	if err := s.CreateForRequest(b); err != nil {
		t.Fatal(err)
	}
	p.took()
	if err := s.CreateForRequest(c); !errors.Is(err, errdefs.ErrRateLimited) {
		t.Errorf("past max_instances: %v, want ErrRateLimited", err)
	}
	if calls := p.took(); len(calls) != 0 {
		t.Errorf("past max_instances the fleet was asked %v, want nothing", calls)
	}
	s.forgetUnserved(s.lookup(a))
	if s.Known(a) || p.PlacedHere(a) {
		t.Errorf("forgotten unserved: known %v, placed %v; want neither", s.Known(a), p.PlacedHere(a))
	}
}

// TestFleetFirstRequestRegisters: an instance placed here that the sync
// has not registered yet is registered by its first request, and one
// placed elsewhere is not.
func TestFleetFirstRequestRegisters(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	p := newFakePlacer()
	s.SetPlacer(p)
	here, there := name(t, "web:here"), name(t, "web:there")
	p.places[here], p.places[there] = "here", "h2"
	l, err := s.Acquire(context.Background(), here)
	if err != nil {
		t.Fatalf("acquire an instance placed here: %v", err)
	}
	l.Release()
	if _, err := s.Acquire(context.Background(), there); !errors.Is(err, errdefs.ErrNotFound) || s.Known(there) {
		t.Errorf("an instance placed elsewhere: %v, known %v; want ErrNotFound", err, s.Known(there))
	}
	if got := s.Instances(); !slices.Equal(got, []names.Instance{here}) {
		t.Errorf("Instances() = %v, want [web:here]", got)
	}
	if n := s.AwakeCount(); n != 1 {
		t.Errorf("AwakeCount() = %d, want 1", n)
	}
}

// TestFleetPlacedIsKnown: an instance placed here that the sync has not
// registered yet is known to every call about it (a move's target is
// asked to set the weight the instance had), and one placed elsewhere
// is not.
func TestFleetPlacedIsKnown(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	p := newFakePlacer()
	s.SetPlacer(p)
	here, there := name(t, "web:here"), name(t, "web:there")
	p.places[here], p.places[there] = "here", "h2"
	if err := s.SetWeight(here, 40); err != nil {
		t.Fatalf("weight of an instance placed here: %v", err)
	}
	if i, err := s.Get(context.Background(), here); err != nil || i.Weight != 40 || i.State != StateAsleep {
		t.Errorf("placed here, after SetWeight: %+v, %v; want asleep with weight 40", i, err)
	}
	if err := s.SetWeight(there, 40); !errors.Is(err, errdefs.ErrNotFound) || s.Known(there) {
		t.Errorf("an instance placed elsewhere: %v, known %v; want ErrNotFound", err, s.Known(there))
	}
}

// TestFence: a fenced instance is stopped and does not wake, for a
// request, a spawn or Wake; unfenced it wakes again.
func TestFence(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService)
	n := name(t, "web:moving")
	ctx := context.Background()
	if _, err := s.Spawn(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.Fence(ctx, n); err != nil {
		t.Fatal(err)
	}
	if s.Awake(n) {
		t.Error("fenced, yet running")
	}
	if _, err := s.Acquire(ctx, n); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("acquire fenced: %v, want ErrUnavailable", err)
	}
	if _, err := s.Spawn(ctx, n); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("spawn fenced: %v, want ErrUnavailable", err)
	}
	if err := s.Wake(n, CauseRequest); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("wake fenced: %v, want ErrUnavailable", err)
	}
	starts := f.count(f.starts, n.Unit())
	s.Unfence(n)
	l, err := s.Acquire(ctx, n)
	if err != nil {
		t.Fatalf("unfenced: %v", err)
	}
	l.Release()
	if got := f.count(f.starts, n.Unit()); got != starts+1 {
		t.Errorf("starts %d -> %d, want one more", starts, got)
	}
}

func name(t *testing.T, s string) names.Instance {
	t.Helper()
	n, err := names.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
