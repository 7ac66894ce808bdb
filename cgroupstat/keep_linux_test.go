package cgroupstat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestKeptFiles: the files of running units stay open between passes, up
// to MaxOpen descriptors, and every pass still reads what is there now:
// a changed number, a unit started again in a new cgroup, a stopped unit
// (whose files are closed).
func TestKeptFiles(t *testing.T) {
	f := newFakeTree(t)
	cg := f.mount("cg", "cgroup2", "rw")
	unit := func(id, mem string) {
		f.file(cg, unitDir("svc", id)+"/memory.current", mem+"\n")
		f.file(cg, unitDir("svc", id)+"/cpu.stat", "usage_usec 1000\n")
		f.file(cg, unitDir("svc", id)+"/pids.current", "1\n")
	}
	unit("a", "10")
	unit("b", "20")
	unit("c", "30")
	before := openFiles(t)
	clock := time.Unix(0, 0)
	r := f.reader(Options{MaxOpen: 6, now: func() time.Time { clock = clock.Add(time.Hour); return clock }})
	read := func(want string) {
		t.Helper()
		s, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if got := render(s); got != want {
			t.Errorf("read:\n%s\nwant:\n%s", got, want)
		}
	}
	read("svc:a: mem=10 cpu=1ms tasks=1\nsvc:b: mem=20 cpu=1ms tasks=1\nsvc:c: mem=30 cpu=1ms tasks=1")
	if r.open.fds != 6 || len(r.open.m) != 2 || openFiles(t) != before+6 {
		t.Errorf("kept %d descriptors of %d units (%d more open), want 6 of 2", r.open.fds, len(r.open.m), openFiles(t)-before)
	}

	// A number changes in place; b starts again in a new cgroup (the old
	// directory still exists, renamed, so the new one has another inode).
	unit("a", "11")
	unit("c", "31")
	old := filepath.Join(cg, unitDir("svc", "b"))
	if err := os.Rename(old, old+".old"); err != nil {
		t.Fatal(err)
	}
	f.file(cg, unitDir("svc", "b")+"/memory.current", "21\n")
	f.file(cg, unitDir("svc", "b")+"/cpu.stat", "usage_usec 5\n")
	f.file(cg, unitDir("svc", "b")+"/pids.current", "2\n")
	read("svc:a: mem=11 cpu=1ms tasks=1\nsvc:b: mem=21 cpu=5µs tasks=2\nsvc:c: mem=31 cpu=1ms tasks=1")

	// Stopped units' files are closed.
	for _, id := range []string{"a", "c"} {
		if err := os.RemoveAll(filepath.Join(cg, unitDir("svc", id))); err != nil {
			t.Fatal(err)
		}
	}
	read("svc:b: mem=21 cpu=5µs tasks=2")
	if r.open.fds != 3 || openFiles(t) != before+3 {
		t.Errorf("after two stops: kept %d descriptors (%d more open), want 3", r.open.fds, openFiles(t)-before)
	}
	r.Close()
	if n := openFiles(t); n != before {
		t.Errorf("after Close: %d more open", n-before)
	}
	read("svc:b: mem=21 cpu=5µs tasks=2")
	if n := openFiles(t); n != before || r.open.fds != 0 {
		t.Errorf("a pass after Close kept %d descriptors", n-before)
	}
}

// TestKeptFilesNone: with a negative MaxOpen nothing stays open.
func TestKeptFilesNone(t *testing.T) {
	f := newFakeTree(t)
	cg := f.mount("cg", "cgroup2", "rw")
	f.file(cg, unitDir("svc", "a")+"/memory.current", "10\n")
	f.file(cg, unitDir("svc", "a")+"/cpu.stat", "usage_usec 1000\n")
	f.file(cg, unitDir("svc", "a")+"/pids.current", "1\n")
	before := openFiles(t)
	s, err := f.reader(Options{MaxOpen: -1}).Read()
	if err != nil || s.Len() != 1 {
		t.Fatalf("%d units, %v", s.Len(), err)
	}
	if n := openFiles(t); n != before {
		t.Errorf("%d descriptors kept with MaxOpen -1", n-before)
	}
}
