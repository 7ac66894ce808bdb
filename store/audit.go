package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tenement/tenement/apitype"
)

// AuditEntry records one change: who did what to which target, when, and
// how it ended. It is stored as GET /api/audit shows it (its JSON is
// apitype's): the log holds nothing the API does not.
type AuditEntry = apitype.AuditEntry

// SetAuditLimit keeps at most n audit entries from now on, dropping the
// oldest (n <= 0: keep all, the default). settings.audit_max_entries sets
// it.
//
// Keys are the entries' sequence numbers, big-endian, and entries are only
// ever dropped from the oldest end, so the count is the newest key minus
// the oldest plus one: one cursor seek per write, never a scan. When the
// count passes n, the oldest are dropped in one go down to n minus a batch
// of 1% of n, so that the trimming transaction comes once per batch of
// writes rather than on every one.
func (s *Store) SetAuditLimit(n int) { s.auditMax.Store(int64(max(n, 0))) }

// auditBatch is how far below the limit a trim goes.
func auditBatch(limit uint64) uint64 { return max(limit/100, 1) }

// Audit appends an entry, assigning its sequence number, and drops the
// oldest entries past the limit.
func (s *Store) Audit(e AuditEntry) (AuditEntry, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = time.Now().UTC()
		}
		if err := put(tx, bucketAudit, u64(seq), e); err != nil {
			return err
		}
		return trimAudit(b, seq, uint64(s.auditMax.Load()))
	})
	return e, err
}

// trimAudit drops the oldest entries of b when there are more than limit
// (0: no limit); newest is the key just written.
func trimAudit(b *bolt.Bucket, newest, limit uint64) error {
	if limit == 0 {
		return nil
	}
	c := b.Cursor()
	k, _ := c.First()
	if k == nil || newest-binary.BigEndian.Uint64(k)+1 <= limit {
		return nil
	}
	keepFrom := newest - (limit - auditBatch(limit)) + 1
	for ; k != nil && binary.BigEndian.Uint64(k) < keepFrom; k, _ = c.First() {
		// Seek again after each delete: a bbolt cursor that deletes and
		// then moves on may skip a key.
		if err := c.Delete(); err != nil {
			return fmt.Errorf("store: trim audit log: %w", err)
		}
	}
	return nil
}

// AuditLog returns up to limit entries (all when limit <= 0), oldest first,
// ending with the newest.
func (s *Store) AuditLog(limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("store: decode audit entry: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}
