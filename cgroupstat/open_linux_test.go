package cgroupstat

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Where openat2 is refused (a system call filter), the fallback opens
// path by path, following no symbolic link either.
func TestOpenBeneathFallback(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("42\n"), 0o644)
	os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link"))
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fd, err := openBeneath(int(d.Fd()), "a/b/f", unix.O_RDONLY)
	if err != nil {
		t.Fatalf("a/b/f: %v", err)
	}
	unix.Close(fd)
	for _, p := range []string{"link/b/f", "a/../a/b/f", "/etc/passwd"} {
		if fd, err := openBeneath(int(d.Fd()), p, unix.O_RDONLY); err == nil {
			unix.Close(fd)
			t.Errorf("%s opened", p)
		}
	}
}
