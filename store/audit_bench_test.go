package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkAuditAtLimit appends to a log that is full at the default limit
// (100 000 entries): the cost of a write, trims included, must not grow
// with the log (go test -bench AuditAtLimit -benchtime 2000x ./store/).
func BenchmarkAuditAtLimit(b *testing.B) {
	s, err := Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const limit = 100000
	e := AuditEntry{Time: time.Now().UTC(), Actor: "tenant:alice/token:3f2a9c1b7d4e", Action: "restart", Target: "notes:alice", Result: "ok"}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		for range limit {
			seq, _ := b.NextSequence()
			e.Seq = seq
			if err := put(tx, bucketAudit, u64(seq), e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	s.SetAuditLimit(limit)
	for b.Loop() {
		if _, err := s.Audit(e); err != nil {
			b.Fatal(err)
		}
	}
}
