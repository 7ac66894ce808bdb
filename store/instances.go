package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Instance is what survives a daemon restart about one instance. Runtime
// state (running, healthy, ...) is not here: it comes from systemd.
type Instance struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	Port    int    `json:"port"`
	Weight  int    `json:"weight"`
	// Failed is set when the instance exceeded its restart limit; it stays
	// failed (and is not woken) until a user restarts it.
	Failed       bool      `json:"failed,omitempty"`
	FailedReason string    `json:"failed_reason,omitempty"`
	FailedAt     time.Time `json:"failed_at,omitzero"`
	// Restarts counts restarts over the instance's life: by systemd after
	// crashes and by the daemon after failed health checks.
	Restarts  int       `json:"restarts"`
	CreatedAt time.Time `json:"created_at"`
	// ByRequest is set when a request created the instance
	// (spawn_on_request); Served once it answered a request with a 2xx.
	// An instance created by a request that never served one is forgotten
	// when it goes to sleep or fails.
	ByRequest bool `json:"by_request,omitempty"`
	Served    bool `json:"served,omitempty"`
	// KeepAwakeUntil keeps the instance from sleeping until then (ten
	// keep-awake).
	KeepAwakeUntil time.Time `json:"keep_awake_until,omitzero"`
}

// Name returns the instance's name.
func (i Instance) Name() names.Instance { return names.Instance{Service: i.Service, ID: i.ID} }

// Instances returns every known instance, ordered by name.
func (s *Store) Instances() ([]Instance, error) {
	return all[Instance](s.db, bucketInstances, "instance")
}

// Instance returns one instance, or an ErrNotFound error.
func (s *Store) Instance(n names.Instance) (Instance, error) {
	var in Instance
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx, bucketInstances, []byte(n.String()), &in, "instance "+n.String())
	})
	return in, err
}

// CreateInstance stores a new instance; ErrConflict if it exists.
func (s *Store) CreateInstance(in Instance) error {
	key := []byte(in.Name().String())
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInstances).Get(key) != nil {
			return fmt.Errorf("%w: instance %s exists", errdefs.ErrConflict, in.Name())
		}
		return put(tx, bucketInstances, key, in)
	})
}

// CreateInstances stores new instances in one transaction: all of them, or
// none (ErrConflict naming the first that exists).
func (s *Store) CreateInstances(ins []Instance) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInstances)
		for _, in := range ins {
			key := []byte(in.Name().String())
			if b.Get(key) != nil {
				return fmt.Errorf("%w: instance %s exists", errdefs.ErrConflict, in.Name())
			}
			if err := put(tx, bucketInstances, key, in); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateInstance applies f to a stored instance in one transaction.
func (s *Store) UpdateInstance(n names.Instance, f func(*Instance) error) (Instance, error) {
	var in Instance
	key := []byte(n.String())
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := get(tx, bucketInstances, key, &in, "instance "+n.String()); err != nil {
			return err
		}
		if err := f(&in); err != nil {
			return err
		}
		return put(tx, bucketInstances, key, in)
	})
	return in, err
}

// UpdateInstances applies f to several stored instances in one transaction:
// all change or none do.
func (s *Store) UpdateInstances(ns []names.Instance, f func([]*Instance) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		ins := make([]*Instance, len(ns))
		for i, n := range ns {
			ins[i] = new(Instance)
			if err := get(tx, bucketInstances, []byte(n.String()), ins[i], "instance "+n.String()); err != nil {
				return err
			}
		}
		if err := f(ins); err != nil {
			return err
		}
		for i, n := range ns {
			if err := put(tx, bucketInstances, []byte(n.String()), ins[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteInstance forgets an instance and the custom domains bound to it,
// in one transaction; ErrNotFound if unknown.
func (s *Store) DeleteInstance(n names.Instance) error {
	key := []byte(n.String())
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInstances)
		if b.Get(key) == nil {
			return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
		}
		if err := deleteDomainsOf(tx, n); err != nil {
			return err
		}
		return b.Delete(key)
	})
}
