package supervisor

import (
	"context"
	"slices"
	"testing"

	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// An instance's custom domains show in its Info, and deleting it unbinds
// them: the proxy and the certificate policy stop serving them at once.
func TestDeleteUnbindsDomains(t *testing.T) {
	var tb *domains.Table
	s := newSupervisorWith(t, newFake(0), webService, func(o *Options, st *store.Store) {
		var err error
		if tb, err = domains.Open(domains.Options{Store: st, Root: "test.local"}); err != nil {
			t.Fatal(err)
		}
		o.Domains = tb
	})
	alice, bob := names.Instance{Service: "web", ID: "alice"}, names.Instance{Service: "web", ID: "bob"}
	if _, err := s.CreateMany([]names.Instance{alice, bob}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		n    names.Instance
		host string
	}{{alice, "www.alice.example"}, {alice, "alice.example"}, {bob, "bob.example"}} {
		if _, err := tb.Bind(b.n, b.host, false); err != nil {
			t.Fatal(err)
		}
	}
	var unbound []string
	tb.OnUnbind(func(d string) { unbound = append(unbound, d) })
	ctx := context.Background()
	if i, err := s.Get(ctx, alice); err != nil || !slices.Equal(i.Domains, []string{"alice.example", "www.alice.example"}) {
		t.Errorf("Get(alice).Domains = %v, %v", i.Domains, err)
	}
	list, _ := s.List(ListOptions{})
	if len(list) != 2 || !slices.Equal(list[1].Domains, []string{"bob.example"}) {
		t.Errorf("List: %+v", list)
	}
	if err := s.Delete(ctx, alice, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := tb.DomainOwner("alice.example"); ok {
		t.Error("alice.example still reaches a deleted instance")
	}
	if !slices.Equal(unbound, []string{"alice.example", "www.alice.example"}) {
		t.Errorf("unbound: %v", unbound)
	}
	if got := tb.List(nil); len(got) != 1 || got[0].Domain != "bob.example" {
		t.Errorf("left: %+v", got)
	}
}
