package routing

import (
	"errors"
	"sync"
	"testing"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

func inst(id string) names.Instance { return names.Instance{Service: "web", ID: id} }

func TestPickExactProportions(t *testing.T) {
	r := New()
	r.Set(inst("a"), 80)
	r.Set(inst("b"), 20)
	r.Set(inst("c"), 0)
	for window := range 5 {
		got := map[string]int{}
		for range 100 {
			n, err := r.Pick("web", nil)
			if err != nil {
				t.Fatal(err)
			}
			got[n.ID]++
		}
		if got["a"] != 80 || got["b"] != 20 || got["c"] != 0 {
			t.Fatalf("window %d: %v, want a=80 b=20 c=0", window, got)
		}
	}
	// No bursts: with 50/50 the picks alternate.
	r.Set(inst("a"), 50)
	r.Set(inst("b"), 50)
	prev := ""
	for range 10 {
		n, _ := r.Pick("web", nil)
		if n.ID == prev {
			t.Fatalf("50/50 picked %s twice in a row", n.ID)
		}
		prev = n.ID
	}
}

func TestPickSkipsAndEmptyPools(t *testing.T) {
	r := New()
	if _, err := r.Pick("web", nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("empty: %v", err)
	}
	r.Set(inst("a"), 100)
	r.Set(inst("b"), 100)
	for range 10 {
		n, err := r.Pick("web", func(n names.Instance) bool { return n.ID != "a" })
		if err != nil || n.ID != "b" {
			t.Fatalf("with a skipped: %v %v", n, err)
		}
	}
	if _, err := r.Pick("web", func(names.Instance) bool { return false }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("all skipped: %v", err)
	}
	r.Set(inst("a"), 0)
	r.Set(inst("b"), 0)
	if _, err := r.Pick("web", nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("weights set to 0: %v", err)
	}
	if r.Weight(inst("a")) != 0 || len(r.pools) != 0 {
		t.Errorf("an emptied pool stays: %v", r.pools)
	}
}

func TestSetPairIsAtomicForPick(t *testing.T) {
	r := New()
	r.Set(inst("v1"), 100)
	var failures sync.Map
	stop := testbed.Repeat(4, func(int) {
		if _, err := r.Pick("web", nil); err != nil {
			failures.Store(err.Error(), true)
		}
	})
	for i := range 1000 {
		if i%2 == 0 {
			r.SetPair(inst("v1"), 0, inst("v2"), 100)
		} else {
			r.SetPair(inst("v2"), 0, inst("v1"), 100)
		}
	}
	stop()
	failures.Range(func(k, _ any) bool { t.Errorf("a pick saw half a route: %v", k); return false })
}

func BenchmarkPickAmongManyServices(b *testing.B) {
	r := New()
	for i := range 10000 {
		r.Set(names.Instance{Service: "s" + string(rune('a'+i%26)), ID: "x"}, 0)
	}
	r.Set(inst("a"), 90)
	r.Set(inst("b"), 10)
	for b.Loop() {
		r.Pick("web", nil)
	}
}
