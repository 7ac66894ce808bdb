package supervisor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/tenement/tenement/names"
)

// storage_quota_mb is reported, not enforced: tenement measures each data
// dir now and then, shows the use in `ten ps`, the API and metrics
// (Info.StorageBytes), and logs a warning at 80% of the quota and an error
// at 100% (in the journal, under systemd). docs/isolation.md says why a
// hard limit is not sound here.

// Quota levels: logged when an instance's level changes.
const (
	quotaOK = iota
	quotaNear
	quotaOver
)

// quotaNearPercent is the share of the quota that earns a warning.
const quotaNearPercent = 80

// storageState is the last measured size of an instance's data dir. Its
// own mutex guards it (a scan never holds inst.mu).
type storageState struct {
	mu       sync.Mutex
	measured bool
	bytes    int64
	level    int
	// state is the instance's state at its last measurement: a data dir
	// is measured while its instance runs, and once more after each
	// change (a stop may have emptied it).
	state State
}

// used returns the last measured size, or nil before the first scan.
func (st *storageState) used() *int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.measured {
		return nil
	}
	b := st.bytes
	return &b
}

// storageEvery is how often the data dirs are measured: six health check
// intervals, between 1s and a minute (a minute with the default
// interval).
func storageEvery(healthInterval time.Duration) time.Duration {
	return min(max(6*healthInterval, time.Second), time.Minute)
}

// storageLoop measures, every storageEvery, the data dirs of the
// instances that run (or changed state since their last measurement): one
// goroutine for all of them, and an asleep instance costs one comparison.
func (s *Supervisor) storageLoop() {
	t := time.NewTicker(storageEvery(s.config().Settings.HealthCheckInterval.D()))
	defer t.Stop()
	for {
		s.measureAll()
		select {
		case <-s.life.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Supervisor) measureAll() {
	s.mu.RLock()
	all := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		all = append(all, in)
	}
	s.mu.RUnlock()
	for _, in := range all {
		if s.life.Err() != nil {
			return
		}
		in.mu.Lock()
		state, quota := in.state, int64(in.svc.StorageQuotaMB)<<20
		in.mu.Unlock()
		in.storage.mu.Lock()
		due := state == StateRunning || state == StateStarting || state != in.storage.state
		in.storage.state = state
		in.storage.mu.Unlock()
		if due {
			s.measureStorage(in, s.dataDir(in.name), quota)
		}
	}
}

// MeasureStorage measures an instance's data dir now (the disk blocks it
// takes, as du counts them: the same figure as Info.StorageBytes), and
// keeps the result.
func (s *Supervisor) MeasureStorage(n names.Instance) (int64, error) {
	in, err := s.known(n)
	if err != nil {
		return 0, err
	}
	in.mu.Lock()
	quota := int64(in.svc.StorageQuotaMB) << 20
	in.mu.Unlock()
	used, err := diskUsage(s.dataDir(n))
	if os.IsNotExist(err) {
		return 0, nil // never started: an empty data dir
	}
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", n, err)
	}
	s.recordStorage(in, s.dataDir(n), used, quota)
	return used, nil
}

// measureStorage measures dir and logs when the instance crosses a quota
// level.
func (s *Supervisor) measureStorage(in *inst, dir string, quota int64) {
	used, err := diskUsage(dir)
	if err != nil {
		s.log.Debug("measure data dir", "instance", in.name.String(), "err", err)
		return
	}
	s.recordStorage(in, dir, used, quota)
}

// recordStorage keeps a measured size and logs when the instance crosses a
// quota level.
func (s *Supervisor) recordStorage(in *inst, dir string, used, quota int64) {
	level := quotaLevel(used, quota)
	in.storage.mu.Lock()
	prev := in.storage.level
	in.storage.bytes, in.storage.measured, in.storage.level = used, true, level
	in.storage.mu.Unlock()
	if level == prev {
		return
	}
	log := s.log.With("instance", in.name.String(), "dir", dir, "used_bytes", used, "quota_bytes", quota)
	switch level {
	case quotaOver:
		log.Error("data dir is over its storage_quota_mb (reported, not enforced)")
	case quotaNear:
		log.Warn("data dir is above 80% of its storage_quota_mb")
	default:
		log.Info("data dir is back under 80% of its storage_quota_mb")
	}
}

// quotaLevel classifies used bytes against a quota (0: none).
func quotaLevel(used, quota int64) int {
	switch {
	case quota <= 0:
		return quotaOK
	case used >= quota:
		return quotaOver
	case used*100 >= quota*quotaNearPercent:
		return quotaNear
	}
	return quotaOK
}

// diskUsage returns the disk space the files under dir take, as du counts
// it: allocated blocks, each hard-linked file once, symbolic links not
// followed.
func diskUsage(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir {
				return nil // vanished or unreadable: skip it
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			total += fi.Size()
			return nil
		}
		if st.Nlink > 1 && !d.IsDir() {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += int64(st.Blocks) * 512
		return nil
	})
	return total, err
}
