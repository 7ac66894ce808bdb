package cgroupstat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tenement/tenement/names"
)

// source is where one number of a unit is read: a file in the unit's
// directory of a hierarchy, opened once per pass.
type source struct {
	mount string // mount point; "" when the layout has none
	file  string
	fd    int
	parse func(b []byte) (uint64, bool)
}

// sources picks the hierarchy of each number, as systemd does: a v1
// controller's own hierarchy where one is mounted, else the cgroup2
// hierarchy. CPU prefers cgroup2's cpu.stat, kept for every cgroup.
func (h hierarchies) sources() (mem, cpu, tasks source) {
	mem = source{mount: h.unified, file: "memory.current", parse: parseUint}
	if m := h.v1["memory"]; m != "" {
		mem = source{mount: m, file: "memory.usage_in_bytes", parse: parseUint}
	}
	tasks = source{mount: h.unified, file: "pids.current", parse: parseUint}
	if m := h.v1["pids"]; m != "" {
		tasks = source{mount: m, file: "pids.current", parse: parseUint}
	}
	cpu = source{mount: h.v1["cpuacct"], file: "cpuacct.usage", parse: parseUint}
	if h.unified != "" {
		cpu = source{mount: h.unified, file: "cpu.stat", parse: parseUsageUsec}
	}
	return mem, cpu, tasks
}

// walkMount is the hierarchy whose directories list the units: every
// unit has a cgroup in the cgroup2 one (or, without it, in systemd's own
// v1 one).
func (h hierarchies) walkMount() string {
	for _, m := range []string{h.unified, h.v1["name=systemd"], h.v1["memory"], h.v1["pids"]} {
		if m != "" {
			return m
		}
	}
	return ""
}

// how opens a path below a directory without following any symbolic link
// and without leaving the directory or its mount.
var how = unix.OpenHow{
	Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
}

func (r *Reader) pass(sizeHint, maxOpen int) (map[names.Instance]Usage, error) {
	walk := r.h.walkMount()
	if walk == "" {
		return nil, errors.New("cgroupstat: no cgroup hierarchy is mounted")
	}
	mem, cpu, tasks := r.h.sources()
	fds, err := openMounts(walk, mem.mount, cpu.mount, tasks.mount)
	defer fds.close()
	if err != nil {
		return nil, err
	}
	for _, s := range []*source{&mem, &cpu, &tasks} {
		s.fd = fds.fd(s.mount)
	}
	srcs := [3]*source{&mem, &cpu, &tasks}

	units := make(map[names.Instance]Usage, sizeHint)
	buf := make([]byte, 4096)
	r.open.pass++
	defer r.open.closeUnseen()
	svcSlices, err := listDirs(fds.fd(walk), r.opts.Slice, buf)
	if errors.Is(err, unix.ENOENT) {
		return units, nil // nothing has run yet
	}
	if err != nil {
		return nil, fmt.Errorf("cgroupstat: list %s: %w", r.opts.Slice, err)
	}
	for _, slice := range svcSlices {
		svc, ok1 := strings.CutPrefix(slice.name, "tenement-")
		svc, ok2 := strings.CutSuffix(svc, ".slice")
		if !ok1 || !ok2 {
			continue
		}
		dir := r.opts.Slice + "/" + slice.name
		unitDirs, err := listDirs(fds.fd(walk), dir, buf)
		if err != nil {
			continue // the slice went away
		}
		for _, unit := range unitDirs {
			// The instance's service unit, in its service's slice.
			n, err := names.FromUnit(unit.name)
			if err != nil || !strings.HasSuffix(unit.name, ".service") || n.Service != svc {
				continue
			}
			if u, ok := r.open.read(n, unit.ino, dir+"/"+unit.name, srcs, buf, maxOpen); ok {
				units[n] = u
			}
		}
	}
	return units, nil
}

// openUnits are the files of running units kept open between passes,
// so that a pass reads each number with one pread instead of an open, a
// read and a close. Only the Reader's pass uses them, under its lock.
type openUnits struct {
	m    map[names.Instance]*openUnit
	fds  int    // descriptors open in m
	pass uint64 // the current pass's number
}

// openUnit is one unit's files: mem, cpu and tasks, -1 where the layout
// has no source.
type openUnit struct {
	ino  uint64 // the unit's directory in the walked hierarchy: a new cgroup has a new one
	fds  [3]int
	seen uint64 // the last pass that found the unit
}

// read reads a unit's numbers (at rel below each hierarchy, its directory
// there being inode ino), from its kept files when it has them; false when
// none could be read (the unit went away).
func (o *openUnits) read(n names.Instance, ino uint64, rel string, srcs [3]*source, buf []byte, maxOpen int) (Usage, bool) {
	u := o.m[n]
	if u != nil && u.ino != ino { // stopped and started again since
		o.drop(n, u)
		u = nil
	}
	for try := 0; ; try++ {
		if u == nil && o.fds+3 <= maxOpen {
			u = o.add(n, ino, rel, srcs)
		}
		if u == nil {
			return readUsage(rel, srcs, buf) // over the budget, or not all could be opened
		}
		u.seen = o.pass
		var v [3]uint64
		var ok [3]bool
		failed := false
		for i, fd := range u.fds {
			if fd < 0 {
				continue
			}
			b, err := pread(fd, buf)
			if err != nil {
				failed = true // ENODEV: the cgroup was removed
				continue
			}
			v[i], ok[i] = srcs[i].parse(b)
		}
		if failed && try == 0 {
			o.drop(n, u)
			u = nil
			continue // open the files again, once
		}
		us := usage(srcs[1].file, v, ok)
		return us, us.MemoryOK || us.CPUOK || us.TasksOK
	}
}

// add opens a unit's files and keeps them; nil when a source the layout
// has could not be opened (the unit is going away, or is not fully set up).
func (o *openUnits) add(n names.Instance, ino uint64, rel string, srcs [3]*source) *openUnit {
	u := &openUnit{ino: ino, fds: [3]int{-1, -1, -1}}
	for i, s := range srcs {
		if s.fd < 0 {
			continue
		}
		fd, err := openat2(s.fd, rel+"/"+s.file, &how)
		if err != nil {
			u.close()
			return nil
		}
		u.fds[i] = fd
	}
	if o.m == nil {
		o.m = map[names.Instance]*openUnit{}
	}
	o.m[n] = u
	o.fds += u.open()
	return u
}

// drop closes a unit's files and forgets them.
func (o *openUnits) drop(n names.Instance, u *openUnit) {
	o.fds -= u.open()
	u.close()
	delete(o.m, n)
}

// closeUnseen drops the units the current pass did not find: stopped.
func (o *openUnits) closeUnseen() {
	for n, u := range o.m {
		if u.seen != o.pass {
			o.drop(n, u)
		}
	}
}

func (o *openUnits) closeAll() {
	for n, u := range o.m {
		o.drop(n, u)
	}
}

func (u *openUnit) open() int {
	k := 0
	for _, fd := range u.fds {
		if fd >= 0 {
			k++
		}
	}
	return k
}

func (u *openUnit) close() {
	for i, fd := range u.fds {
		if fd >= 0 {
			unix.Close(fd)
			u.fds[i] = -1
		}
	}
}

// defaultMaxOpen is an eighth of the soft limit on open files.
func defaultMaxOpen() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return -1
	}
	return int(min(rl.Cur/8, 1<<20))
}

// mountFDs are the hierarchies' mount points, open for a pass.
type mountFDs map[string]int

// openMounts opens each distinct mount point once ("" is none).
func openMounts(points ...string) (mountFDs, error) {
	fds := mountFDs{}
	for _, m := range points {
		if _, ok := fds[m]; ok || m == "" {
			continue
		}
		fd, err := unix.Open(m, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("cgroupstat: open %s: %w", m, err)
		}
		fds[m] = fd
	}
	return fds, nil
}

// fd is the descriptor of mount point m, or -1 for none.
func (fds mountFDs) fd(m string) int {
	if fd, ok := fds[m]; ok {
		return fd
	}
	return -1
}

func (fds mountFDs) close() {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// readUsage reads a unit's numbers, opening and closing each file; false
// when none could be read (the unit went away).
func readUsage(rel string, srcs [3]*source, buf []byte) (Usage, bool) {
	var v [3]uint64
	var ok [3]bool
	for i, s := range srcs {
		v[i], ok[i] = s.read(rel, buf)
	}
	u := usage(srcs[1].file, v, ok)
	return u, u.MemoryOK || u.CPUOK || u.TasksOK
}

// usage is a Usage of the numbers read for mem, cpu and tasks; CPU is in
// microseconds in cpu.stat, nanoseconds in cpuacct.usage.
func usage(cpuFile string, v [3]uint64, ok [3]bool) Usage {
	u := Usage{MemoryBytes: v[0], MemoryOK: ok[0], CPU: time.Duration(v[1]), CPUOK: ok[1], Tasks: v[2], TasksOK: ok[2]}
	if cpuFile == "cpu.stat" {
		u.CPU *= time.Microsecond
	}
	return u
}

func (s *source) read(rel string, buf []byte) (uint64, bool) {
	if s.fd < 0 {
		return 0, false
	}
	b, err := readAt(s.fd, rel+"/"+s.file, buf)
	if err != nil {
		return 0, false
	}
	return s.parse(b)
}

// pread reads a kept file again from its start.
func pread(fd int, buf []byte) ([]byte, error) {
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// readAt reads a small file below dirfd into buf.
func readAt(dirfd int, path string, buf []byte) ([]byte, error) {
	fd, err := openat2(dirfd, path, &how)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// noOpenat2 is set once openat2 is refused: a system call filter that does
// not know it (systemd 252's @system-service, in tenement.service) answers
// ENOSYS or EPERM.
var noOpenat2 atomic.Bool

func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	for !noOpenat2.Load() {
		fd, err := unix.Openat2(dirfd, path, how)
		switch err {
		case unix.EINTR, unix.EAGAIN: // EAGAIN: a rename raced the lookup
			continue
		case unix.ENOSYS, unix.EPERM:
			noOpenat2.Store(true)
		default:
			return fd, err
		}
	}
	return openBeneath(dirfd, path, int(how.Flags))
}

// openBeneath opens path below dirfd one component at a time with
// O_NOFOLLOW, as openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS would:
// no symbolic link is followed and ".." is refused.
func openBeneath(dirfd int, path string, flags int) (int, error) {
	parts := strings.Split(path, "/")
	cur := dirfd
	for i, part := range parts {
		if part == "" || part == "." || part == ".." {
			if cur != dirfd {
				unix.Close(cur)
			}
			return -1, unix.EXDEV
		}
		f := unix.O_NOFOLLOW | unix.O_CLOEXEC
		if i < len(parts)-1 {
			f |= unix.O_DIRECTORY | unix.O_RDONLY
		} else {
			f |= flags
		}
		fd, err := unix.Openat(cur, part, f, 0)
		if cur != dirfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = fd
	}
	return cur, nil
}

// dirent is a directory's entry: its name and inode.
type dirent struct {
	name string
	ino  uint64
}

// listDirs returns the directories in path below dirfd; symbolic links
// and other files are left out.
func listDirs(dirfd int, path string, buf []byte) ([]dirent, error) {
	h := how
	h.Flags |= unix.O_DIRECTORY
	fd, err := openat2(dirfd, path, &h)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []dirent
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		out = appendDirs(out, fd, buf[:n])
	}
}

// appendDirs appends the directories among the linux_dirent64 records in
// b: ino u64, off i64, reclen u16, type u8, name NUL-terminated.
func appendDirs(out []dirent, fd int, b []byte) []dirent {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		ino, typ, name := binary.NativeEndian.Uint64(b[0:8]), b[18], b[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[reclen:]
		if len(name) == 0 || name[0] == '.' {
			continue // ".", "..", and never a unit
		}
		if typ == unix.DT_UNKNOWN { // a filesystem without types in its entries
			var st unix.Stat_t
			if unix.Fstatat(fd, string(name), &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				typ = unix.DT_DIR
			}
		}
		if typ == unix.DT_DIR {
			out = append(out, dirent{string(name), ino})
		}
	}
	return out
}
