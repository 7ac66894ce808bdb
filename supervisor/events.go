package supervisor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// The event loop: one goroutine applies systemd's events, in systemd's
// order, to the instances' view of their units (inst.svcUnit, sockUnit), and
// moves each owned instance's state to follow (apply). Every event carries
// the unit's whole state (dbusapi/signals.go says what systemd 252 sends), so
// nothing is read back per event; after a Resync (the stream's start, a
// reconnect, lost events) one Snapshot rebuilds the view.

// snapshotFields is what a Resync reads: the state the signals carry, and
// the Environment, where the daemon's marker and the port are.
const snapshotFields = dbusapi.UnitFields | dbusapi.ServiceFields | dbusapi.FieldEnvironment

// resyncRetry is the pause before a failed Snapshot is tried again.
const resyncRetry = time.Second

// failGrace is how long a failed unit may stay failed before the daemon
// takes it for final when systemd might still restart it (it does so at
// once when it does: auto-restart follows failed in the same instant).
const failGrace = 2 * time.Second

// adoptFirst waits for the stream's first event, a Resync, and applies it:
// its Snapshot is the adoption of this daemon's running units. A failed
// Snapshot is tried a few times before the daemon gives up.
func (s *Supervisor) adoptFirst(ctx context.Context, events <-chan dbusapi.Event) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-events:
			if ev.Kind != dbusapi.EventResync {
				continue // nothing known yet to apply it to
			}
		}
		break
	}
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(resyncRetry):
			}
		}
		if err = s.resync(ctx); err == nil {
			return nil
		}
		s.log.Warn("read systemd's units", "err", err)
	}
	return fmt.Errorf("supervisor: adopt running units: %w", err)
}

// loop applies events until ctx is done.
func (s *Supervisor) loop(ctx context.Context, events <-chan dbusapi.Event) error {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			if !s.handle(ctx, ev) {
				retry.Reset(resyncRetry)
			}
		case <-retry.C:
			if !s.handle(ctx, dbusapi.Event{Kind: dbusapi.EventResync}) {
				retry.Reset(resyncRetry)
			}
		case done := <-s.syncs:
			// Everything received so far is applied before the caller
			// goes on: a job's result comes after its unit's events.
			for n := len(events); n > 0; n-- {
				if !s.handle(ctx, <-events) {
					retry.Reset(resyncRetry)
				}
			}
			close(done)
		}
	}
}

// sync returns once the event loop has applied every event systemd sent
// before the call: after a start or stop job returned, the unit's view is
// then current.
func (s *Supervisor) sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case s.syncs <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.life.Done():
		return s.life.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle applies one event; false when a Resync's Snapshot failed (it is
// tried again).
func (s *Supervisor) handle(ctx context.Context, ev dbusapi.Event) bool {
	if ev.Kind == dbusapi.EventResync {
		if err := s.resync(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("resync with systemd failed; retrying", "err", err)
			}
			return false
		}
		return true
	}
	if ev.Unit.Seq.Before(s.since) {
		return true // the last Snapshot covers it
	}
	n, err := names.FromUnit(ev.Unit.Name)
	if err != nil {
		return true
	}
	in := s.lookup(n)
	if in == nil {
		return true
	}
	socket := strings.HasSuffix(ev.Unit.Name, ".socket")
	in.mu.Lock()
	if socket {
		in.sockUnit, in.sockLoaded = follow(in.sockUnit, in.sockLoaded, ev)
		in.sockUp = in.sockLoaded && in.sockUnit.ActiveState == dbusapi.Active
	} else {
		in.svcUnit, in.svcLoaded = follow(in.svcUnit, in.svcLoaded, ev)
	}
	eff := s.apply(in)
	in.notify()
	u := in.svcUnit
	in.mu.Unlock()
	s.log.Debug("unit event", "unit", ev.Unit.Name, "kind", ev.Kind.String(), "active", u.ActiveState, "sub", u.SubState,
		"result", u.Result, "nrestarts", u.NRestarts, "pid", u.MainPID)
	s.effects(in, eff)
	return true
}

// follow returns a unit's view and whether it is loaded after ev.
func follow(u dbusapi.Unit, loaded bool, ev dbusapi.Event) (dbusapi.Unit, bool) {
	switch ev.Kind {
	case dbusapi.EventNew:
		return u, true
	case dbusapi.EventChanged:
		return u.Merge(ev.Unit), true
	case dbusapi.EventRemoved:
		return dbusapi.Unit{Name: u.Name, Seq: ev.Unit.Seq}, false
	}
	return u, loaded
}

// resync rebuilds every instance's view of its units from one Snapshot,
// adopts this daemon's units of instances it does not own yet (at start:
// all of them), and lets owned instances follow what they missed.
func (s *Supervisor) resync(ctx context.Context) error {
	snap, err := s.sd.Snapshot(ctx, snapshotFields, names.UnitPattern)
	if err != nil {
		return err
	}
	s.since = snap.Seq
	svcs := map[names.Instance]dbusapi.Unit{}
	socks := map[names.Instance]dbusapi.Unit{}
	for _, u := range snap.Units {
		n, err := names.FromUnit(u.Name)
		if err != nil {
			continue
		}
		if strings.HasSuffix(u.Name, ".socket") {
			socks[n] = u
		} else if isLoaded(u.LoadState) {
			svcs[n] = u
		}
	}
	s.adoptUnknown(svcs)
	s.mu.RLock()
	all := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		all = append(all, in)
	}
	s.mu.RUnlock()
	adopted := 0
	for _, in := range all {
		svc, loaded := svcs[in.name]
		sock, hasSock := socks[in.name]
		in.mu.Lock()
		in.svcUnit, in.svcLoaded = svc, loaded
		in.sockUnit, in.sockLoaded = sock, hasSock && isLoaded(sock.LoadState)
		in.sockUp = in.sockLoaded && sock.ActiveState == dbusapi.Active
		var eff effects
		if !in.owned && loaded && s.ours(svc) {
			s.adoptState(in, svc)
			adopted++
		} else {
			eff = s.apply(in)
		}
		in.notify()
		in.mu.Unlock()
		s.effects(in, eff)
	}
	s.log.Info("in step with systemd", "units", len(snap.Units), "adopted", adopted)
	return nil
}

// isLoaded reports whether systemd holds a unit: loaded, or loaded with a
// bad setting (a unit keeps running when its configuration fails to load
// again at a daemon-reload).
func isLoaded(s dbusapi.LoadState) bool { return s != "" && s != dbusapi.NotFound }

// ours reports whether a service unit carries this daemon's marker.
func (s *Supervisor) ours(u dbusapi.Unit) bool {
	return u.Fields.Has(dbusapi.FieldEnvironment) && units.HasMarker(u.Environment, s.marker)
}

// adoptUnknown recreates the records of this daemon's units whose instance
// the store does not know (it was lost, or recovered without them).
func (s *Supervisor) adoptUnknown(svcs map[names.Instance]dbusapi.Unit) {
	for n, u := range svcs {
		if s.lookup(n) != nil || !s.ours(u) {
			continue
		}
		if s.config().Services[n.Service] == nil {
			s.log.Warn("a unit of this daemon belongs to a service no longer configured; leaving it alone", "unit", u.Name)
			continue
		}
		if _, err := s.ensure(n); err != nil {
			s.log.Warn("cannot adopt unit", "unit", u.Name, "err", err)
		}
	}
}

// effects is what apply decided that must happen outside the instance's
// lock.
type effects struct {
	restarts   int    // systemd restarted the app this many times
	failReason string // the instance failed for good
}

// effects carries out apply's decisions.
func (s *Supervisor) effects(in *inst, eff effects) {
	if eff.restarts > 0 {
		for range eff.restarts {
			s.obs.Restarted(in.name, "crash")
		}
		s.spawn(func() {
			if err := s.update(in, func(r *store.Instance) { r.Restarts += eff.restarts }); err != nil {
				s.log.Error("count restart", "instance", in.name.String(), "err", err)
			}
		})
	}
	if eff.failReason != "" {
		s.log.Error("instance failed", "instance", in.name.String(), "reason", eff.failReason)
		s.spawn(func() {
			s.markFailed(in, eff.failReason)
			s.forgetUnserved(in)
		})
	}
}

// apply moves an owned instance to follow its units' state. While a start
// or stop of the daemon's own is in progress, that operation decides the
// state (it waits on in.changed); apply only records what systemd says. The
// caller holds in.mu.
func (s *Supervisor) apply(in *inst) effects {
	var eff effects
	if !in.owned {
		return eff
	}
	u := in.svcUnit
	if u.NRestarts > in.nrestarts {
		eff.restarts = int(u.NRestarts - in.nrestarts)
		in.nrestarts = u.NRestarts
	}
	active := u.ActiveState
	if !in.svcLoaded {
		active = dbusapi.Inactive
	}
	s.followRestart(in, u, active)
	if active != dbusapi.Failed && in.pendingFail != nil {
		in.pendingFail.Stop()
		in.pendingFail = nil
	}
	switch in.state {
	case StateRunning:
		switch {
		case in.restarting || active == dbusapi.Activating:
			s.log.Warn("instance crashed; systemd is restarting it", "instance", in.name.String(), "result", u.Result)
			in.endRun()
			s.beginStart(in, false, "")
		case active == dbusapi.Failed && in.finalFail:
			eff.failReason = failedReason(in, u)
			in.endRun()
			in.state, in.reason = StateFailed, eff.failReason
		case active == dbusapi.Failed:
			s.armPendingFail(in)
		case active == dbusapi.Inactive:
			s.log.Info("instance exited", "instance", in.name.String(), "result", u.Result)
			in.endRun()
			in.state = StateAsleep
			s.released(in)
		}
	case StateAsleep:
		// Socket activation: a connection started the service.
		if in.svc.Activation == config.ActivationSocket && in.sockUp && (active == dbusapi.Activating || active == dbusapi.Active) {
			in.lastWake = time.Now()
			s.beginStart(in, false, CauseRequest)
		}
	case StateFailed:
		if active == dbusapi.Inactive {
			s.released(in)
		}
	}
	return eff
}

// followRestart follows systemd's restarts of a crashed app: a crash is
// failed then at once auto-restart; a restart runs inactive/dead then
// activating; a restart the start limit refuses runs auto-restart,
// inactive/dead and failed, keeping the crash's Result (measured on 252:
// not "start-limit-hit"). So a failed unit stays failed (finalFail) when it
// failed right after a restart that never reached activating, or when the
// unit restarts nothing. Anything else that fails without an auto-restart
// is taken for final after failGrace (armPendingFail). The caller holds
// in.mu.
func (s *Supervisor) followRestart(in *inst, u dbusapi.Unit, active dbusapi.ActiveState) {
	switch {
	case u.SubState == dbusapi.SubAutoRestart:
		in.restarting, in.restartDead = true, false
	case active == dbusapi.Inactive && in.restarting:
		in.restartDead = true
	case active == dbusapi.Activating:
		in.restartDead = false
	case active == dbusapi.Active:
		in.restarting, in.restartDead = false, false
	}
	switch {
	case active != dbusapi.Failed:
		in.finalFail = false
	case in.finalFail:
		// Still failed: systemd repeats a state in later signals.
	default:
		in.finalFail = in.restartDead || u.Result == "start-limit-hit" || in.svc.Restart == config.RestartNever || s.config().Settings.MaxRestarts == 0
	}
	if in.finalFail {
		in.restarting, in.restartDead = false, false
	}
}

func failedReason(in *inst, u dbusapi.Unit) string {
	return fmt.Sprintf("unit failed (result %s, status %d) after %d restarts by systemd; see journalctl -u %s",
		u.Result, u.ExecMainStatus, u.NRestarts, in.unit)
}

// armPendingFail takes a failed unit that systemd did not restart within
// failGrace for final. The caller holds in.mu.
func (s *Supervisor) armPendingFail(in *inst) {
	if in.pendingFail != nil {
		return
	}
	gen := in.gen
	in.pendingFail = time.AfterFunc(failGrace, func() {
		in.mu.Lock()
		in.pendingFail = nil
		if in.gen != gen || in.state != StateRunning || in.svcUnit.ActiveState != dbusapi.Failed || in.restarting {
			in.mu.Unlock()
			return
		}
		reason := failedReason(in, in.svcUnit)
		in.endRun()
		in.state, in.reason = StateFailed, reason
		in.mu.Unlock()
		s.effects(in, effects{failReason: reason})
	})
}

// released is called when the instance's service unit is gone or inactive
// outside a stop of the daemon's: the instance holds its units (and port)
// only while its socket listens. The caller holds in.mu.
func (s *Supervisor) released(in *inst) {
	in.owned = in.sockUp
	if !in.owned {
		s.freePort(in)
	}
}

// adoptState takes over a unit of this daemon found running (after a
// daemon restart or crash, or missed events), with its port. The caller
// holds in.mu.
func (s *Supervisor) adoptState(in *inst, u dbusapi.Unit) {
	in.owned, in.nrestarts = true, u.NRestarts
	in.runPrint, _ = units.EnvValue(u.Environment, units.ConfigPrintVar)
	if p := envPort(u.Environment); p > 0 {
		in.port = p
		s.ports.take(p, in.name)
	}
	switch u.ActiveState {
	case dbusapi.Active, dbusapi.Reloading:
		if in.state == StateFailed {
			return // failed stays failed until a user restarts it
		}
		now := time.Now()
		in.state, in.health = StateRunning, HealthUnknown
		in.since, in.lastActive = u.ActiveEnter, now
		if in.since.IsZero() {
			in.since = now
		}
		s.beginRun(in)
	case dbusapi.Activating:
		in.restarting = u.SubState == dbusapi.SubAutoRestart
		s.beginStart(in, false, "")
	case dbusapi.Failed:
		in.state = StateFailed
		if in.reason == "" {
			in.reason = fmt.Sprintf("unit failed (result %s, status %d)", u.Result, u.ExecMainStatus)
		}
	case dbusapi.Deactivating:
		// Let it finish; the next start waits for it to unload.
		in.state = StateAsleep
	default:
		s.released(in)
	}
}
