package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry records one change: who did what to which target, when, and
// how it ended.
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`  // "token:<id>", "tenant:<t>/token:<id>", "uid:<n>" or "daemon"
	Action  string    `json:"action"` // "spawn", "stop", "restart", "weight", ...
	Target  string    `json:"target,omitempty"`
	Details string    `json:"details,omitempty"`
	Result  string    `json:"result"` // "ok" or the error
}

// Audit appends an entry, assigning its sequence number.
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
		return put(tx, bucketAudit, u64(seq), e)
	})
	return e, err
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
