package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Binding is a custom domain that reaches an instance.
type Binding struct {
	Domain   string
	Instance names.Instance
}

// PutDomain binds a custom domain to an instance fleet-wide, so that any
// host routes it. Binding it again to the same instance is no change;
// ErrConflict if it is bound to another.
func (a *Agent) PutDomain(ctx context.Context, domain string, n names.Instance) error {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return fmt.Errorf("fleet: bind domain: %w", err)
	}
	op := fmt.Sprintf("bind %s to %s", d, n)
	if n.IsZero() {
		return fmt.Errorf("%w: fleet: %s: no instance", errdefs.ErrInvalid, op)
	}
	key, val := a.lay.domain(d), encode(domainValue{Instance: n.String()})
	var resp *clientv3.TxnResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, val)).Else(clientv3.OpGet(key)).Commit()
		return err
	}); err != nil {
		return err
	}
	if resp.Succeeded {
		a.changed(a.cache.apply(kv{key: key, value: []byte(val), rev: resp.Header.Revision}))
		return nil
	}
	for _, e := range resp.Responses[0].GetResponseRange().GetKvs() {
		a.changed(a.cache.apply(kv{key: key, value: e.Value, rev: e.ModRevision}))
		if string(e.Value) == val {
			return nil
		}
	}
	cur, _ := a.Domain(d)
	return fmt.Errorf("%w: fleet: %s: bound to %s", errdefs.ErrConflict, op, cur)
}

// DeleteDomain unbinds a custom domain; ErrNotFound if it is not bound.
func (a *Agent) DeleteDomain(ctx context.Context, domain string) error {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return fmt.Errorf("fleet: unbind domain: %w", err)
	}
	op := "unbind " + d
	key := a.lay.domain(d)
	var resp *clientv3.DeleteResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Delete(ctx, key)
		return err
	}); err != nil {
		return err
	}
	a.deleted(key, resp.Header.Revision, resp.Deleted)
	if resp.Deleted == 0 {
		return fmt.Errorf("%w: fleet: %s: not bound", errdefs.ErrNotFound, op)
	}
	return nil
}

// Domain returns the instance a custom domain reaches, from the cache.
// The proxy asks it for a Host outside the root domain.
func (a *Agent) Domain(domain string) (names.Instance, bool) {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	n, ok := a.cache.domains[d]
	return n, ok
}

// Domains returns every binding, ordered by domain, from the cache.
func (a *Agent) Domains() []Binding {
	a.cache.mu.RLock()
	out := make([]Binding, 0, len(a.cache.domains))
	for d, n := range a.cache.domains {
		out = append(out, Binding{Domain: d, Instance: n})
	}
	a.cache.mu.RUnlock()
	slices.SortFunc(out, func(x, y Binding) int { return strings.Compare(x.Domain, y.Domain) })
	return out
}
