package domains

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// newTable opens a table over a real store holding the given instances.
func newTable(t *testing.T, dir string, max int, insts ...string) (*Table, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, s := range insts {
		n := inst(t, s)
		if err := st.CreateInstance(store.Instance{Service: n.Service, ID: n.ID}); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := Open(Options{Store: st, Root: "test.local", MaxPerInstance: max})
	if err != nil {
		t.Fatal(err)
	}
	return tb, st
}

func inst(t *testing.T, s string) names.Instance {
	t.Helper()
	n, err := names.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBind(t *testing.T) {
	tb, _ := newTable(t, t.TempDir(), 3, "notes:alice", "notes:bob")
	var unbound []string
	tb.OnUnbind(func(d string) { unbound = append(unbound, d) })
	tests := []struct {
		name     string
		inst     string
		host     string
		move     bool
		want     string // the binding "domain=instance[<-from]", or a substring of the error
		kind     error
		unbound  string // what the hooks were told, space-separated
		alice    string // alice's domains afterwards
		ownerOfA string // DomainOwner("alice.example") afterwards
	}{
		{name: "bind", inst: "notes:alice", host: "Alice.Example.", want: "alice.example=notes:alice", alice: "alice.example", ownerOfA: "notes:alice"},
		{name: "again", inst: "notes:alice", host: "alice.example", want: "alice.example=notes:alice", alice: "alice.example", ownerOfA: "notes:alice"},
		{name: "unicode", inst: "notes:alice", host: "bücher.example", want: "xn--bcher-kva.example=notes:alice",
			alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "someone else's", inst: "notes:bob", host: "alice.example", want: "domain alice.example is bound to notes:alice already",
			kind: errdefs.ErrConflict, alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "the root domain", inst: "notes:bob", host: "test.local", want: "under settings.domain test.local", kind: errdefs.ErrInvalid,
			alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "under the root domain", inst: "notes:bob", host: "bob.notes.TEST.local", want: "under settings.domain test.local", kind: errdefs.ErrInvalid,
			alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "ip literal", inst: "notes:bob", host: "192.0.2.1", want: "is an IP address", kind: errdefs.ErrInvalid,
			alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "wildcard", inst: "notes:bob", host: "*.bob.example", want: "wildcards are not allowed", kind: errdefs.ErrInvalid,
			alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "unknown instance", inst: "notes:carol", host: "carol.example", want: "not found: instance notes:carol", kind: errdefs.ErrNotFound,
			alice: "alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "third", inst: "notes:alice", host: "www.alice.example", want: "www.alice.example=notes:alice",
			alice: "alice.example www.alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "over the cap", inst: "notes:alice", host: "four.alice.example", want: "instance notes:alice has 3 domains", kind: errdefs.ErrConflict,
			alice: "alice.example www.alice.example xn--bcher-kva.example", ownerOfA: "notes:alice"},
		{name: "moved", inst: "notes:bob", host: "alice.example", move: true, want: "alice.example=notes:bob<-notes:alice",
			alice: "www.alice.example xn--bcher-kva.example", ownerOfA: "notes:bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unbound = nil
			b, err := tb.Bind(inst(t, tt.inst), tt.host, tt.move)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Bind: %v, want one line of %v containing %q", err, tt.kind, tt.want)
				}
			} else if got := binding(b); err != nil || got != tt.want {
				t.Errorf("Bind = %s, %v; want %s", got, err, tt.want)
			}
			if got := strings.Join(unbound, " "); got != tt.unbound {
				t.Errorf("unbound hooks told %q, want %q", got, tt.unbound)
			}
			if got := strings.Join(tb.Of(inst(t, "notes:alice")), " "); got != tt.alice {
				t.Errorf("alice's domains %q, want %q", got, tt.alice)
			}
			if n, _ := tb.DomainOwner("alice.example"); n.String() != tt.ownerOfA && !(n.IsZero() && tt.ownerOfA == "") {
				t.Errorf("DomainOwner(alice.example) = %v, want %s", n, tt.ownerOfA)
			}
		})
	}
}

func binding(b Binding) string {
	s := b.Domain + "=" + b.Instance.String()
	if !b.MovedFrom.IsZero() {
		s += "<-" + b.MovedFrom.String()
	}
	return s
}

func TestUnbindAndForget(t *testing.T) {
	dir := t.TempDir()
	tb, st := newTable(t, dir, 0, "notes:alice", "notes:bob")
	var unbound []string
	tb.OnUnbind(func(d string) { unbound = append(unbound, d) })
	for _, b := range []struct{ inst, host string }{
		{"notes:alice", "alice.example"}, {"notes:alice", "www.alice.example"}, {"notes:bob", "bob.example"},
	} {
		if _, err := tb.Bind(inst(t, b.inst), b.host, false); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := tb.Unbind("WWW.alice.example."); err != nil || binding(b) != "www.alice.example=notes:alice" {
		t.Fatalf("Unbind = %s, %v", binding(b), err)
	}
	if _, err := tb.Unbind("www.alice.example"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second Unbind: %v, want ErrNotFound", err)
	}
	if _, err := tb.Unbind("*.example"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Unbind of a wildcard: %v, want ErrInvalid", err)
	}
	if _, ok := tb.DomainOwner("www.alice.example"); ok {
		t.Error("an unbound domain still has an owner")
	}
	// The instance is deleted: the store drops its bindings, Forget the
	// table's.
	alice := inst(t, "notes:alice")
	if err := st.DeleteInstance(alice); err != nil {
		t.Fatal(err)
	}
	tb.Forget(alice)
	if got := strings.Join(unbound, " "); got != "www.alice.example alice.example" {
		t.Errorf("unbound hooks told %q", got)
	}
	if _, ok := tb.DomainOwner("alice.example"); ok || len(tb.Of(alice)) != 0 {
		t.Error("a deleted instance's domain is still bound")
	}
	// A new table over the same store sees what this one left.
	st.Close()
	tb2, _ := newTable(t, dir, 0)
	if got := list(tb2.List(nil)); got != "bob.example=notes:bob" {
		t.Errorf("after reopening: %s", got)
	}
	if got := list(tb2.List(func(n names.Instance) bool { return n.ID == "alice" })); got != "" {
		t.Errorf("alice's, after reopening: %s", got)
	}
}

func list(bs []Binding) string {
	var out []string
	for _, b := range bs {
		out = append(out, binding(b))
	}
	return strings.Join(out, " ")
}

// A bind racing the deletion of its instance never leaves a binding in
// memory that the store does not have.
func TestBindRacesDelete(t *testing.T) {
	for i := range 20 {
		tb, st := newTable(t, t.TempDir(), 0, "notes:alice")
		alice := inst(t, "notes:alice")
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = tb.Bind(alice, fmt.Sprintf("a%d.example", i), false) })
		wg.Go(func() {
			if err := st.DeleteInstance(alice); err == nil {
				tb.Forget(alice)
			}
		})
		wg.Wait()
		recs, _ := st.Domains()
		if mem := tb.List(nil); len(mem) != len(recs) {
			t.Fatalf("round %d: memory %v, store %v", i, mem, recs)
		}
	}
}

// BenchmarkDomainOwner is the proxy's lookup of a Host that is not under
// the root domain.
func BenchmarkDomainOwner(b *testing.B) {
	tb := &Table{owner: map[string]entry{}, of: map[names.Instance][]string{}}
	for i := range 10000 {
		tb.set(fmt.Sprintf("t%d.example", i), entry{inst: names.Instance{Service: "notes", ID: fmt.Sprintf("t%d", i)}})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := tb.DomainOwner("t5000.example"); !ok {
				b.Fatal("not found")
			}
		}
	})
}

// sharedStore is a store other writers share (a fleet's etcd): a map
// that the test changes behind the table's back.
type sharedStore struct {
	mu sync.Mutex
	m  map[string]store.Domain
}

func (s *sharedStore) Domains() ([]store.Domain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Domain
	for _, d := range s.m {
		out = append(out, d)
	}
	return out, nil
}

func (s *sharedStore) BindDomain(d store.Domain, move bool) (store.Domain, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[d.Domain]
	switch {
	case ok && cur.Instance == d.Instance:
		return cur, "", nil
	case ok && !move:
		return store.Domain{}, "", fmt.Errorf("%w: bound to %s", errdefs.ErrConflict, cur.Instance)
	}
	s.m[d.Domain] = d
	return d, cur.Instance, nil
}

func (s *sharedStore) UnbindDomain(domain string) (store.Domain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[domain]
	if !ok {
		return store.Domain{}, fmt.Errorf("%w: %s", errdefs.ErrNotFound, domain)
	}
	delete(s.m, domain)
	return cur, nil
}

func (s *sharedStore) set(domain, instance string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if instance == "" {
		delete(s.m, domain)
	} else {
		s.m[domain] = store.Domain{Domain: domain, Instance: instance}
	}
}

// TestFollowSharedStore: a table that follows a shared store brings its
// own bindings into it (keeping the store's where they clash), then
// mirrors it at every Reload, telling the hooks of the domains that went;
// Forget leaves memory to the store.
func TestFollowSharedStore(t *testing.T) {
	tb, _ := newTable(t, t.TempDir(), 0, "notes:alice", "notes:bob")
	alice, bob := inst(t, "notes:alice"), inst(t, "notes:bob")
	for _, d := range []string{"alice.example", "clash.example"} {
		if _, err := tb.Bind(alice, d, false); err != nil {
			t.Fatal(err)
		}
	}
	var told []string
	tb.OnUnbind(func(d string) { told = append(told, d) })
	shared := &sharedStore{m: map[string]store.Domain{
		"clash.example": {Domain: "clash.example", Instance: "notes:bob"},
		"bob.example":   {Domain: "bob.example", Instance: "notes:bob"},
	}}
	if err := tb.Follow(shared); err != nil {
		t.Fatal(err)
	}
	if got, want := list(tb.List(nil)), "alice.example=notes:alice bob.example=notes:bob clash.example=notes:bob"; got != want {
		t.Fatalf("after Follow: %s, want %s", got, want)
	}
	if n, _, _ := shared.BindDomain(store.Domain{Domain: "alice.example", Instance: "notes:alice"}, false); n.Instance != "notes:alice" {
		t.Errorf("alice.example did not reach the shared store")
	}
	// Another writer binds, moves and unbinds.
	shared.set("new.example", "notes:alice")
	shared.set("alice.example", "notes:bob")
	shared.set("bob.example", "")
	if err := tb.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, want := list(tb.List(nil)), "alice.example=notes:bob clash.example=notes:bob new.example=notes:alice"; got != want {
		t.Errorf("after Reload: %s, want %s", got, want)
	}
	if got := strings.Join(tb.Of(bob), " "); got != "alice.example clash.example" {
		t.Errorf("Of(bob) = %q", got)
	}
	if strings.Join(told, " ") != "bob.example" {
		t.Errorf("hooks told %v, want [bob.example]", told)
	}
	// This host forgets bob (moved away, say): the shared table still
	// binds its domains, and so does memory.
	tb.Forget(bob)
	if n, ok := tb.DomainOwner("clash.example"); !ok || n != bob {
		t.Errorf("Forget in a shared table unbound clash.example: %v %v", n, ok)
	}
	// Writes go to the shared store.
	if _, err := tb.Unbind("new.example"); err != nil {
		t.Fatal(err)
	}
	if _, ok := shared.m["new.example"]; ok {
		t.Errorf("Unbind did not reach the shared store")
	}
}
