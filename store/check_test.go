package store

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// filled returns a data dir with a closed store holding two instances,
// tokens and enough audit entries to span many pages.
func filled(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir)
	for _, in := range []Instance{{Service: "notes", ID: "alice", Port: 20001}, {Service: "notes", ID: "bob", Port: 20002}} {
		if err := s.CreateInstance(in); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateToken(Token{ID: "t1", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range 2000 {
			if err := put(tx, bucketAudit, u64(uint64(i+1)), AuditEntry{Action: "spawn", Target: strings.Repeat("x", 100)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return dir
}

// overwrite writes n random bytes at off into the store file of dir.
func overwrite(t *testing.T, dir string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	rand.Read(b)
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestOpenCorrupt damages the store in the ways a disk or a crash does:
// each is reported as a *CorruptError naming the file, never a panic, and
// the file is left as it was.
func TestOpenCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"both meta pages", func(t *testing.T, dir string) { overwrite(t, dir, 0, 16384) }},
		{"data pages", func(t *testing.T, dir string) { overwrite(t, dir, 4*4096, 4*4096) }},
		{"truncated", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, FileName), 5000); err != nil {
				t.Fatal(err)
			}
		}},
		{"a record that does not decode", func(t *testing.T, dir string) {
			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketInstances).Put([]byte("notes:carol"), []byte("{not json"))
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filled(t)
			tc.damage(t, dir)
			before, _ := os.ReadFile(filepath.Join(dir, FileName))
			s, err := Open(dir, time.Second)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Path != filepath.Join(dir, FileName) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open = %v, want a *CorruptError for %s", err, filepath.Join(dir, FileName))
			}
			if err := Verify(dir); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Verify = %v", err)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, FileName)); string(after) != string(before) {
				t.Errorf("Open changed the corrupt file")
			}
			t.Logf("%v", err)
		})
	}
}

func TestVerify(t *testing.T) {
	dir := filled(t)
	if err := Verify(dir); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	s := open(t, dir)
	if err := Verify(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("store held by another: %v", err)
	}
	s.Close()
	if err := Verify(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no store: %v", err)
	}
}

// TestRebuild replaces a corrupt store: the new one holds the given
// records and opens, the old bytes are kept aside, and a store held by
// another process is not touched.
func TestRebuild(t *testing.T) {
	dir := filled(t)
	overwrite(t, dir, 0, 16384)
	old, _ := os.ReadFile(filepath.Join(dir, FileName))
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	recs := []Instance{{Service: "notes", ID: "alice", Port: 20001, CreatedAt: now}, {Service: "notes", ID: "bob", Port: 20002, CreatedAt: now}}
	aside, err := Rebuild(dir, recs, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "tenement.db.corrupt-20250601T120000Z"); aside != want {
		t.Errorf("aside = %q, want %q", aside, want)
	}
	if kept, _ := os.ReadFile(aside); string(kept) != string(old) {
		t.Errorf("the corrupt file was not kept as it was")
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".rebuild")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temporary file is left: %v", err)
	}
	s := open(t, dir)
	got, err := s.Instances()
	if err != nil || len(got) != 2 || got[0].Port != 20001 || got[1].ID != "bob" || got[1].Weight != 0 {
		t.Fatalf("rebuilt instances %+v %v", got, err)
	}
	if toks, _ := s.Tokens(); len(toks) != 0 {
		t.Errorf("tokens survived: %+v", toks)
	}
	// Held by a daemon: refused, nothing changed.
	if _, err := Rebuild(dir, nil, now.Add(time.Hour)); !errors.Is(err, ErrLocked) {
		t.Errorf("Rebuild of a held store: %v", err)
	}
	s.Close()
	if got, _ := filepath.Glob(filepath.Join(dir, "tenement.db*")); len(got) != 2 {
		t.Errorf("files %v", got)
	}
}

// TestOpenSeesReplacedFile: an Open that waits for the lock while the file
// is replaced (what Rebuild does) opens the new file, not the old one.
func TestOpenSeesReplacedFile(t *testing.T) {
	dir := filled(t)
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result)
	go func() {
		s, err := Open(dir, 5*time.Second)
		done <- result{s, err}
	}()
	time.Sleep(200 * time.Millisecond) // Open is waiting for the lock
	if err := build(path+".new", []Instance{{Service: "blog", ID: "carol", Port: 20003}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.s.Close()
	got, _ := r.s.Instances()
	if len(got) != 1 || got[0].ID != "carol" {
		t.Fatalf("Open after the replacement reads %+v, want the new file's", got)
	}
}
