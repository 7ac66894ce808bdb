package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// Stop stops an instance. It stays known and wakes on the next request,
// like an asleep one; a failed instance stays failed.
func (s *Supervisor) Stop(ctx context.Context, n names.Instance) error {
	in, err := s.known(n)
	if err != nil {
		return err
	}
	return s.stopInst(ctx, in, true, false)
}

// Restart stops and starts an instance with its current config, clearing a
// failed mark, and waits until it is ready. An asleep instance is started.
func (s *Supervisor) Restart(ctx context.Context, n names.Instance) (Info, error) {
	in, err := s.known(n)
	if err != nil {
		return Info{}, err
	}
	if err := s.stopInst(ctx, in, false, true); err != nil {
		return Info{}, err
	}
	s.obs.Restarted(n, "user")
	if err := s.update(in, func(r *store.Instance) {
		r.Failed, r.FailedReason, r.FailedAt = false, "", time.Time{}
		r.Restarts++
	}); err != nil {
		return Info{}, err
	}
	in.mu.Lock()
	if in.state == StateFailed {
		in.state, in.reason = StateAsleep, ""
	}
	in.healthRestarts = nil
	in.mu.Unlock()
	if err := s.awaitRunning(ctx, in, ""); err != nil {
		return Info{}, err
	}
	return s.Get(ctx, n)
}

// Delete stops an instance and forgets it: requests for it are 404 again.
// With purge its data dir is removed too.
func (s *Supervisor) Delete(ctx context.Context, n names.Instance, purge bool) error {
	in, err := s.known(n)
	if err != nil {
		return err
	}
	if err := s.stopInst(ctx, in, true, false); err != nil {
		return err
	}
	s.mu.Lock()
	if s.insts[n] == in {
		delete(s.insts, n)
		s.counts[n.Service]--
	}
	s.mu.Unlock()
	s.router.Set(n, 0)
	in.mu.Lock()
	in.state, in.owned = StateAsleep, false
	s.freePort(in)
	in.mu.Unlock()
	// The store deletes the instance's domains with it; the table
	// forgets them, so that no request or certificate is served for them.
	if err := s.store.DeleteInstance(n); err != nil {
		return err
	}
	s.domains.Forget(n)
	s.obs.Deleted(n)
	if purge {
		if err := os.RemoveAll(s.dataDir(n)); err != nil {
			return fmt.Errorf("purge %s: %w", n, err)
		}
	}
	return nil
}

// stopInst stops the instance's service unit, and with full its socket
// unit too (an idle stop keeps the socket listening, so the kernel queues
// the next connection, and the socket keeps the port). It waits for a stop
// already in progress. With drain, the requests in flight end first (up to
// stop_timeout) while new ones wait for the stop, and then the wake after
// it: a restart fails no request.
func (s *Supervisor) stopInst(ctx context.Context, in *inst, full, drain bool) error {
	in.mu.Lock()
	for in.state == StateStopping {
		o := in.stop
		in.mu.Unlock()
		if err := wait(ctx, o, in.name, "stop"); err != nil {
			return err
		}
		in.mu.Lock()
	}
	if !in.owned && !in.sockUp {
		s.freePort(in)
		in.mu.Unlock()
		return nil
	}
	prev := in.state
	if in.start != nil {
		in.start.cancel() // the start sees the stop and gives up
	}
	o := newOp()
	in.stop, in.state = o, StateStopping
	in.endRun()
	svc, socketUp := in.svc, in.sockUp
	in.mu.Unlock()

	if drain {
		s.drain(ctx, in, svc.StopTimeout.D())
	}
	if f := s.beforeStop.Load(); f != nil {
		(*f)(in.name) // the proxy closes WebSockets with 1001 first
	}
	err := s.sd.Stop(ctx, in.unit)
	if err == nil && (prev == StateFailed || (socketUp && !full)) {
		// A failed unit is let go; the service of a socket that stays
		// loaded gets its start counter reset, so that wakes over time do
		// not add up to systemd's start limit (only crash restarts should).
		err = s.sd.ResetFailed(ctx, in.unit)
	}
	if full && socketUp {
		if serr := s.sd.Stop(ctx, in.name.SocketUnit()); err == nil {
			err = serr
		}
	}
	if err == nil && (full || !socketUp) {
		// Let systemd collect the stopped unit before the instance counts
		// as asleep, so that the next wake can create a unit of the same
		// name at once. A unit that failed while stopping (it outlived
		// stop_timeout) stays loaded for systemctl status; the next start
		// resets it.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		werr := s.sync(wctx)
		if werr == nil {
			werr = s.waitUnloaded(wctx, in, in.unit)
		}
		if werr != nil && !errors.Is(werr, errdefs.ErrConflict) {
			s.log.Warn("stopped unit not collected", "unit", in.unit, "err", werr)
		}
		cancel()
	}
	if err == nil && !svc.Persist() {
		err = emptyDir(s.dataDir(in.name))
	}

	in.mu.Lock()
	in.stop = nil
	in.state = StateAsleep
	if prev == StateFailed {
		in.state = StateFailed
	}
	if full {
		in.sockUp = false
	}
	in.owned, in.restarting, in.throttled = in.sockUp, false, false
	if !in.owned {
		s.freePort(in)
		s.removeDropIn(in)
	}
	if in.state == StateAsleep {
		in.asleepSince = time.Now()
	}
	in.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("%w: stop %s: %w", errdefs.ErrUnavailable, in.name, err)
	}
	o.finish(err)
	return err
}

// beginRun starts what watches a running instance: its health loop and idle
// timer. The caller holds in.mu.
func (s *Supervisor) beginRun(in *inst) {
	in.gen++
	gen := in.gen
	s.spawn(func() { s.healthLoop(in, gen) })
	if idle := in.svc.IdleTimeout.D(); idle > 0 {
		in.idle = time.AfterFunc(idle, func() { s.spawn(func() { s.idleCheck(in, gen) }) })
	}
}

// endRun stops the health loop and timers of the current run. The caller
// holds in.mu.
func (in *inst) endRun() {
	in.gen++
	if in.idle != nil {
		in.idle.Stop()
		in.idle = nil
	}
	if in.pending != nil {
		in.pending.Stop()
		in.pending = nil
	}
}

// idleCheck puts an instance to sleep (or throttles it, idle_action =
// "throttle") when nothing has used it for its idle_timeout (policy.go
// says what counts); otherwise it checks again when that could first be
// true.
func (s *Supervisor) idleCheck(in *inst, gen uint64) {
	in.mu.Lock()
	if in.gen != gen || in.state != StateRunning || in.throttled {
		in.mu.Unlock()
		return
	}
	if wait := s.busyFor(in, time.Now()); wait > 0 {
		in.idle = time.AfterFunc(wait, func() { s.spawn(func() { s.idleCheck(in, gen) }) })
		in.mu.Unlock()
		return
	}
	svc := in.svc
	in.mu.Unlock()
	if svc.IdleAction == config.IdleThrottle {
		s.throttle(context.WithoutCancel(s.life), in, gen)
		return
	}
	s.log.Info("instance idle; putting it to sleep", "instance", in.name.String(), "idle_timeout", svc.IdleTimeout)
	// The socket (if any) stays: the next connection is queued by the
	// kernel and wakes the service.
	if err := s.stopInst(context.WithoutCancel(s.life), in, svc.Activation != config.ActivationSocket, false); err != nil {
		s.log.Error("idle stop failed", "instance", in.name.String(), "err", err)
		return
	}
	s.forgetUnserved(in)
}

// emptyDir removes everything inside dir, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// update changes the stored record of in, then its in-memory copy.
func (s *Supervisor) update(in *inst, f func(*store.Instance)) error {
	in.recMu.Lock()
	defer in.recMu.Unlock()
	rec, err := s.store.UpdateInstance(in.name, func(r *store.Instance) error { f(r); return nil })
	if err != nil {
		return fmt.Errorf("store %s: %w", in.name, err)
	}
	in.mu.Lock()
	in.rec = rec
	in.mu.Unlock()
	return nil
}

// drain waits until no request, stream or upgraded connection holds the
// instance (its state is stopping, so new ones wait), at most max.
func (s *Supervisor) drain(ctx context.Context, in *inst, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		in.mu.Lock()
		n := in.inflight
		in.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
