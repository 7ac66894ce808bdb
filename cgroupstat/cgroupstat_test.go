package cgroupstat

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m, nil)) }

// fakeTree is a cgroup layout in a temporary directory, with the
// mountinfo file that describes it.
type fakeTree struct {
	t         testing.TB
	dir       string
	mountinfo []string
}

func newFakeTree(t testing.TB) *fakeTree { return &fakeTree{t: t, dir: t.TempDir()} }

// mount adds a hierarchy at dir/name (name may contain a space, which
// mountinfo escapes).
func (f *fakeTree) mount(name, fstype, super string) string {
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.mountinfo = append(f.mountinfo, fmt.Sprintf("%d 23 0:%d / %s rw,nosuid,nodev,noexec,relatime shared:%d - %s %s %s",
		30+len(f.mountinfo), 40+len(f.mountinfo), strings.ReplaceAll(p, " ", `\040`), 5+len(f.mountinfo), fstype, fstype, super))
	return p
}

// file writes content to mount/rel, creating the directories.
func (f *fakeTree) file(mount, rel, content string) {
	p := filepath.Join(mount, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeTree) reader(opts Options) *Reader {
	mi := filepath.Join(f.dir, "mountinfo")
	lines := append([]string{"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"}, f.mountinfo...)
	if err := os.WriteFile(mi, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
	opts.Mountinfo = mi
	r, err := New(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(r.Close)
	return r
}

func unitDir(svc, id string) string {
	return "tenement.slice/tenement-" + svc + ".slice/tenement@" + svc + "-" + id + ".service"
}

// render shows a pass sorted by instance.
func render(s *Stats) string {
	var lines []string
	for n, u := range s.All() {
		l := n.String() + ":"
		if u.MemoryOK {
			l += fmt.Sprintf(" mem=%d", u.MemoryBytes)
		}
		if u.CPUOK {
			l += fmt.Sprintf(" cpu=%v", u.CPU)
		}
		if u.TasksOK {
			l += fmt.Sprintf(" tasks=%d", u.Tasks)
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestReadUnified(t *testing.T) {
	f := newFakeTree(t)
	cg := f.mount("cg root", "cgroup2", "rw,nsdelegate,memory_recursiveprot")
	f.file(cg, unitDir("notes", "alice")+"/memory.current", "1048576\n")
	f.file(cg, unitDir("notes", "alice")+"/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n")
	f.file(cg, unitDir("notes", "alice")+"/pids.current", "3\n")
	// bob's unit has no pids controller: no task count, not zero.
	f.file(cg, unitDir("notes", "bob")+"/memory.current", "2048\n")
	f.file(cg, unitDir("notes", "bob")+"/cpu.stat", "usage_usec 7\n")
	f.file(cg, unitDir("web", "x")+"/memory.current", "4096\n")
	f.file(cg, unitDir("web", "x")+"/cpu.stat", "usage_usec 1000000\nuser_usec 1\n")
	f.file(cg, unitDir("web", "x")+"/pids.current", "1\n")
	// What is not an instance's running unit.
	f.file(cg, "tenement.slice/tenement-notes.slice/other.service/memory.current", "1\n")
	f.file(cg, "tenement.slice/tenement-notes.slice/tenement@notes-sock.socket/memory.current", "1\n")
	f.file(cg, "tenement.slice/tenement-web.slice/tenement@notes-zed.service/memory.current", "1\n") // wrong slice
	f.file(cg, "tenement.slice/tenement@notes-direct.service/memory.current", "1\n")
	f.file(cg, "tenement.slice/tenement-notes.slice/cgroup.procs", "")
	f.file(cg, "system.slice/tenement-notes.slice/tenement@notes-sys.service/memory.current", "1\n")
	// A unit that is going away: its directory is empty.
	if err := os.MkdirAll(filepath.Join(cg, unitDir("notes", "gone")), 0o755); err != nil {
		t.Fatal(err)
	}
	// Symbolic links are never followed, neither to a unit nor to a file.
	f.file(f.dir, "elsewhere/memory.current", "666\n")
	if err := os.Symlink(filepath.Join(f.dir, "elsewhere"), filepath.Join(cg, unitDir("notes", "evil"))); err != nil {
		t.Fatal(err)
	}
	f.file(cg, unitDir("notes", "link")+"/pids.current", "2\n")
	if err := os.Symlink("../tenement@notes-alice.service/memory.current", filepath.Join(cg, unitDir("notes", "link"), "memory.current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("tenement@notes-alice.service", filepath.Join(cg, unitDir("notes", "twin"))); err != nil {
		t.Fatal(err)
	}

	s, err := f.reader(Options{}).Read()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"notes:alice: mem=1048576 cpu=2.5ms tasks=3",
		"notes:bob: mem=2048 cpu=7µs",
		"notes:link: tasks=2",
		"web:x: mem=4096 cpu=1s tasks=1",
	}, "\n")
	if got := render(s); got != want {
		t.Errorf("read:\n%s\nwant:\n%s", got, want)
	}
	n, _ := names.Parse("notes:alice")
	if u, ok := s.Get(n); !ok || u.MemoryBytes != 1048576 || s.Len() != 4 {
		t.Errorf("Get(%s) = %+v, %v; Len %d", n, u, ok, s.Len())
	}
}

func TestReadHybrid(t *testing.T) {
	f := newFakeTree(t)
	mem := f.mount("memory", "cgroup", "rw,memory")
	pids := f.mount("pids", "cgroup", "rw,pids")
	f.mount("cpu", "cgroup", "rw,cpu")
	acct := f.mount("cpuacct", "cgroup", "rw,cpuacct")
	f.mount("systemd", "cgroup", "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd")
	uni := f.mount("unified", "cgroup2", "rw,nsdelegate")
	for _, id := range []string{"a", "b"} {
		f.file(uni, unitDir("svc", id)+"/cpu.stat", "usage_usec 69494\nuser_usec 34747\nsystem_usec 34747\nnice_usec 0\n")
		f.file(uni, unitDir("svc", id)+"/memory.current", "1\n") // no memory controller in cgroup2 here: never read
		f.file(pids, unitDir("svc", id)+"/pids.current", "2\n")
		f.file(acct, unitDir("svc", id)+"/cpuacct.usage", "5\n") // cgroup2's cpu.stat wins
	}
	f.file(mem, unitDir("svc", "a")+"/memory.usage_in_bytes", "20533248\n")
	// b has no memory cgroup (yet): absent. c is only in v1 hierarchies:
	// the units are the cgroup2 hierarchy's.
	f.file(mem, unitDir("svc", "c")+"/memory.usage_in_bytes", "1\n")

	s, err := f.reader(Options{}).Read()
	if err != nil {
		t.Fatal(err)
	}
	want := "svc:a: mem=20533248 cpu=69.494ms tasks=2\nsvc:b: cpu=69.494ms tasks=2"
	if got := render(s); got != want {
		t.Errorf("read:\n%s\nwant:\n%s", got, want)
	}
}

func TestReadLegacy(t *testing.T) {
	f := newFakeTree(t)
	mem := f.mount("memory", "cgroup", "rw,memory")
	pids := f.mount("pids", "cgroup", "rw,pids")
	acct := f.mount("cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")
	sd := f.mount("systemd", "cgroup", "rw,name=systemd")
	for _, id := range []string{"a", "b"} {
		f.file(sd, unitDir("svc", id)+"/cgroup.procs", "")
		f.file(mem, unitDir("svc", id)+"/memory.usage_in_bytes", "100\n")
		f.file(pids, unitDir("svc", id)+"/pids.current", "1\n")
	}
	f.file(acct, unitDir("svc", "a")+"/cpuacct.usage", "1500000\n")
	s, err := f.reader(Options{}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(s), "svc:a: mem=100 cpu=1.5ms tasks=1\nsvc:b: mem=100 tasks=1"; got != want {
		t.Errorf("read:\n%s\nwant:\n%s", got, want)
	}
}

func TestReadEmpty(t *testing.T) {
	f := newFakeTree(t)
	f.mount("cg", "cgroup2", "rw")
	s, err := f.reader(Options{}).Read()
	if err != nil || s.Len() != 0 {
		t.Errorf("before any unit ran: %d units, %v", s.Len(), err)
	}

	none := newFakeTree(t)
	if _, err := none.reader(Options{}).Read(); err == nil {
		t.Error("no cgroup hierarchy mounted, and no error")
	}
}

func TestReadCache(t *testing.T) {
	f := newFakeTree(t)
	cg := f.mount("cg", "cgroup2", "rw")
	f.file(cg, unitDir("svc", "a")+"/memory.current", "1\n")
	now := time.Unix(1_700_000_000, 0)
	r := f.reader(Options{MaxAge: time.Second, now: func() time.Time { return now }})
	first, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	f.file(cg, unitDir("svc", "a")+"/memory.current", "2\n")
	f.file(cg, unitDir("svc", "b")+"/memory.current", "3\n")
	now = now.Add(999 * time.Millisecond)
	if s, _ := r.Read(); s != first || render(s) != "svc:a: mem=1" {
		t.Errorf("within MaxAge: %s, want the first pass", render(s))
	}
	now = now.Add(time.Millisecond)
	s, err := r.Read()
	if err != nil || s == first || render(s) != "svc:a: mem=2\nsvc:b: mem=3" || !s.At.Equal(now) {
		t.Errorf("after MaxAge: %s at %v, %v; want a new pass", render(s), s.At, err)
	}
}

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		unified string
		v1      map[string]string
		wantErr bool
	}{{
		name: "Debian 12: cgroup v2 only",
		lines: []string{
			"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro",
			"35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot",
		},
		unified: "/sys/fs/cgroup",
		v1:      map[string]string{},
	}, {
		name: "the test manager: hybrid",
		lines: []string{
			"87 73 0:50 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,size=4096k,nr_inodes=1024,mode=755",
			"88 87 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
			"89 87 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
			"91 87 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
			"95 87 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
			"96 87 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
			"97 87 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
		},
		unified: "/sys/fs/cgroup/unified",
		v1: map[string]string{"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "memory": "/sys/fs/cgroup/memory",
			"pids": "/sys/fs/cgroup/pids", "name=systemd": "/sys/fs/cgroup/systemd"},
	}, {
		name: "co-mounted controllers, a space, a sub-tree mount and a second mount",
		lines: []string{
			`40 31 0:37 / /sys/fs/cgroup/cpu,cpuacct rw shared:3 master:2 - cgroup cgroup rw,cpu,cpuacct`,
			`41 31 0:38 /some/sub /mnt/memory rw - cgroup cgroup rw,memory`,
			`42 31 0:38 / /mnt/my\040memory rw - cgroup cgroup rw,memory`,
			`43 31 0:38 / /mnt/again rw - cgroup cgroup rw,memory`,
		},
		v1: map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/mnt/my memory"},
	}, {
		name:    "malformed",
		lines:   []string{"35 24 0:30 / /sys/fs/cgroup rw shared:9 cgroup2 cgroup2 rw"},
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseMountinfo(strings.NewReader(strings.Join(tt.lines, "\n")))
			if tt.wantErr {
				if err == nil {
					t.Error("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.unified != tt.unified || fmt.Sprint(h.v1) != fmt.Sprint(tt.v1) {
				t.Errorf("unified %q v1 %v; want %q %v", h.unified, h.v1, tt.unified, tt.v1)
			}
		})
	}
}

func TestParseNumbers(t *testing.T) {
	uints := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"20533248\n", 20533248, true},
		{"0", 0, true},
		{"18446744073709551615\n", 1<<64 - 1, true},
		{"18446744073709551616\n", 0, false},
		{"max\n", 0, false},
		{"", 0, false},
		{"-1", 0, false},
	}
	for _, tt := range uints {
		if got, ok := parseUint([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("parseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	stats := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"usage_usec 69494\nuser_usec 34747\n", 69494, true},
		{"nr_periods 0\nusage_usec 5", 5, true},
		{"user_usec 34747\n", 0, false},
		{"usage_usec_x 5\n", 0, false},
	}
	for _, tt := range stats {
		if got, ok := parseUsageUsec([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("parseUsageUsec(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// BenchmarkRead makes a pass over 1 000 fake units of 20 services.
func BenchmarkRead(b *testing.B) {
	for _, layout := range []string{"unified", "hybrid"} {
		b.Run(layout, func(b *testing.B) {
			f := newFakeTree(b)
			var mem, cpu, pids string
			if layout == "unified" {
				mem = f.mount("cg", "cgroup2", "rw")
				cpu, pids = mem, mem
			} else {
				mem = f.mount("memory", "cgroup", "rw,memory")
				pids = f.mount("pids", "cgroup", "rw,pids")
				cpu = f.mount("unified", "cgroup2", "rw")
			}
			memFile := map[string]string{"unified": "memory.current", "hybrid": "memory.usage_in_bytes"}[layout]
			for i := range 1000 {
				d := unitDir(fmt.Sprintf("svc%d", i%20), fmt.Sprintf("u%d", i))
				f.file(mem, d+"/"+memFile, "20533248\n")
				f.file(cpu, d+"/cpu.stat", "usage_usec 69494\nuser_usec 34747\nsystem_usec 34747\n")
				f.file(pids, d+"/pids.current", "2\n")
			}
			clock := time.Unix(0, 0)
			r := f.reader(Options{now: func() time.Time { clock = clock.Add(time.Hour); return clock }})
			b.ReportAllocs()
			for b.Loop() {
				s, err := r.Read()
				if err != nil || s.Len() != 1000 {
					b.Fatalf("%d units, %v", s.Len(), err)
				}
			}
		})
	}
}
