package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

func TestPlaceConcurrentExactlyOneWins(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	var agents []*Agent
	for i := 1; i <= 3; i++ {
		agents = append(agents, startAgent(t, e, cluster, fmt.Sprintf("h%d", i), 100))
	}
	for _, a := range agents { // everyone sees every host before placing
		testbed.Eventually(t, 5*time.Second, "three hosts", func() error {
			if n := len(a.Hosts()); n != 3 {
				return fmt.Errorf("%d hosts", n)
			}
			return nil
		})
	}
	ctx := context.Background()
	for round := range 20 {
		n := inst(t, fmt.Sprintf("notes:race-%d", round))
		const perAgent = 4 // 12 concurrent Place calls of one instance
		type result struct {
			p       Placement
			created bool
			err     error
		}
		results := make(chan result, perAgent*len(agents))
		var wg sync.WaitGroup
		for i, a := range agents {
			for range perAgent {
				wg.Go(func() {
					host := "" // half choose, half name a host
					if i%2 == 1 {
						host = agents[(i+round)%len(agents)].Host()
					}
					p, created, err := a.Place(ctx, n, host)
					results <- result{p, created, err}
				})
			}
		}
		wg.Wait()
		close(results)
		winners, owners := 0, map[string]bool{}
		for r := range results {
			if r.err != nil {
				t.Fatalf("round %d: %v", round, r.err)
			}
			if r.created {
				winners++
			}
			owners[r.p.Host] = true
		}
		if winners != 1 || len(owners) != 1 {
			t.Fatalf("round %d: %d callers created the placement, owners %v; want exactly one of each", round, winners, owners)
		}
		for _, a := range agents {
			if o, ok := a.Owner(n); !ok || !owners[o.Host] {
				t.Fatalf("round %d: %s says the owner is %+v (ok %v), want one of %v", round, a.Host(), o, ok, owners)
			}
		}
	}
}

func TestPlaceSpreadsByFreeCapacity(t *testing.T) {
	e := sharedEtcd(t)
	// 30 placements, each on the host with the most free room: the bigger
	// hosts fill first, until the free room is even (within one).
	tests := []struct {
		name       string
		capacities []int
		wantFree   []int
	}{
		{"equal", []int{20, 20, 20}, []int{10, 10, 10}},
		{"unequal", []int{30, 10, 10}, []int{7, 7, 6}},            // 23 on h1, 7 on the others
		{"one nearly full", []int{10, 12, 40}, []int{10, 11, 11}}, // 0, 1 and 29
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := newCluster()
			var agents []*Agent
			for i, c := range tt.capacities {
				agents = append(agents, startAgent(t, e, cluster, fmt.Sprintf("h%d", i+1), c))
			}
			placer := agents[0] // all 30 through one host, as `ten create` would
			testbed.Eventually(t, 5*time.Second, "all hosts live", func() error {
				if n := len(placer.Hosts()); n != len(agents) {
					return fmt.Errorf("%d hosts", n)
				}
				return nil
			})
			for i := range 30 {
				if _, created, err := placer.Place(context.Background(), inst(t, fmt.Sprintf("notes:c%d", i)), ""); err != nil || !created {
					t.Fatalf("place %d: created %v, %v", i, created, err)
				}
			}
			placed := map[string]int{}
			for _, p := range placer.Placements() {
				placed[p.Host]++
			}
			var free []int
			for i, a := range agents {
				free = append(free, tt.capacities[i]-placed[a.Host()])
			}
			if slices.Sort(free); !slices.Equal(free, slices.Sorted(slices.Values(tt.wantFree))) {
				t.Errorf("free room %v (placed %v), want %v", free, placed, tt.wantFree)
			}
		})
	}
}

func TestPlaceFullAndNamedHosts(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	a := startAgent(t, e, cluster, "h1", 2)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, _, err := a.Place(ctx, inst(t, "notes:"+id), ""); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := a.Place(ctx, inst(t, "notes:c"), "")
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("placing on a full fleet: %v, want ErrUnavailable", err)
	}
	// a named host may be over its capacity (the operator's choice)
	if p, created, err := a.Place(ctx, inst(t, "notes:c"), "h1"); err != nil || !created || p.Host != "h1" {
		t.Fatalf("place on h1 by name: %+v %v %v", p, created, err)
	}
	if h := a.Hosts(); len(h) != 1 || h[0].Placed != 3 || h[0].Free() != -1 {
		t.Fatalf("hosts: %+v, want h1 with 3 placed", h)
	}
	// a host that is not live cannot be named
	if _, _, err := a.Place(ctx, inst(t, "notes:d"), "h9"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("place on a host that is not live: %v, want ErrUnavailable", err)
	}
	// placing again is no change, and says who owns it
	if p, created, err := a.Place(ctx, inst(t, "notes:a"), ""); err != nil || created || p.Host != "h1" {
		t.Fatalf("place again: %+v created %v %v", p, created, err)
	}
	if _, _, err := a.Place(ctx, names.Instance{}, ""); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("place no instance: %v", err)
	}
}

func TestMoveAndUnplace(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	h1 := startAgent(t, e, cluster, "h1", 10)
	h2 := startAgent(t, e, cluster, "h2", 10)
	startAgent(t, e, cluster, "h3", 10)
	ctx := context.Background()
	n := inst(t, "notes:alice")
	testbed.Eventually(t, 5*time.Second, "h1 sees h2", func() error {
		if !h1.Live("h2") {
			return errors.New("h2 not live")
		}
		return nil
	})
	before, _, err := h1.Place(ctx, n, "h1")
	if err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h2 sees the placement", func() error {
		if o, ok := h2.Owner(n); !ok || o.Host != "h1" || !o.Live || o.Addr != "h1.test:8080" || o.Local {
			return fmt.Errorf("owner %+v %v", o, ok)
		}
		return nil
	})
	p, err := h2.Move(ctx, n, "h2")
	if err != nil || p.Host != "h2" {
		t.Fatalf("move: %+v %v", p, err)
	}
	if o, ok := h2.Owner(n); !ok || !o.Local {
		t.Fatalf("h2 right after its move: %+v, want local", o)
	}
	testbed.Eventually(t, 5*time.Second, "h1 sees the move", func() error {
		if o, _ := h1.Owner(n); o.Host != "h2" {
			return fmt.Errorf("owner %+v", o)
		}
		return nil
	})
	// a move from a stale view (h1's, as if the watch lagged) fails: the
	// transaction compares the placement's revision; the failure corrects
	// the view
	h1.cache.mu.Lock()
	h1.cache.places[n], h1.cache.revs[h1.lay.placement(n)] = before, before.Revision
	h1.cache.mu.Unlock()
	if _, err := h1.Move(ctx, n, "h3"); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "now on h2") {
		t.Fatalf("move from a stale view: %v, want ErrConflict", err)
	}
	if o, _ := h1.Owner(n); o.Host != "h2" {
		t.Fatalf("h1's view after the conflict: %+v, want h2", o)
	}
	if _, err := h2.Move(ctx, n, "h9"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("move to a host that is not live: %v", err)
	}
	if err := h2.Unplace(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, ok := h2.Owner(n); ok {
		t.Fatal("owner right after unplace")
	}
	if err := h2.Unplace(ctx, n); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unplace again: %v, want ErrNotFound", err)
	}
	if _, err := h2.Move(ctx, n, "h1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("move an unplaced instance: %v, want ErrNotFound", err)
	}
}
