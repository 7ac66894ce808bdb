package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrCorrupt is the kind of a store file that cannot be opened or read:
// damaged pages, a broken freelist, records that do not decode.
var ErrCorrupt = errors.New("store is corrupt")

// CorruptError is the error of a corrupt store file. Tenants do not depend
// on the store (their units belong to systemd), and `ten store recover`
// rebuilds what it can from their units.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store %s is corrupt (%s)", e.Path, e.Err.Error())
}

// Unwrap returns ErrCorrupt and what bbolt or the check found.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// errPanic marks a bbolt panic turned into an error.
var errPanic = errors.New("bbolt panicked")

// corrupt reports whether an error of bolt.Open means a damaged file,
// rather than one the system refused (permissions, a missing directory,
// I/O errors), which are reported as they are.
func corrupt(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.As(err, &pe), errors.As(err, &errno), errors.Is(err, bolterrors.ErrTimeout):
		return false
	}
	return true
}

// verify checks an open file before anything is written to it: bbolt's
// own consistency check of every page (tx.Check: the freelist, every
// bucket's pages, nothing reachable twice or lost), then that every
// instance, token and domain record decodes, which is what the daemon reads at
// start. It costs one read of the file, once per Open.
func verify(db *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // read every error: Check's goroutine blocks until then
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
		for _, name := range [][]byte{bucketInstances, bucketTokens, bucketDomains} {
			b := tx.Bucket(name)
			if b == nil {
				continue // a new file: init creates it
			}
			if err := b.ForEach(func(k, v []byte) error {
				var rec map[string]any
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("%s record %q: %w", name, k, err)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Verify checks the store in dataDir without changing it: nil when it
// opens and checks out, ErrLocked when another process (the daemon) has
// it, a *CorruptError when it is damaged, and an fs.ErrNotExist error when
// there is none.
func Verify(dataDir string) error {
	path := filepath.Join(dataDir, FileName)
	db, err := openFile(path, 200*time.Millisecond, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := verify(db); err != nil {
		return &CorruptError{Path: path, Err: err}
	}
	return nil
}
