package supervisor

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// The wake and sleep policy of a service (config's policy.go): what keeps
// an instance awake, keep-awake windows and per-instance keep-awake,
// throttling instead of stopping, and the streams that go quiet.

// busyFor returns how long the instance cannot be idle yet from now (0:
// it is idle now). A request in flight keeps it busy; a stream does while
// bytes flowed within stream_idle_timeout (without one, while it is open),
// and its bytes count as activity; so do a keep-awake window of its
// service and a keep-awake of its own. Probes (passive leases) are in
// flight but no activity. The caller holds in.mu.
func (s *Supervisor) busyFor(in *inst, now time.Time) time.Duration {
	idle := in.svc.IdleTimeout.D()
	if in.inflight > 0 {
		return idle
	}
	last := in.lastActive
	quiet := in.svc.StreamIdleTimeout.D()
	wait := time.Duration(0)
	for ref := range in.streams {
		t := time.Unix(0, ref.last.Load())
		if quiet == 0 {
			return idle // an open stream keeps it awake
		}
		if rest := quiet - now.Sub(t); rest > 0 {
			wait = max(wait, rest)
		}
		if t.After(last) {
			last = t
		}
	}
	if now.Before(in.keepUntil) {
		wait = max(wait, in.keepUntil.Sub(now))
	}
	if ok, until := in.svc.KeepAwakeAt(now); ok {
		wait = max(wait, until.Sub(now))
	}
	return max(wait, idle-now.Sub(last))
}

// KeepAwake keeps an instance from going to sleep until until (its own
// tenant may ask: an app with background work keeps itself awake); a zero
// or past time ends it. It does not wake an asleep instance. It survives
// daemon restarts.
func (s *Supervisor) KeepAwake(n names.Instance, until time.Time) error {
	in, err := s.known(n)
	if err != nil {
		return err
	}
	if until.After(time.Now().Add(maxKeepAwake)) {
		return fmt.Errorf("%w: keep-awake for more than %s", errdefs.ErrInvalid, maxKeepAwake)
	}
	until = until.UTC()
	if err := s.update(in, func(r *store.Instance) { r.KeepAwakeUntil = until }); err != nil {
		return err
	}
	in.mu.Lock()
	in.keepUntil = until
	in.mu.Unlock()
	return nil
}

// maxKeepAwake bounds one keep-awake: a tenant's token must not pin an
// instance awake forever.
const maxKeepAwake = 7 * 24 * time.Hour

// throttle lowers an idle instance's CPU and memory instead of stopping it
// (idle_action = "throttle"), at runtime only: the next request restores
// them (unthrottle), with no cold start.
func (s *Supervisor) throttle(ctx context.Context, in *inst, gen uint64) {
	in.mu.Lock()
	if in.gen != gen || in.state != StateRunning || in.throttled {
		in.mu.Unlock()
		return
	}
	svc := in.svc
	in.throttled = true
	in.mu.Unlock()
	props := []units.Property{
		{Name: "CPUWeight", Value: uint64(1)},
		{Name: "CPUQuotaPerSecUSec", Value: uint64(svc.ThrottleCPUPercent) * 10000},
	}
	if svc.ThrottleMemoryHighMB > 0 {
		props = append(props, units.Property{Name: "MemoryHigh", Value: uint64(svc.ThrottleMemoryHighMB) << 20})
	}
	if err := s.sd.SetProperties(ctx, in.unit, props); err != nil {
		s.log.Error("throttle idle instance", "instance", in.name.String(), "err", err)
		in.mu.Lock()
		in.throttled = false
		in.mu.Unlock()
		return
	}
	s.log.Info("instance idle; throttled", "instance", in.name.String(), "cpu_percent", svc.ThrottleCPUPercent)
}

// unthrottle restores a throttled instance's CPU and memory, and starts
// its idle timer again.
func (s *Supervisor) unthrottle(ctx context.Context, in *inst) {
	in.mu.Lock()
	if !in.throttled {
		in.mu.Unlock()
		return
	}
	in.throttled = false
	svc, gen := in.svc, in.gen
	if idle := svc.IdleTimeout.D(); idle > 0 && in.state == StateRunning {
		in.idle = time.AfterFunc(idle, func() { s.spawn(func() { s.idleCheck(in, gen) }) })
	}
	in.mu.Unlock()
	props := []units.Property{
		{Name: "CPUWeight", Value: uint64(svc.CPUShares)},
		{Name: "CPUQuotaPerSecUSec", Value: uint64(math.MaxUint64)}, // no quota
	}
	if svc.ThrottleMemoryHighMB > 0 {
		props = append(props, units.Property{Name: "MemoryHigh", Value: uint64(math.MaxUint64)})
	}
	if err := s.sd.SetProperties(context.WithoutCancel(ctx), in.unit, props); err != nil {
		s.log.Error("lift throttle", "instance", in.name.String(), "err", err)
	}
}

// SetBeforeStop sets what runs before any instance's unit is stopped (the
// proxy closes its open WebSockets with a 1001 close frame).
func (s *Supervisor) SetBeforeStop(f func(names.Instance)) { s.beforeStop.Store(&f) }

// scheduleLoop wakes the instances of services with keep_awake_wake at
// the start of each of their keep_awake windows.
func (s *Supervisor) scheduleLoop() {
	for {
		next, svcs := s.nextWindow(time.Now())
		wait := time.Until(next)
		if next.IsZero() {
			wait = 24 * time.Hour // nothing to wake; a reload reschedules
		}
		t := time.NewTimer(wait)
		select {
		case <-s.life.Done():
			t.Stop()
			return
		case <-s.rescheduled:
			t.Stop()
			continue
		case <-t.C:
		}
		if next.IsZero() {
			continue
		}
		for _, svc := range svcs {
			s.wakeService(svc)
		}
	}
}

// nextWindow returns the next start of a keep_awake window of a service
// with keep_awake_wake, and the services whose window starts then.
func (s *Supervisor) nextWindow(now time.Time) (time.Time, []string) {
	var next time.Time
	var svcs []string
	for name, svc := range s.config().Services {
		if !svc.KeepAwakeWake {
			continue
		}
		t := svc.NextKeepAwake(now)
		switch {
		case t.IsZero():
		case next.IsZero() || t.Before(next):
			next, svcs = t, []string{name}
		case t.Equal(next):
			svcs = append(svcs, name)
		}
	}
	return next, svcs
}

// wakeService wakes every registered instance of a service, a few at a
// time (a window's start may wake thousands).
func (s *Supervisor) wakeService(service string) {
	list, _ := s.List(ListOptions{Service: service, State: StateAsleep})
	s.log.Info("keep-awake window: waking the service's instances", "service", service, "count", len(list))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, i := range list {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			svc := s.ServiceConfig(service)
			if svc == nil {
				return
			}
			ctx, cancel := context.WithTimeout(s.life, svc.StartupTimeout.D())
			defer cancel()
			if _, err := s.SpawnFor(ctx, i.Instance, CauseSchedule); err != nil && s.life.Err() == nil {
				s.log.Warn("keep-awake window: wake failed", "instance", i.Instance.String(), "err", err)
			}
		})
	}
	wg.Wait()
}
