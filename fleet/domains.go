package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Binding is a custom domain that reaches an instance.
type Binding struct {
	Domain    string
	Instance  names.Instance
	CreatedAt time.Time // zero for a binding written before it was kept
}

// PutDomain binds a custom domain to an instance fleet-wide, so that any
// host routes it. Binding it again to the same instance is no change;
// ErrConflict if it is bound to another, unless move: then it is bound to
// n at once, and the instance it was bound to is returned.
func (a *Agent) PutDomain(ctx context.Context, domain string, n names.Instance, move bool) (Binding, names.Instance, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Binding{}, names.Instance{}, fmt.Errorf("fleet: bind domain: %w", err)
	}
	op := fmt.Sprintf("bind %s to %s", d, n)
	if n.IsZero() {
		return Binding{}, names.Instance{}, fmt.Errorf("%w: fleet: %s: no instance", errdefs.ErrInvalid, op)
	}
	if cur, ok := a.domain(d); ok && cur.Instance == n {
		return cur, names.Instance{}, nil
	}
	b := Binding{Domain: d, Instance: n, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	key, val := a.lay.domain(d), encode(domainValue{Instance: n.String(), CreatedAt: b.CreatedAt})
	if move {
		return a.moveDomain(ctx, op, b, key, val)
	}
	var resp *clientv3.TxnResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, val)).Else(clientv3.OpGet(key)).Commit()
		return err
	}); err != nil {
		return Binding{}, names.Instance{}, err
	}
	if resp.Succeeded {
		a.changed(a.cache.apply(kv{key: key, value: []byte(val), rev: resp.Header.Revision}))
		return b, names.Instance{}, nil
	}
	for _, e := range resp.Responses[0].GetResponseRange().GetKvs() {
		a.changed(a.cache.apply(kv{key: key, value: e.Value, rev: e.ModRevision}))
	}
	cur, ok := a.domain(d)
	if ok && cur.Instance == n {
		return cur, names.Instance{}, nil
	}
	return Binding{}, names.Instance{}, fmt.Errorf("%w: fleet: %s: bound to %s", errdefs.ErrConflict, op, cur.Instance)
}

// moveDomain binds a domain to b.Instance whatever it was bound to, in one
// write, and returns the instance it was bound to.
func (a *Agent) moveDomain(ctx context.Context, op string, b Binding, key, val string) (Binding, names.Instance, error) {
	var resp *clientv3.PutResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Put(ctx, key, val, clientv3.WithPrevKV())
		return err
	}); err != nil {
		return Binding{}, names.Instance{}, err
	}
	a.changed(a.cache.apply(kv{key: key, value: []byte(val), rev: resp.Header.Revision}))
	var prev names.Instance
	if resp.PrevKv != nil {
		var v domainValue
		if json.Unmarshal(resp.PrevKv.Value, &v) == nil {
			prev, _ = names.Parse(v.Instance)
		}
	}
	return b, prev, nil
}

// DeleteDomain unbinds a custom domain; ErrNotFound if it is not bound.
func (a *Agent) DeleteDomain(ctx context.Context, domain string) error {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return fmt.Errorf("fleet: unbind domain: %w", err)
	}
	return a.deleteKey(ctx, "unbind "+d, a.lay.domain(d), ": not bound")
}

// Domain returns the instance a custom domain reaches, from the cache.
func (a *Agent) Domain(domain string) (names.Instance, bool) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return names.Instance{}, false
	}
	b, ok := a.domain(d)
	return b.Instance, ok
}

// domain returns the binding of a normalized domain, from the cache.
func (a *Agent) domain(d string) (Binding, bool) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	b, ok := a.cache.domains[d]
	return b, ok
}

// DeleteDomainsOf unbinds every custom domain of an instance (it is being
// deleted), and returns how many there were.
func (a *Agent) DeleteDomainsOf(ctx context.Context, n names.Instance) (int, error) {
	var mine []string
	for _, b := range a.Domains() {
		if b.Instance == n {
			mine = append(mine, b.Domain)
		}
	}
	for _, d := range mine {
		if err := a.DeleteDomain(ctx, d); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return 0, err
		}
	}
	return len(mine), nil
}

// Domains returns every binding, ordered by domain, from the cache.
func (a *Agent) Domains() []Binding {
	a.cache.mu.RLock()
	out := make([]Binding, 0, len(a.cache.domains))
	for _, b := range a.cache.domains {
		out = append(out, b)
	}
	a.cache.mu.RUnlock()
	slices.SortFunc(out, func(x, y Binding) int { return strings.Compare(x.Domain, y.Domain) })
	return out
}
