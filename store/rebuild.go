package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Rebuild replaces the store in dataDir with a new one that holds only
// recs, and keeps the old file next to it as
// tenement.db.corrupt-<UTC time>, whose name it returns ("" when there was
// no old file). It is the store's half of `ten store recover`.
//
// The new store is built aside and renamed over the old one, so there is
// never a moment without a store file: a daemon that starts meanwhile
// (systemd restarts it, or its socket is hit) finds either the old file or
// the complete new one. The old file is locked throughout, as bbolt locks
// it, so a daemon that holds it makes Rebuild fail with ErrLocked, and one
// that waits for it sees that the file was replaced and opens the new one
// (openFile).
func Rebuild(dataDir string, recs []Instance, now time.Time) (aside string, err error) {
	path := filepath.Join(dataDir, FileName)
	old, err := lockOld(path)
	if err != nil {
		return "", err
	}
	if old != nil {
		defer old.Close() // releases the lock, after the rename
	}
	tmp := path + ".rebuild"
	if err := build(tmp, recs); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if old != nil {
		aside = path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
		if err := os.Link(path, aside); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("store: keep the old store: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return aside, fmt.Errorf("store: %w", err)
	}
	return aside, syncDir(dataDir)
}

// lockOld opens and locks the store file at path as bbolt would; nil
// without one.
func lockOld(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return f, nil
}

// build writes a new store file at path holding recs.
func build(path string, recs []Instance) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInstances)
		for _, in := range recs {
			key := []byte(in.Name().String())
			if b.Get(key) != nil {
				return fmt.Errorf("store: instance %s twice", in.Name())
			}
			if err := put(tx, bucketInstances, key, in); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
