package isolation

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func owner(t *testing.T, p string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func TestEnsureOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing owners needs root")
	}
	dir := filepath.Join(t.TempDir(), "data")
	outside := filepath.Join(t.TempDir(), "outside")
	for _, p := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(dir, "f"), filepath.Join(dir, "sub", "g"), outside} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link out of the data dir must not give its target away.
	if err := os.Symlink(outside, filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	// The dir was the previous user's; a hard link to someone else's
	// file stays someone else's, the previous user's own links move.
	for _, p := range []string{dir, filepath.Join(dir, "f"), filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "g")} {
		if err := os.Lchown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(outside, filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "f2")); err != nil {
		t.Fatal(err)
	}
	if err := ensureOwner(dir, 61000, 61001); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "f"), filepath.Join(dir, "f2"), filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "g"), filepath.Join(dir, "sub", "link")} {
		if u, g := owner(t, p); u != 61000 || g != 61001 {
			t.Errorf("%s owned by %d:%d, want 61000:61001", p, u, g)
		}
	}
	if u, g := owner(t, outside); u != 0 || g != 0 {
		t.Errorf("a linked file outside changed owner to %d:%d", u, g)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", fi.Mode().Perm())
	}

	// The same owner: nothing is walked (a file given away stays so).
	if err := os.Lchown(filepath.Join(dir, "f"), 5, 5); err != nil {
		t.Fatal(err)
	}
	if err := ensureOwner(dir, 61000, 61001); err != nil {
		t.Fatal(err)
	}
	if u, _ := owner(t, filepath.Join(dir, "f")); u != 5 {
		t.Errorf("a dir already owned was walked again")
	}
	if err := ensureOwner(filepath.Join(dir, "f"), 1, 1); err == nil {
		t.Error("a file was accepted as data dir")
	}
}
