package fleetops

import (
	"context"
	"fmt"

	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/store"
)

// DomainStore returns the custom domains' store in the fleet: the bindings
// live in etcd, so that every host routes every custom domain (to its
// instance's owner, one hop away) and gets its certificate on demand. The
// daemon's domains.Table follows it (Follow), reloading from the agent's
// cache whenever the watch brings a change (fleet.Options.OnDomains).
// While etcd is unreachable, binding or unbinding fails with one line and
// every host keeps routing the domains it knows.
func (o *Ops) DomainStore() domains.Store { return domainStore{o.agent} }

type domainStore struct{ agent Agent }

var _ domains.Store = domainStore{}

func (s domainStore) Domains() ([]store.Domain, error) {
	bs := s.agent.Domains()
	out := make([]store.Domain, len(bs))
	for i, b := range bs {
		out[i] = domainRecord(b)
	}
	return out, nil
}

func (s domainStore) BindDomain(d store.Domain, move bool) (store.Domain, string, error) {
	n, err := d.Name()
	if err != nil {
		return store.Domain{}, "", err
	}
	if _, ok := s.agent.Placement(n); !ok {
		return store.Domain{}, "", fmt.Errorf("%w: instance %s is not in the fleet", errdefs.ErrNotFound, n)
	}
	b, prev, err := s.agent.PutDomain(context.Background(), d.Domain, n, move) // bounded by write_timeout
	if err != nil {
		return store.Domain{}, "", err
	}
	var from string
	if !prev.IsZero() && prev != n {
		from = prev.String()
	}
	return domainRecord(b), from, nil
}

func (s domainStore) UnbindDomain(domain string) (store.Domain, error) {
	var cur fleet.Binding
	for _, b := range s.agent.Domains() {
		if b.Domain == domain {
			cur = b
		}
	}
	if err := s.agent.DeleteDomain(context.Background(), domain); err != nil {
		return store.Domain{}, err
	}
	if cur.Domain == "" { // the cache had not seen it yet
		cur.Domain = domain
	}
	return domainRecord(cur), nil
}

func domainRecord(b fleet.Binding) store.Domain {
	return store.Domain{Domain: b.Domain, Instance: b.Instance.String(), CreatedAt: b.CreatedAt}
}
