package supervisor

import (
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"time"
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
	watching bool
	measured bool
	bytes    int64
	level    int
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

// storageEvery is how often a running instance's data dir is measured:
// six health check intervals, between 1s and a minute (a minute with the
// default interval).
func storageEvery(healthInterval time.Duration) time.Duration {
	return min(max(6*healthInterval, time.Second), time.Minute)
}

// watchStorage starts measuring the instance's data dir, once per
// instance: at once, then every storageEvery while it runs, until it is
// deleted or the supervisor stops.
func (s *Supervisor) watchStorage(in *inst, dir string) {
	in.storage.mu.Lock()
	defer in.storage.mu.Unlock()
	if in.storage.watching {
		return
	}
	in.storage.watching = true
	go s.storageLoop(in, dir)
}

func (s *Supervisor) storageLoop(in *inst, dir string) {
	defer func() {
		in.storage.mu.Lock()
		in.storage.watching = false
		in.storage.mu.Unlock()
	}()
	t := time.NewTicker(storageEvery(s.cfg.Settings.HealthCheckInterval.D()))
	defer t.Stop()
	var last State // "" until the first measurement
	for {
		if s.lookup(in.name) != in {
			return // deleted
		}
		in.mu.Lock()
		state, quota := in.state, int64(in.svc.StorageQuotaMB)<<20
		in.mu.Unlock()
		// Not running, nothing writes: after one measurement (a stop
		// may have emptied the dir) the last size stands.
		if state != last || state == StateRunning || state == StateStarting {
			s.measureStorage(in, dir, quota)
			last = state
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measureStorage measures dir and logs when the instance crosses a quota
// level.
func (s *Supervisor) measureStorage(in *inst, dir string, quota int64) {
	used, err := diskUsage(dir)
	if err != nil {
		s.log.Debug("measure data dir", "instance", in.name.String(), "err", err)
		return
	}
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
