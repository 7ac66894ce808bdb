package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tenement/tenement/errdefs"
)

func TestDomains(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for _, id := range []string{"alice", "bob"} {
		if err := s.CreateInstance(Instance{Service: "notes", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	bind := func(domain, inst string, move bool) (Domain, string, error) {
		return s.BindDomain(Domain{Domain: domain, Instance: inst, CreatedAt: at}, move)
	}
	tests := []struct {
		name           string
		domain, inst   string
		move           bool
		wantPrev, want string // want: "" for success, else a substring of the error
		kind           error
	}{
		{name: "new", domain: "alice.example", inst: "notes:alice"},
		{name: "second of one instance", domain: "www.alice.example", inst: "notes:alice"},
		{name: "again to the same", domain: "alice.example", inst: "notes:alice"},
		{name: "someone else's", domain: "alice.example", inst: "notes:bob", want: "domain alice.example is bound to notes:alice", kind: errdefs.ErrConflict},
		{name: "unknown instance", domain: "carol.example", inst: "notes:carol", want: "instance notes:carol", kind: errdefs.ErrNotFound},
		{name: "moved", domain: "www.alice.example", inst: "notes:bob", move: true, wantPrev: "notes:alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, prev, err := bind(tt.domain, tt.inst, tt.move)
			if tt.want != "" {
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("BindDomain: %v, want %v containing %q", err, tt.kind, tt.want)
				}
				return
			}
			if err != nil || prev != tt.wantPrev || d.Domain != tt.domain || d.Instance != tt.inst || !d.CreatedAt.Equal(at) {
				t.Fatalf("BindDomain = %+v, %q, %v; want prev %q", d, prev, err, tt.wantPrev)
			}
		})
	}
	s.Close()

	// They survive a restart; deleting the instance deletes its domains
	// in the same transaction, and nothing else.
	s = open(t, dir)
	defer s.Close()
	if got := domainList(t, s); got != "alice.example=notes:alice www.alice.example=notes:bob" {
		t.Fatalf("after reopen: %s", got)
	}
	if err := s.DeleteInstance(Instance{Service: "notes", ID: "alice"}.Name()); err != nil {
		t.Fatal(err)
	}
	if got := domainList(t, s); got != "www.alice.example=notes:bob" {
		t.Errorf("after deleting notes:alice: %s", got)
	}
	// A stale index entry never deletes another instance's binding.
	if err := s.CreateInstance(Instance{Service: "notes", ID: "carol"}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDomainIndex).Put(indexKey("notes:carol", "www.alice.example"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInstance(Instance{Service: "notes", ID: "carol"}.Name()); err != nil {
		t.Fatal(err)
	}
	if got := domainList(t, s); got != "www.alice.example=notes:bob" {
		t.Errorf("after deleting notes:carol with a stale index entry: %s", got)
	}
	if d, err := s.UnbindDomain("www.alice.example"); err != nil || d.Instance != "notes:bob" {
		t.Errorf("UnbindDomain = %+v, %v", d, err)
	}
	if _, err := s.UnbindDomain("www.alice.example"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second UnbindDomain: %v, want ErrNotFound", err)
	}
	if got := domainList(t, s); got != "" {
		t.Errorf("after unbinding: %s", got)
	}
}

func domainList(t *testing.T, s *Store) string {
	t.Helper()
	list, err := s.Domains()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range list {
		out = append(out, d.Domain+"="+d.Instance)
	}
	return strings.Join(out, " ")
}

// A domain record that does not decode makes the store corrupt at Open, as
// an instance's does: the daemon would read it at start.
func TestOpenCorruptDomain(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDomains).Put([]byte("alice.example"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(dir, time.Second)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "domains record") {
		t.Fatalf("Open: %v, want ErrCorrupt naming the domains record", err)
	}
}

// BenchmarkDeleteInstanceAmongDomains: DeleteInstance reads every binding
// to find the instance's own.
func BenchmarkDeleteInstanceAmongDomains(b *testing.B) {
	s, err := Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	ins := make([]Instance, n)
	for i := range ins {
		ins[i] = Instance{Service: "notes", ID: fmt.Sprintf("t%d", i)}
	}
	if err := s.CreateInstances(ins); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range ins {
			d := fmt.Sprintf("t%d.example", i)
			if err := put(tx, bucketDomains, []byte(d), Domain{Domain: d, Instance: ins[i].Name().String()}); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDomainIndex).Put(indexKey(ins[i].Name().String(), d), nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N && i < n; i++ {
		if err := s.DeleteInstance(ins[i].Name()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if list, _ := s.Domains(); len(list) != n-min(b.N, n) {
		b.Fatalf("%d domains left after %d deletes of %d", len(list), min(b.N, n), n)
	}
}
