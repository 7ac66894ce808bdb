// Package cgroupstat reads the memory, CPU and task counts of every
// tenement instance unit in one pass over the cgroup filesystem, with no
// D-Bus call: asking systemd costs a call per unit (MemoryCurrent,
// CPUUsageNSec and TasksCurrent are never in its signals), and systemd
// reads the same files to answer.
//
// Units live at <hierarchy>/tenement.slice/tenement-<service>.slice/
// tenement@<service>-<id>.service. Where each number comes from depends
// on the layout, found in /proc/self/mountinfo:
//
//   - unified (cgroup v2 only, Debian 12): memory.current, cpu.stat's
//     usage_usec and pids.current of the unit's directory;
//   - hybrid (v1 controllers plus a cgroup2 hierarchy with none, as in the
//     test managers): memory.usage_in_bytes of the v1 memory hierarchy
//     (what systemd 252 reports as MemoryCurrent there: measured equal),
//     pids.current of the v1 pids hierarchy, and CPU from cpu.stat of the
//     cgroup2 hierarchy: the kernel keeps usage_usec for every cgroup2
//     cgroup, controllers or not, although systemd reports no
//     CPUUsageNSec in hybrid mode (it wants a cpuacct cgroup, and the test
//     manager's units get none even with CPUAccounting=yes);
//   - without a cgroup2 hierarchy, CPU comes from v1 cpuacct.usage when
//     the unit has a cpuacct cgroup.
//
// A number with no source is absent, not zero. A pass costs one directory
// listing per service slice and one read per number and running unit;
// units that appear or vanish during it are simply in it or not. The
// files of a running unit are opened at the first pass that finds it and
// kept open while it runs (an open costs twice the read: the path walk of
// four directories, then the close), up to an eighth of the process's
// file limit (Options.MaxOpen); a unit whose cgroup is new since (its
// directory's inode changed, or a read fails: the kernel answers ENODEV
// for a file of a removed cgroup) has its files opened again. No symbolic
// link is followed (openat2 with RESOLVE_NO_SYMLINKS).
package cgroupstat

import (
	"iter"
	"os"
	"sync"
	"time"

	"github.com/tenement/tenement/names"
)

// Usage is what one unit uses. A field whose OK is false had no source.
type Usage struct {
	MemoryBytes uint64
	MemoryOK    bool
	CPU         time.Duration // CPU time of the unit's current run
	CPUOK       bool
	Tasks       uint64
	TasksOK     bool
}

// Stats is the result of one pass. It is shared by the Read calls that
// return it: read-only.
type Stats struct {
	At    time.Time // when the pass started
	units map[names.Instance]Usage
}

// Get returns the usage of an instance's unit; false when it has no
// cgroup (it is not running) or none of its numbers could be read.
func (s *Stats) Get(n names.Instance) (Usage, bool) {
	u, ok := s.units[n]
	return u, ok
}

// Len is the number of units in the pass.
func (s *Stats) Len() int { return len(s.units) }

// All iterates over the units of the pass, in no particular order.
func (s *Stats) All() iter.Seq2[names.Instance, Usage] {
	return func(yield func(names.Instance, Usage) bool) {
		for n, u := range s.units {
			if !yield(n, u) {
				return
			}
		}
	}
}

// Options configure New.
type Options struct {
	// MaxAge is how old a pass Read may return instead of making a new
	// one. Default 1s; the daemon uses its metrics scrape interval.
	MaxAge time.Duration
	// Slice is the slice under which instance units run. Default
	// names.RootSlice ("tenement.slice").
	Slice string
	// MaxOpen is how many file descriptors the Reader may keep open
	// between passes (three per running unit at most). Default: an eighth
	// of the soft RLIMIT_NOFILE at New; negative: none, every pass opens
	// every file.
	MaxOpen int
	// Mountinfo is the file the cgroup mounts are read from, at New.
	// Default "/proc/self/mountinfo"; tests give a fake tree's.
	Mountinfo string
	// now is time.Now; tests replace it.
	now func() time.Time
}

// Reader reads Stats, caching the last pass for MaxAge. It is safe for
// concurrent use; concurrent Reads of a stale cache make one pass.
type Reader struct {
	opts Options
	h    hierarchies

	mu   sync.Mutex
	last *Stats
	open openUnits // the files kept open, by unit; see pass
}

// New finds the cgroup hierarchies. It fails when the mountinfo file
// cannot be read; a layout without the hierarchies for some number only
// leaves that number absent.
func New(opts Options) (*Reader, error) {
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Second
	}
	if opts.Slice == "" {
		opts.Slice = names.RootSlice
	}
	if opts.Mountinfo == "" {
		opts.Mountinfo = "/proc/self/mountinfo"
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.MaxOpen == 0 {
		opts.MaxOpen = defaultMaxOpen()
	}
	f, err := os.Open(opts.Mountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := parseMountinfo(f)
	if err != nil {
		return nil, err
	}
	return &Reader{opts: opts, h: h}, nil
}

// Read returns the usage of every instance unit, from a pass at most
// MaxAge old.
func (r *Reader) Read() (*Stats, error) { return r.ReadSince(time.Time{}) }

// ReadSince is Read from a pass that also began after since (a unit that
// started after a cached pass began is not in it).
func (r *Reader) ReadSince(since time.Time) (*Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.now()
	if r.last != nil && now.Sub(r.last.At) < r.opts.MaxAge && r.last.At.After(since) {
		return r.last, nil
	}
	hint := 0
	if r.last != nil {
		hint = r.last.Len() + r.last.Len()/8
	}
	units, err := r.pass(hint, r.opts.MaxOpen)
	if err != nil {
		return nil, err
	}
	r.last = &Stats{At: now, units: units}
	return r.last, nil
}

// Close closes the files kept open. Later passes open and close every
// file, as with a negative MaxOpen.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open.closeAll()
	r.opts.MaxOpen = -1
}
