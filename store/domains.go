package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// bucketDomains maps a custom domain (names.Domain's form) to its binding;
// bucketDomainIndex holds "service:id/domain" for each, with no value, so
// that deleting an instance finds its own domains without reading them
// all (BenchmarkDeleteInstanceAmongDomains, 10 000 bindings: 10.6 ms per
// DeleteInstance that reads them all, 0.34 ms with the index).
var (
	bucketDomains     = []byte("domains")
	bucketDomainIndex = []byte("domains_by_instance")
)

// indexKey is the key of d in bucketDomainIndex. An instance's name holds
// no "/", so "notes:al/" never prefixes "notes:alice/".
func indexKey(instance, domain string) []byte { return []byte(instance + "/" + domain) }

// Domain is a custom domain bound to an instance (`ten domain add`).
type Domain struct {
	Domain    string    `json:"domain"`
	Instance  string    `json:"instance"` // "service:id"
	CreatedAt time.Time `json:"created_at"`
}

// Name returns the instance the domain reaches, or an ErrInvalid error for
// a record that names none.
func (d Domain) Name() (names.Instance, error) { return names.Parse(d.Instance) }

// Domains returns every binding, ordered by domain.
func (s *Store) Domains() ([]Domain, error) { return all[Domain](s.db, bucketDomains, "domain") }

// BindDomain stores d, in one transaction with the checks that keep the
// bindings whole: its instance must be stored (ErrNotFound), and a domain
// bound to another instance stays so (ErrConflict naming it) unless move.
// Binding a domain again to its instance changes nothing. It returns the
// binding now stored and the instance the domain left ("" when none).
func (s *Store) BindDomain(d Domain, move bool) (Domain, string, error) {
	key := []byte(d.Domain)
	var prev string
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInstances).Get([]byte(d.Instance)) == nil {
			return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, d.Instance)
		}
		var cur Domain
		if err := get(tx, bucketDomains, key, &cur, "domain "+d.Domain); err == nil {
			if cur.Instance == d.Instance {
				d = cur
				return nil
			}
			if !move {
				return fmt.Errorf("%w: domain %s is bound to %s", errdefs.ErrConflict, d.Domain, cur.Instance)
			}
			prev = cur.Instance
			if err := tx.Bucket(bucketDomainIndex).Delete(indexKey(cur.Instance, cur.Domain)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketDomainIndex).Put(indexKey(d.Instance, d.Domain), nil); err != nil {
			return err
		}
		return put(tx, bucketDomains, key, d)
	})
	if err != nil {
		return Domain{}, "", err
	}
	return d, prev, nil
}

// UnbindDomain deletes a binding and returns it; ErrNotFound if the domain
// is not bound.
func (s *Store) UnbindDomain(domain string) (Domain, error) {
	var d Domain
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := get(tx, bucketDomains, []byte(domain), &d, "domain "+domain); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDomainIndex).Delete(indexKey(d.Instance, d.Domain)); err != nil {
			return err
		}
		return tx.Bucket(bucketDomains).Delete([]byte(domain))
	})
	return d, err
}

// deleteDomainsOf deletes the bindings of instance n, within tx, found by
// the index. A binding is deleted only when it still names n.
func deleteDomainsOf(tx *bolt.Tx, n names.Instance) error {
	idx, doms := tx.Bucket(bucketDomainIndex), tx.Bucket(bucketDomains)
	prefix := indexKey(n.String(), "")
	var keys [][]byte
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := idx.Delete(k); err != nil {
			return err
		}
		domain := k[len(prefix):]
		var d Domain
		if v := doms.Get(domain); v == nil || json.Unmarshal(v, &d) != nil || d.Instance != n.String() {
			continue
		}
		if err := doms.Delete(domain); err != nil {
			return err
		}
	}
	return nil
}
