// Package store is tenement's embedded, crash-safe state: known instances
// (including asleep ones) with their ports, weights and failed marks; API
// tokens (hashes only); and the audit log, which keeps the newest
// settings.audit_max_entries entries (SetAuditLimit).
//
// It is a bbolt file, {data_dir}/tenement.db: every change is one
// transaction, fsynced before it returns, so a kill -9 loses nothing that was
// acknowledged. bbolt holds an exclusive lock on the file; Open reports
// ErrLocked when another process (a running daemon) has it, which is how
// `ten token-gen` knows to go through the daemon instead.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tenement/tenement/errdefs"
)

// FileName is the store's file inside the data dir.
const FileName = "tenement.db"

// ErrLocked means another process has the store open.
var ErrLocked = fmt.Errorf("%w: store is in use by another process (is the daemon running?)", errdefs.ErrUnavailable)

var (
	bucketInstances = []byte("instances")
	bucketTokens    = []byte("tokens")
	bucketAudit     = []byte("audit")
	bucketMeta      = []byte("meta")
)

// schemaVersion is written to meta; Open refuses files from the future.
const schemaVersion = 1

// Store is an open store. It is safe for concurrent use.
type Store struct {
	db       *bolt.DB
	path     string
	auditMax atomic.Int64 // SetAuditLimit
}

// Open opens (creating if needed) the store in dataDir, waiting up to
// timeout for another process to release it.
func Open(dataDir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketInstances, bucketTokens, bucketTokenHashes, bucketAudit, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get([]byte("schema")); v != nil {
			if n := binary.BigEndian.Uint64(v); n > schemaVersion {
				return fmt.Errorf("store: %s has schema %d, newer than this tenement understands (%d)", s.path, n, schemaVersion)
			}
			return nil
		}
		return meta.Put([]byte("schema"), u64(schemaVersion))
	})
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// get decodes the JSON value at key in bucket into v, or returns
// ErrNotFound wrapped with what.
func get(tx *bolt.Tx, bucket, key []byte, v any, what string) error {
	raw := tx.Bucket(bucket).Get(key)
	if raw == nil {
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, what)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("store: decode %s: %w", what, err)
	}
	return nil
}

func put(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return tx.Bucket(bucket).Put(key, raw)
}
