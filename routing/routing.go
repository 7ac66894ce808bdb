// Package routing is weighted routing over a service's instances: which
// instance of a service a request for {service}.{domain} goes to.
//
// Only instances with a weight above 0 are in a service's pool, so a pick
// costs O(pool), not O(instances): a new instance has weight 0 (it is one
// customer's), and `ten weight`, `ten deploy` or `ten route` put it in. The
// pick is nginx's smooth weighted round robin: exact proportions over every
// window of sum(weights) picks, and no bursts.
//
// The Router holds weights in memory; its owner (the supervisor) keeps them
// in the store and tells the Router.
package routing

import (
	"fmt"
	"sort"
	"sync"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Router holds every service's pool.
type Router struct {
	mu    sync.RWMutex
	pools map[string]*pool
}

// New returns an empty Router.
func New() *Router { return &Router{pools: map[string]*pool{}} }

// pool is one service's instances with weight > 0, in name order, and the
// smooth round robin's running state.
type pool struct {
	mu      sync.Mutex
	members []member
}

type member struct {
	name    names.Instance
	weight  int
	current int
}

// Set sets n's weight (0–100); 0 takes it out of its service's pool.
func (r *Router) Set(n names.Instance, weight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setLocked(n, weight)
}

// SetPair sets two weights at once: no Pick sees one change without the
// other (a route from one version to another).
func (r *Router) SetPair(a names.Instance, wa int, b names.Instance, wb int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setLocked(a, wa)
	r.setLocked(b, wb)
}

func (r *Router) setLocked(n names.Instance, weight int) {
	p := r.pools[n.Service]
	if p == nil {
		if weight <= 0 {
			return
		}
		p = &pool{}
		r.pools[n.Service] = p
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i := sort.Search(len(p.members), func(i int) bool { return !p.members[i].name.Less(n) })
	found := i < len(p.members) && p.members[i].name == n
	switch {
	case weight <= 0 && found:
		p.members = append(p.members[:i], p.members[i+1:]...)
	case weight <= 0:
	case found:
		p.members[i].weight = weight
	default:
		p.members = append(p.members, member{})
		copy(p.members[i+1:], p.members[i:])
		p.members[i] = member{name: n, weight: weight}
	}
	for j := range p.members {
		p.members[j].current = 0 // a new set of weights starts a new round
	}
	if len(p.members) == 0 {
		delete(r.pools, n.Service)
	}
}

// Weight returns n's weight (0 when it is in no pool).
func (r *Router) Weight(n names.Instance) int {
	r.mu.RLock()
	p := r.pools[n.Service]
	r.mu.RUnlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.name == n {
			return m.weight
		}
	}
	return 0
}

// Pick chooses the instance of service for a weighted request among the
// pool's members that ok accepts (the supervisor leaves out failed ones; an
// asleep one may be chosen, and is then woken). With none, it is an
// ErrNotFound error: nothing is woken.
func (r *Router) Pick(service string, ok func(names.Instance) bool) (names.Instance, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p := r.pools[service]
	if p == nil {
		return names.Instance{}, noPool(service)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	total, best := 0, -1
	for i := range p.members {
		m := &p.members[i]
		if ok != nil && !ok(m.name) {
			continue
		}
		m.current += m.weight
		total += m.weight
		if best < 0 || m.current > p.members[best].current {
			best = i
		}
	}
	if best < 0 {
		return names.Instance{}, noPool(service)
	}
	p.members[best].current -= total
	return p.members[best].name, nil
}

func noPool(service string) error {
	return fmt.Errorf("%w: service %q has no instance with weight > 0", errdefs.ErrNotFound, service)
}
