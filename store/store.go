// Package store is tenement's embedded, crash-safe state: known instances
// (including asleep ones) with their ports, weights and failed marks; the
// custom domains bound to them; API tokens (hashes only); and the audit log, which keeps the newest
// settings.audit_max_entries entries (SetAuditLimit).
//
// It is a bbolt file, {data_dir}/tenement.db: every change is one
// transaction, fsynced before it returns, so a kill -9 loses nothing that was
// acknowledged. bbolt holds an exclusive lock on the file; Open reports
// ErrLocked when another process (a running daemon) has it, which is how
// `ten store check` and `ten store recover` know to refuse.
//
// Open checks the file before it writes anything (check.go): a damaged one
// is a *CorruptError, and Rebuild (`ten store recover`) replaces it with a
// new store holding what can be rebuilt from systemd's units.
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
// timeout for another process to release it. A file that bbolt cannot
// open, or whose pages or records do not check out, is a *CorruptError
// (check.go): nothing is written to it.
func Open(dataDir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	db, err := openFile(path, timeout, false)
	if err != nil {
		return nil, err
	}
	if err := verify(db); err != nil {
		db.Close()
		return nil, &CorruptError{Path: path, Err: err}
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openFile opens the bbolt file at path. When the file was replaced while
// Open waited for its lock (ten store recover renames a rebuilt store over
// it), the old file is closed and the new one opened.
func openFile(path string, timeout time.Duration, readOnly bool) (*bolt.DB, error) {
	for range 3 {
		var f *os.File
		o := &bolt.Options{Timeout: timeout, ReadOnly: readOnly,
			OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
				var err error
				f, err = os.OpenFile(name, flag, mode)
				return f, err
			}}
		db, err := openBolt(path, o)
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, ErrLocked
		}
		if err != nil {
			if corrupt(err) {
				return nil, &CorruptError{Path: path, Err: err}
			}
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		if replaced(f, path) {
			db.Close()
			continue
		}
		return db, nil
	}
	return nil, fmt.Errorf("%w: store: %s keeps being replaced", errdefs.ErrUnavailable, path)
}

// openBolt is bolt.Open, with a panic (bbolt asserts on some damaged
// files) turned into an error.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

// replaced reports whether path no longer names the open file f.
func replaced(f *os.File, path string) bool {
	if f == nil {
		return false
	}
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(a, b)
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketInstances, bucketTokens, bucketTokenHashes, bucketAudit, bucketMeta, bucketDomains, bucketDomainIndex} {
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

// all decodes every JSON value of a bucket, in key order; what names a
// value in an error ("token" and its key).
func all[T any](db *bolt.DB, bucket []byte, what string) ([]T, error) {
	var out []T
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var t T
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("store: decode %s %s: %w", what, k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

func put(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return tx.Bucket(bucket).Put(key, raw)
}
