// Package domains keeps the custom domains bound to instances (`ten domain
// add notes:alice notes.alice-corp.com`): a customer's own name that
// reaches its instance, with a certificate obtained on demand.
//
// A Table validates a name once (names.Domain: IDNA, punycode stored),
// refuses names under the root domain (they route by the subdomain rule),
// bounds the domains of one instance (max_domains_per_instance), persists
// every change in the store before it answers, and keeps the bindings in
// memory: the proxy and the certificate host policy look up a Host on every
// request and handshake, with one map read and no store read. A domain is
// bound to at most one instance; deleting the instance unbinds its domains
// (the store does it in the instance's transaction, Forget in memory).
//
// The proxy and the host policy need only DomainOwner, so a table shared by
// a fleet of hosts can take this one's place behind it.
package domains

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// Store keeps the bindings across restarts; *store.Store is one.
type Store interface {
	Domains() ([]store.Domain, error)
	BindDomain(d store.Domain, move bool) (store.Domain, string, error)
	UnbindDomain(domain string) (store.Domain, error)
}

var _ Store = (*store.Store)(nil)

// Binding is a custom domain bound to an instance.
type Binding struct {
	Domain    string
	Instance  names.Instance
	CreatedAt time.Time
	// MovedFrom is the instance a Bind with move took the domain from.
	MovedFrom names.Instance
}

// Options configure a Table.
type Options struct {
	Store Store
	// Root is settings.domain: no domain at or under it may be bound.
	Root string
	// MaxPerInstance bounds the domains of one instance; 0: no limit.
	MaxPerInstance int
	Log            *slog.Logger
}

// Table is the bindings. It is safe for concurrent use.
type Table struct {
	store Store
	root  string
	max   int
	log   *slog.Logger

	// wmu orders the changes (Bind, Unbind, Forget, Reload): each writes
	// the store, then memory, then tells the unbound hooks, before the
	// next.
	wmu     sync.Mutex
	unbound []func(domain string)
	// following: the store is shared with other writers (a fleet's
	// etcd), and memory follows it (Reload) rather than this table's
	// own deletions (Forget).
	following bool

	mu    sync.RWMutex
	owner map[string]entry
	// of holds each instance's domains, sorted; a slice is never changed
	// once stored (a change stores a new one), so Of returns it as is.
	of map[names.Instance][]string
}

type entry struct {
	inst    names.Instance
	created time.Time
}

// Open loads the bindings from the store.
func Open(o Options) (*Table, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	t := &Table{store: o.Store, root: o.Root, max: o.MaxPerInstance, log: o.Log.With("component", "domains"),
		owner: map[string]entry{}, of: map[names.Instance][]string{}}
	recs, err := o.Store.Domains()
	if err != nil {
		return nil, fmt.Errorf("domains: load: %w", err)
	}
	for _, rec := range recs {
		n, err := rec.Name()
		if err != nil {
			t.log.Warn("a stored domain names no instance; it is not served", "host", rec.Domain, "err", err)
			continue
		}
		t.set(rec.Domain, entry{inst: n, created: rec.CreatedAt})
	}
	return t, nil
}

// OnUnbind adds f to what is told, in order, of every domain that stops
// being bound (Unbind, Forget; not a move). Call it before serving.
func (t *Table) OnUnbind(f func(domain string)) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.unbound = append(t.unbound, f)
}

// DomainOwner returns the instance a custom domain is bound to. host is a
// name as the proxy has it: lowercase ASCII, without port or trailing dot.
func (t *Table) DomainOwner(host string) (names.Instance, bool) {
	t.mu.RLock()
	e, ok := t.owner[host]
	t.mu.RUnlock()
	return e.inst, ok
}

// Of returns the domains bound to n, sorted; the caller must not change
// the slice.
func (t *Table) Of(n names.Instance) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.of[n]
}

// List returns the bindings of the instances only accepts (all when only
// is nil), ordered by domain.
func (t *Table) List(only func(names.Instance) bool) []Binding {
	t.mu.RLock()
	out := make([]Binding, 0, len(t.owner))
	for d, e := range t.owner {
		if only == nil || only(e.inst) {
			out = append(out, Binding{Domain: d, Instance: e.inst, CreatedAt: e.created})
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Binding) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// Bind binds host to n. Binding it again to n changes nothing. A host bound
// to another instance is an ErrConflict, unless move: then it moves to n
// at once (no moment unbound, the certificate kept). Names that
// names.Domain refuses, and the root domain and names under it, are
// ErrInvalid; an unknown instance ErrNotFound; one more domain than
// max_domains_per_instance ErrConflict.
func (t *Table) Bind(n names.Instance, host string, move bool) (Binding, error) {
	d, err := names.Domain(host)
	if err != nil {
		return Binding{}, err
	}
	if d == t.root || strings.HasSuffix(d, "."+t.root) {
		return Binding{}, fmt.Errorf("%w: domain %s is under settings.domain %s, whose names route by {id}.{service}.%s already",
			errdefs.ErrInvalid, d, t.root, t.root)
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.RLock()
	cur, bound := t.owner[d]
	count := len(t.of[n])
	t.mu.RUnlock()
	switch {
	case bound && cur.inst == n:
		return Binding{Domain: d, Instance: n, CreatedAt: cur.created}, nil
	case bound && !move:
		return Binding{}, fmt.Errorf("%w: domain %s is bound to %s already; remove it there first, or move it", errdefs.ErrConflict, d, cur.inst)
	case t.max > 0 && count >= t.max:
		return Binding{}, fmt.Errorf("%w: instance %s has %d domains, the most max_domains_per_instance allows", errdefs.ErrConflict, n, count)
	}
	rec, prev, err := t.store.BindDomain(store.Domain{Domain: d, Instance: n.String(), CreatedAt: time.Now().UTC()}, move)
	if err != nil {
		return Binding{}, fmt.Errorf("bind domain %s to %s: %w", d, n, err)
	}
	b := Binding{Domain: d, Instance: n, CreatedAt: rec.CreatedAt}
	if prev != "" {
		b.MovedFrom, _ = names.Parse(prev)
	}
	t.mu.Lock()
	t.del(d)
	t.set(d, entry{inst: n, created: rec.CreatedAt})
	t.mu.Unlock()
	t.log.Info("bound a custom domain", "host", d, "instance", n.String(), "moved_from", prev)
	return b, nil
}

// Unbind unbinds host and returns what it was bound to; ErrNotFound when
// it is not bound.
func (t *Table) Unbind(host string) (Binding, error) {
	d, err := names.Domain(host)
	if err != nil {
		return Binding{}, err
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	rec, err := t.store.UnbindDomain(d)
	if err != nil {
		return Binding{}, fmt.Errorf("unbind domain %s: %w", d, err)
	}
	t.mu.Lock()
	t.del(d)
	t.mu.Unlock()
	t.log.Info("unbound a custom domain", "host", d, "instance", rec.Instance)
	t.tell(d)
	n, _ := rec.Name()
	return Binding{Domain: d, Instance: n, CreatedAt: rec.CreatedAt}, nil
}

// Forget unbinds, in memory, the domains of an instance the store has
// deleted (store.DeleteInstance deletes its bindings with it). A table that
// follows a shared store leaves it to Reload: there an instance this host
// forgets may live on elsewhere, with its domains.
func (t *Table) Forget(n names.Instance) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.following {
		return
	}
	t.mu.Lock()
	gone := t.of[n]
	for _, d := range gone {
		t.del(d)
	}
	t.mu.Unlock()
	for _, d := range gone {
		t.log.Info("unbound a custom domain of a deleted instance", "host", d, "instance", n.String())
		t.tell(d)
	}
}

// Follow makes s the table's store from now on: a store other writers
// share (a fleet's etcd), whose changes reach the table through Reload.
// The bindings of the old store that s lacks are written to s first (a
// host that joins a fleet brings its domains along; one bound elsewhere in
// the fleet already stays there, with a warning).
func (t *Table) Follow(s Store) error {
	t.wmu.Lock()
	for _, b := range t.List(nil) {
		rec := store.Domain{Domain: b.Domain, Instance: b.Instance.String(), CreatedAt: b.CreatedAt}
		if _, _, err := s.BindDomain(rec, false); err != nil {
			t.log.Warn("a custom domain of this host's store is not in the shared table", "host", b.Domain, "instance", b.Instance.String(), "err", err)
		}
	}
	t.store, t.following = s, true
	t.wmu.Unlock()
	return t.Reload()
}

// Reload reads the bindings from the store again and makes memory equal
// to them, telling the unbound hooks of the domains that went.
func (t *Table) Reload() error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	recs, err := t.store.Domains()
	if err != nil {
		return fmt.Errorf("domains: reload: %w", err)
	}
	owner := make(map[string]entry, len(recs))
	for _, rec := range recs {
		if n, err := rec.Name(); err == nil {
			owner[rec.Domain] = entry{inst: n, created: rec.CreatedAt}
		}
	}
	var gone []string
	t.mu.Lock()
	for d := range t.owner {
		if _, ok := owner[d]; !ok {
			gone = append(gone, d)
		}
	}
	for d, e := range owner {
		if cur, ok := t.owner[d]; !ok || cur.inst != e.inst {
			t.del(d)
			t.set(d, e)
		}
	}
	for _, d := range gone {
		t.del(d)
	}
	t.mu.Unlock()
	for _, d := range gone {
		t.tell(d)
	}
	return nil
}

func (t *Table) tell(d string) {
	for _, f := range t.unbound {
		f(d)
	}
}

// set binds d in memory; the caller holds mu, and d is not bound.
func (t *Table) set(d string, e entry) {
	t.owner[d] = e
	old := t.of[e.inst]
	i, _ := slices.BinarySearch(old, d)
	t.of[e.inst] = slices.Insert(slices.Clone(old), i, d)
}

// del unbinds d in memory, if bound; the caller holds mu.
func (t *Table) del(d string) {
	e, ok := t.owner[d]
	if !ok {
		return
	}
	delete(t.owner, d)
	list := slices.DeleteFunc(slices.Clone(t.of[e.inst]), func(s string) bool { return s == d })
	if len(list) == 0 {
		delete(t.of, e.inst)
	} else {
		t.of[e.inst] = list
	}
}
