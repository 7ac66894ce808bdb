package fleetops

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestTarRoundTrip: a data dir crosses as it is (files, modes, times,
// directories, links inside it), without what is not data (a FIFO) and
// without set-user-ID bits; the credentials come with it.
func TestTarRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "alice")
	must(t, os.MkdirAll(filepath.Join(src, "db", "wal"), 0o750))
	must(t, os.WriteFile(filepath.Join(src, "db", "main.db"), bytes.Repeat([]byte("x"), 100_000), 0o640))
	must(t, os.WriteFile(filepath.Join(src, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.Chmod(filepath.Join(src, "suid"), 0o4755|os.ModeSetuid))
	must(t, os.Symlink("db/main.db", filepath.Join(src, "current")))
	must(t, os.Symlink("/etc", filepath.Join(src, "etc"))) // the tenant's own link: it stays a link
	must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	old := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "db", "main.db"), old, old))

	var buf bytes.Buffer
	must(t, writeTar(&buf, src, map[string][]byte{"DB_PASSWORD": []byte("s3cret")}))
	dst := filepath.Join(t.TempDir(), "in")
	creds, _, err := readTar(&buf, dst)
	must(t, err)
	if string(creds["DB_PASSWORD"]) != "s3cret" || len(creds) != 1 {
		t.Errorf("credentials %q", creds)
	}
	b, err := os.ReadFile(filepath.Join(dst, "db", "main.db"))
	if err != nil || len(b) != 100_000 {
		t.Fatalf("main.db: %d bytes, %v", len(b), err)
	}
	fi, _ := os.Stat(filepath.Join(dst, "db", "main.db"))
	if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(old) {
		t.Errorf("main.db: mode %v, time %v", fi.Mode(), fi.ModTime())
	}
	if fi, _ := os.Stat(filepath.Join(dst, "db", "wal")); fi == nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("db/wal: %v", fi)
	}
	if fi, _ := os.Lstat(filepath.Join(dst, "suid")); fi == nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("suid: %v, want 0755 without set-user-ID", fi)
	}
	for link, want := range map[string]string{"current": "db/main.db", "etc": "/etc"} {
		if got, err := os.Readlink(filepath.Join(dst, link)); err != nil || got != want {
			t.Errorf("%s: %q %v, want a link to %s", link, got, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "fifo")); !os.IsNotExist(err) {
		t.Errorf("a FIFO crossed: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "etc", "passwd")); err == nil {
		if fi, _ := os.Lstat(filepath.Join(dst, "etc")); fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the link to /etc was followed: /etc's files crossed")
		}
	}
}

// TestTarHostile: a stream that tries to write outside the new directory,
// directly or through a link an earlier entry made, fails, and writes
// nothing outside.
func TestTarHostile(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []tar.Header
	}{
		{"dot-dot", []tar.Header{{Name: "data/../../" + filepath.Base(outside) + "/pwned", Typeflag: tar.TypeReg}}},
		{"absolute", []tar.Header{{Name: "data//" + outside + "/pwned", Typeflag: tar.TypeReg}}},
		{"through a link", []tar.Header{
			{Name: "data/l", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "data/l/pwned", Typeflag: tar.TypeReg}}},
		{"through a relative link", []tar.Header{
			{Name: "data/l", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../.." + outside},
			{Name: "data/l/pwned", Typeflag: tar.TypeReg}}},
		{"over a link", []tar.Header{
			{Name: "data/l", Typeflag: tar.TypeSymlink, Linkname: outside + "/pwned"},
			{Name: "data/l", Typeflag: tar.TypeReg}}},
		{"a device", []tar.Header{{Name: "data/sda", Typeflag: tar.TypeBlock, Devmajor: 8}}},
		{"a hard link", []tar.Header{{Name: "data/h", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}}},
		{"elsewhere", []tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeReg}}},
		{"a credential path", []tar.Header{{Name: "credentials/../x", Typeflag: tar.TypeReg}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				h.Mode = 0o644
				h.Format = tar.FormatPAX
				must(t, tw.WriteHeader(&h))
			}
			must(t, tw.Close())
			dst := filepath.Join(t.TempDir(), "in")
			if _, _, err := readTar(&buf, dst); err == nil {
				t.Error("no error")
			}
			if got, _ := os.ReadDir(outside); len(got) != 0 {
				t.Errorf("wrote outside: %v", got)
			}
		})
	}
}

// TestTarNoDataDir: an instance that never wrote anything has an empty
// data dir on the other side.
func TestTarNoDataDir(t *testing.T) {
	var buf bytes.Buffer
	must(t, writeTar(&buf, filepath.Join(t.TempDir(), "missing"), nil))
	dst := filepath.Join(t.TempDir(), "in")
	if _, _, err := readTar(&buf, dst); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadDir(dst); err != nil || len(got) != 0 {
		t.Errorf("%v %v", got, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
