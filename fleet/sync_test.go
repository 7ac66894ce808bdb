package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

// fakeConsumer is the supervisor's part: instances known locally.
type fakeConsumer struct {
	mu      sync.Mutex
	have    map[names.Instance]bool
	refuse  string // a service CreateMany refuses (not configured here)
	deletes []names.Instance
}

func newFakeConsumer(ns ...names.Instance) *fakeConsumer {
	f := &fakeConsumer{have: map[names.Instance]bool{}}
	for _, n := range ns {
		f.have[n] = true
	}
	return f
}

func (f *fakeConsumer) CreateMany(ns []names.Instance) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range ns {
		if n.Service == f.refuse {
			return 0, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
		}
	}
	created := 0
	for _, n := range ns {
		if !f.have[n] {
			f.have[n] = true
			created++
		}
	}
	return created, nil
}

func (f *fakeConsumer) Delete(ctx context.Context, n names.Instance, purge bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if purge {
		panic("the agent purged " + n.String())
	}
	if !f.have[n] {
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	delete(f.have, n)
	f.deletes = append(f.deletes, n)
	return nil
}

func (f *fakeConsumer) Instances() []names.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Keys(f.have))
}

func (f *fakeConsumer) setRefuse(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = s
}

// has waits until the consumer has exactly these instances.
func (f *fakeConsumer) has(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	testbed.Eventually(t, 5*time.Second, fmt.Sprintf("local instances %v", want), func() error {
		var got []string
		for _, n := range f.Instances() {
			got = append(got, n.String())
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			return fmt.Errorf("have %v", got)
		}
		return nil
	})
}

func TestConsumerFollowsPlacements(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	ctx := context.Background()
	h2 := startAgent(t, e, cluster, "h2", 10)
	// placed before h1 starts: h1 must reconcile what its store has
	if _, _, err := h2.Place(ctx, inst(t, "notes:keep"), "h2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h2.Place(ctx, inst(t, "notes:new"), "h2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h2.Place(ctx, inst(t, "notes:other"), "h2"); err != nil {
		t.Fatal(err)
	}
	// (moved to h1 once h1 is live)
	local := newFakeConsumer(inst(t, "notes:keep"), inst(t, "notes:stale"))
	h1 := startAgent(t, e, cluster, "h1", 10, func(o *Options) {
		o.Consumer, o.ReconcileEvery = local, 300*time.Millisecond
	})
	testbed.Eventually(t, 5*time.Second, "h2 sees h1", func() error {
		if !h2.Live("h1") {
			return fmt.Errorf("h1 not live")
		}
		return nil
	})
	for _, id := range []string{"keep", "new"} {
		if _, err := h2.Move(ctx, inst(t, "notes:"+id), "h1"); err != nil {
			t.Fatal(err)
		}
	}
	// placed here: registered; known here but placed nowhere: forgotten
	local.has(t, "notes:keep", "notes:new")

	// placed here by another host
	local.setRefuse("wiki")
	if _, _, err := h2.Place(ctx, inst(t, "notes:third"), "h1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h2.Place(ctx, inst(t, "wiki:w"), "h1"); err != nil {
		t.Fatal(err)
	}
	// a service this host refuses holds back no other instance
	local.has(t, "notes:keep", "notes:new", "notes:third")
	// moved away, unplaced: forgotten (never purged)
	if _, err := h1.Move(ctx, inst(t, "notes:keep"), "h2"); err != nil {
		t.Fatal(err)
	}
	if err := h2.Unplace(ctx, inst(t, "notes:new")); err != nil {
		t.Fatal(err)
	}
	local.has(t, "notes:third")
	// the refused one is retried by the periodic reconcile
	local.setRefuse("")
	local.has(t, "notes:third", "wiki:w")
	// what another host owns never reaches this one
	if slices.Contains(local.Instances(), inst(t, "notes:other")) {
		t.Fatal("h1 registered an instance of h2")
	}
}

// TestConsumerUntouchedBeforeFirstSync: an agent that has never read the
// fleet (etcd down from the start) must not take its empty cache for "no
// placement here" and forget every local instance.
func TestConsumerUntouchedBeforeFirstSync(t *testing.T) {
	local := newFakeConsumer(inst(t, "notes:a"), inst(t, "notes:b"))
	a, err := New(Options{Endpoints: []string{"http://127.0.0.1:1"}, Cluster: newCluster(), Host: "h1",
		Addr: "h1:8080", Capacity: 1, Consumer: local, ReconcileEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	a.Close()
	if got := local.Instances(); len(got) != 2 || len(local.deletes) != 0 {
		t.Fatalf("local instances %v, deletes %v: the agent touched them without a view of the fleet", got, local.deletes)
	}
}
