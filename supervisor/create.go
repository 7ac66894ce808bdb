package supervisor

import (
	"fmt"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// DefaultWeight is the routing weight of a new instance: 0, so that a new
// instance (one customer's) never receives {service}.{domain} traffic until
// `ten weight`, `ten deploy` or `ten route` puts it in the service's pool.
const DefaultWeight = 0

// Create makes an instance known without starting it, with the given
// routing weight; an instance that is known already is left as it is. A
// deploy creates a new version with weight 0, so that weighted traffic
// reaches it only once it is healthy.
func (s *Supervisor) Create(n names.Instance, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("%w: weight %d: want 0–100", errdefs.ErrInvalid, weight)
	}
	_, err := s.ensureRecord(n, newRecord{weight: weight})
	return err
}

// CreateMany registers instances asleep, without starting anything (a
// sign-up flow registers its customers this way; each wakes on its first
// request), in one store transaction: all of them or none. Instances that
// are known already are left as they are and not counted; it returns how
// many it created.
func (s *Supervisor) CreateMany(ns []names.Instance) (int, error) {
	seen := make(map[names.Instance]bool, len(ns))
	var recs []store.Instance
	now := time.Now().UTC()
	for _, n := range ns {
		if seen[n] {
			continue
		}
		seen[n] = true
		if s.config().Services[n.Service] == nil {
			return 0, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
		}
		recs = append(recs, store.Instance{Service: n.Service, ID: n.ID, Weight: DefaultWeight, CreatedAt: now})
	}
	// One lock for the whole batch: no other creation slips in between
	// the check and the transaction.
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := recs[:0]
	for _, rec := range recs {
		if s.insts[rec.Name()] == nil {
			fresh = append(fresh, rec)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if err := s.store.CreateInstances(fresh); err != nil {
		return 0, fmt.Errorf("remember %d instances: %w", len(fresh), err)
	}
	for _, rec := range fresh {
		n := rec.Name()
		s.insts[n] = s.newInst(n, s.config().Services[n.Service], rec)
		s.counts[n.Service]++
	}
	return len(fresh), nil
}

// CreateForRequest makes an instance known because a request asked for it
// (spawn_on_request): only for such a service, and only while the service
// has fewer than max_instances instances. The instance is marked as
// created by a request: if it never answers a 2xx, it is forgotten when it
// goes to sleep or fails (forgetUnserved). An instance known already is
// left as it is. In a fleet it is placed on this host first.
func (s *Supervisor) CreateForRequest(n names.Instance) error {
	svc := s.config().Services[n.Service]
	if svc == nil || !svc.SpawnOnRequest {
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	if s.lookup(n) != nil {
		return nil
	}
	undo, err := s.placeForRequest(n, svc.MaxInstances) // in a fleet: placed here first
	if err != nil {
		return err
	}
	if _, err = s.ensureRecord(n, newRecord{weight: DefaultWeight, byRequest: true, limit: svc.MaxInstances}); err != nil {
		undo()
	}
	return err
}

// ensure returns the instance, creating (and storing) it when its service
// is configured and it is not known yet.
func (s *Supervisor) ensure(n names.Instance) (*inst, error) {
	return s.ensureRecord(n, newRecord{weight: DefaultWeight})
}

// newRecord is how a new instance's record starts.
type newRecord struct {
	weight    int
	byRequest bool
	// limit is the service's max_instances for this creation (0: none).
	// Admins are not held to it, so that a flood of requests cannot lock
	// the operator out; requests are.
	limit int
}

func (s *Supervisor) ensureRecord(n names.Instance, nr newRecord) (*inst, error) {
	if in := s.lookup(n); in != nil {
		return in, nil
	}
	svc := s.config().Services[n.Service]
	if svc == nil {
		return nil, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	in, created, err := s.addRecord(n, svc, nr)
	if created {
		// After the supervisor's lock: the router calls back into
		// lookup under its own (Pick).
		s.router.Set(n, nr.weight)
	}
	return in, err
}

func (s *Supervisor) addRecord(n names.Instance, svc *config.Service, nr newRecord) (*inst, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.insts[n]; in != nil {
		return in, false, nil
	}
	if nr.limit > 0 && s.counts[n.Service] >= nr.limit {
		return nil, false, fmt.Errorf("%w: service %s has max_instances (%d) instances", errdefs.ErrRateLimited, n.Service, nr.limit)
	}
	rec := store.Instance{Service: n.Service, ID: n.ID, Weight: nr.weight,
		ByRequest: nr.byRequest, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateInstance(rec); err != nil {
		return nil, false, fmt.Errorf("remember %s: %w", n, err)
	}
	in := s.newInst(n, svc, rec)
	s.insts[n] = in
	s.counts[n.Service]++
	return in, true, nil
}
