package supervisor

import (
	"context"
	"slices"
	"time"

	"github.com/tenement/tenement/cgroupstat"
	"github.com/tenement/tenement/names"
)

// ListOptions select and page the instances List returns. The zero value
// is every instance, without accounting.
type ListOptions struct {
	// Service, if set, keeps only that service's instances.
	Service string
	// State, if set, keeps only instances in that state.
	State State
	// Only, if set, keeps only the instances it accepts (a tenant's),
	// before anything else is looked at.
	Only func(names.Instance) bool
	// After starts the page after this instance (the Next of the previous
	// page).
	After names.Instance
	// Limit is the most instances returned; 0 is no limit.
	Limit int
	// Accounting fills in the memory and CPU of running instances, from
	// one pass over the cgroup files for the whole list.
	Accounting bool
	// SkipAsleep leaves out asleep instances: a scrape lists the few
	// awake ones of many registered without building an Info of each.
	SkipAsleep bool
}

// List returns the instances opts selects, ordered by service then id,
// and, when more follow (opts.Limit), the last one returned, to pass as the
// next page's After (else the zero Instance). It reads memory only: no
// call to systemd.
func (s *Supervisor) List(opts ListOptions) ([]Info, names.Instance) {
	s.mu.RLock()
	all := make([]*inst, 0, len(s.insts))
	for n, in := range s.insts {
		if opts.Service != "" && n.Service != opts.Service {
			continue
		}
		if opts.Only != nil && !opts.Only(n) {
			continue
		}
		if !opts.After.IsZero() && !opts.After.Less(n) {
			continue
		}
		all = append(all, in)
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b *inst) int {
		if a.name.Less(b.name) {
			return -1
		}
		return 1
	})
	acct := s.accounting(opts.Accounting)
	now := time.Now()
	size := len(all)
	if opts.Limit > 0 {
		size = min(size, opts.Limit)
	}
	if opts.SkipAsleep || opts.State != "" {
		size = min(size, 64) // a few of many, most likely: grow as found
	}
	out := make([]Info, 0, size)
	var next names.Instance
	for _, in := range all {
		in.mu.Lock()
		state := in.state
		if (opts.State != "" && state != opts.State) || (opts.SkipAsleep && state == StateAsleep) {
			in.mu.Unlock()
			continue
		}
		if opts.Limit > 0 && len(out) == opts.Limit {
			in.mu.Unlock()
			next = out[len(out)-1].Instance
			break
		}
		i := in.snapshot(now, s.dataDir(in.name))
		f := s.flags(in)
		in.mu.Unlock()
		i.RestartPending, i.Orphaned = f.RestartPending, f.Orphaned
		i.Domains = s.domains.Of(in.name)
		fillUsage(&i, acct)
		out = append(out, i)
	}
	return out, next
}

// StateCounts counts the known instances by state, without an Info of
// each (the metrics' tenement_instances).
func (s *Supervisor) StateCounts() map[State]int {
	out := map[State]int{}
	for _, in := range s.all() {
		in.mu.Lock()
		out[in.state]++
		in.mu.Unlock()
	}
	return out
}

// Get returns one instance's Info, with accounting.
func (s *Supervisor) Get(ctx context.Context, n names.Instance) (Info, error) {
	in, err := s.known(n)
	if err != nil {
		return Info{}, err
	}
	in.mu.Lock()
	i := in.snapshot(time.Now(), s.dataDir(in.name))
	f := s.flags(in)
	in.mu.Unlock()
	i.RestartPending, i.Orphaned = f.RestartPending, f.Orphaned
	i.Domains = s.domains.Of(n)
	fillUsage(&i, s.accounting(true))
	return i, nil
}

// accounting returns one pass over the cgroup files (the Reader caches
// it for its MaxAge), or nil when not wanted or not to be had.
func (s *Supervisor) accounting(want bool) *cgroupstat.Stats {
	if !want || s.acct == nil {
		return nil
	}
	st, err := s.acct.ReadSince(time.Unix(0, s.launched.Load()))
	if err != nil {
		s.log.Debug("read accounting", "err", err)
		return nil
	}
	return st
}

// fillUsage sets a running instance's memory and CPU from a pass.
func fillUsage(i *Info, st *cgroupstat.Stats) {
	if st == nil || (i.State != StateRunning && i.State != StateStarting) {
		return
	}
	us, ok := st.Get(i.Instance)
	if !ok {
		return
	}
	if us.MemoryOK {
		m := us.MemoryBytes
		i.MemoryBytes = &m
	}
	if us.CPUOK {
		c := uint64(us.CPU.Nanoseconds())
		i.CPUNanos = &c
	}
}
