package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

// TestCacheRevisions: a late event never undoes a newer write.
func TestCacheRevisions(t *testing.T) {
	l := newLayout("c")
	c := newCache(l, slog.New(slog.DiscardHandler))
	key := l.placement(inst(t, "notes:a"))
	on := func(h string) []byte { return []byte(encode(placementValue{Host: h})) }
	owner := func() string { return c.places[inst(t, "notes:a")].Host }
	steps := []struct {
		name string
		kv   kv
		want string
	}{
		{"put at 5", kv{key: key, value: on("h1"), rev: 5}, "h1"},
		{"late put at 3", kv{key: key, value: on("h2"), rev: 3}, "h1"},
		{"same put at 5 again (the watch after a local write)", kv{key: key, value: on("h1"), rev: 5}, "h1"},
		{"delete at 7", kv{key: key, rev: 7, deleted: true}, ""},
		{"late put at 6", kv{key: key, value: on("h3"), rev: 6}, ""},
		{"put at 8", kv{key: key, value: on("h3"), rev: 8}, "h3"},
	}
	for _, s := range steps {
		c.apply(s.kv)
		if got := owner(); got != s.want {
			t.Fatalf("%s: owner %q, want %q", s.name, got, s.want)
		}
	}
	if c.perHost["h1"] != 0 || c.perHost["h3"] != 1 {
		t.Fatalf("per host %v", c.perHost)
	}
	c.apply(kv{key: key, rev: 9, deleted: true})
	c.forget(8)
	if len(c.dead) != 1 {
		t.Fatalf("forget(8) dropped the mark of revision 9: %v", c.dead)
	}
	c.forget(9)
	if len(c.dead) != 0 {
		t.Fatalf("marks left after forget(9): %v", c.dead)
	}
}

// TestCacheConsistentUnderWatch: three agents write at once (placements,
// moves, removals, domains); afterwards every agent's cache equals what
// etcd holds.
func TestCacheConsistentUnderWatch(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	var agents []*Agent
	for i := 1; i <= 3; i++ {
		agents = append(agents, startAgent(t, e, cluster, fmt.Sprintf("h%d", i), 1000))
	}
	for _, a := range agents {
		testbed.Eventually(t, 5*time.Second, "three hosts", func() error {
			if len(a.Hosts()) != 3 {
				return errors.New("not yet")
			}
			return nil
		})
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3*150)
	for i, a := range agents {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range 150 {
				n := inst(t, fmt.Sprintf("notes:i%d", r.IntN(20)))
				host := fmt.Sprintf("h%d", 1+r.IntN(3))
				var err error
				switch r.IntN(5) {
				case 0, 1:
					_, _, err = a.Place(ctx, n, [...]string{"", host}[r.IntN(2)])
				case 2:
					_, err = a.Move(ctx, n, host)
				case 3:
					err = a.Unplace(ctx, n)
				case 4:
					d := fmt.Sprintf("d%d.example", r.IntN(5))
					if r.IntN(2) == 0 {
						_, _, err = a.PutDomain(ctx, d, n, false)
					} else {
						err = a.DeleteDomain(ctx, d)
					}
				}
				if err != nil && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// one more write each, so that every watch passes the deletion marks
	// that corrected a stale view (a later event prunes them)
	for _, a := range agents {
		if _, _, err := a.Place(ctx, inst(t, "notes:last-"+a.Host()), ""); err != nil {
			t.Fatal(err)
		}
	}
	wantPlaces, wantDomains := etcdView(t, agents[0])
	for _, a := range agents {
		testbed.Eventually(t, 5*time.Second, a.Host()+"'s cache equals etcd", func() error {
			var places, domains []string
			for _, p := range a.Placements() {
				places = append(places, p.Instance.String()+"@"+p.Host)
			}
			for _, b := range a.Domains() {
				domains = append(domains, b.Domain+"="+b.Instance.String())
			}
			slices.Sort(places)
			if !slices.Equal(places, wantPlaces) || !slices.Equal(domains, wantDomains) {
				return fmt.Errorf("cache %v %v, etcd %v %v", places, domains, wantPlaces, wantDomains)
			}
			a.cache.mu.RLock()
			defer a.cache.mu.RUnlock()
			if len(a.cache.dead) != 0 {
				return fmt.Errorf("%d deletion marks left", len(a.cache.dead))
			}
			return nil
		})
	}
	t.Logf("%d placements, %d domains after 450 concurrent writes", len(wantPlaces), len(wantDomains))
}

// etcdView reads the placements and domains straight from etcd, sorted.
func etcdView(t *testing.T, a *Agent) (places, domains []string) {
	t.Helper()
	resp, err := a.cli.Get(context.Background(), a.lay.root, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(a.lay, slog.New(slog.DiscardHandler))
	for _, e := range resp.Kvs {
		c.apply(kv{key: string(e.Key), value: e.Value, rev: e.ModRevision})
	}
	for n, p := range c.places {
		places = append(places, n.String()+"@"+p.Host)
	}
	for d, n := range c.domains {
		domains = append(domains, d+"="+n.Instance.String())
	}
	slices.Sort(places)
	slices.Sort(domains)
	return places, domains
}

// BenchmarkPlace measures a placement (one transaction), and how long after
// the call began another host's cache shows it (through its watch).
//
//	go test -run '^$' -bench Place -benchtime 500x ./fleet/
func BenchmarkPlace(b *testing.B) {
	e := sharedEtcd(b)
	cluster := newCluster()
	h1 := startAgent(b, e, cluster, "h1", 1<<30)
	h2 := startAgent(b, e, cluster, "h2", 1<<30)
	ctx := context.Background()
	var place, seen []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := names.Instance{Service: "bench", ID: fmt.Sprintf("i%d", i)}
		t0 := time.Now()
		if _, _, err := h1.Place(ctx, n, "h1"); err != nil {
			b.Fatal(err)
		}
		place = append(place, time.Since(t0))
		for {
			if _, ok := h2.Owner(n); ok {
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
		seen = append(seen, time.Since(t0))
	}
	b.StopTimer()
	q := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds())
	}
	b.ReportMetric(q(place, 0.5), "place-p50-µs")
	b.ReportMetric(q(place, 0.99), "place-p99-µs")
	b.ReportMetric(q(seen, 0.5), "seen-elsewhere-p50-µs")
	b.ReportMetric(q(seen, 0.99), "seen-elsewhere-p99-µs")
}
