package supervisor

import (
	"fmt"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// The supervisor's side of weighted routing (package routing): it keeps
// weights in the store and tells the router, which picks.

// Pick chooses an instance of service for a weighted request
// ({service}.{domain}): among the instances with weight > 0 that have not
// failed (an asleep one may be chosen, and is then woken). With none, it is
// an ErrNotFound error, and nothing is woken.
func (s *Supervisor) Pick(service string) (names.Instance, error) {
	if s.config().Services[service] == nil {
		return names.Instance{}, fmt.Errorf("%w: service %q", errdefs.ErrNotFound, service)
	}
	return s.router.Pick(service, s.pickable)
}

// pickable reports whether an instance may take weighted traffic: known
// and not failed. (It is called under the router's lock: it takes only the
// supervisor's read lock, and nothing holds that while calling the router.)
func (s *Supervisor) pickable(n names.Instance) bool {
	in := s.lookup(n)
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state != StateFailed
}

// SetWeight sets an instance's routing weight, 0–100.
func (s *Supervisor) SetWeight(n names.Instance, w int) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("%w: weight %d: want 0–100", errdefs.ErrInvalid, w)
	}
	in, err := s.known(n)
	if err != nil {
		return err
	}
	if err := s.update(in, func(r *store.Instance) { r.Weight = w }); err != nil {
		return err
	}
	s.router.Set(n, w)
	return nil
}

// Route moves all weighted traffic of a service from one instance to
// another in one store transaction: from gets weight 0, to gets 100. No
// pick sees one change without the other. A failed target is refused: it
// would take no traffic, and the service would have none at all.
func (s *Supervisor) Route(from, to names.Instance) error {
	switch {
	case from.Service != to.Service:
		return fmt.Errorf("%w: route from %s to %s: not the same service", errdefs.ErrInvalid, from, to)
	case from == to:
		return fmt.Errorf("%w: route %s to itself", errdefs.ErrInvalid, from)
	}
	ia, err := s.known(from)
	if err != nil {
		return err
	}
	ib, err := s.known(to)
	if err != nil {
		return err
	}
	ib.mu.Lock()
	failed, reason := ib.state == StateFailed, ib.reason
	ib.mu.Unlock()
	if failed {
		return fmt.Errorf("%w: %s has failed (%s); restart or deploy it first", errdefs.ErrConflict, to, reason)
	}
	// Lock both records in a fixed order so concurrent routes cannot
	// deadlock, then commit both weights at once.
	first, second := ia, ib
	if to.Less(from) {
		first, second = ib, ia
	}
	first.recMu.Lock()
	defer first.recMu.Unlock()
	second.recMu.Lock()
	defer second.recMu.Unlock()
	var recs []*store.Instance
	err = s.store.UpdateInstances([]names.Instance{from, to}, func(rs []*store.Instance) error {
		rs[0].Weight, rs[1].Weight = 0, 100
		recs = rs
		return nil
	})
	if err != nil {
		return err
	}
	ia.mu.Lock()
	ia.rec = *recs[0]
	ia.mu.Unlock()
	ib.mu.Lock()
	ib.rec = *recs[1]
	ib.mu.Unlock()
	s.router.SetPair(from, 0, to, 100)
	return nil
}
