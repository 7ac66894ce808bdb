package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// Cause is why an instance wakes, for the wake metrics: a request (or a
// connection to its socket), a spawn, a deploy, a keep-awake schedule. ""
// is no wake: systemd restarting a crashed app, a user's restart.
type Cause string

// The causes of a wake.
const (
	CauseRequest  Cause = "request"
	CauseSpawn    Cause = "spawn"
	CauseDeploy   Cause = "deploy"
	CauseSchedule Cause = "schedule"
)

// Spawn starts an instance, creating it when its service is configured, and
// waits until it is ready (startup_timeout). Spawning a running instance
// returns at once. A failed instance is not started: `ten restart` is the
// way back from failed.
func (s *Supervisor) Spawn(ctx context.Context, n names.Instance) (Info, error) {
	return s.SpawnFor(ctx, n, CauseSpawn)
}

// SpawnFor is Spawn, counting a wake as cause.
func (s *Supervisor) SpawnFor(ctx context.Context, n names.Instance, cause Cause) (Info, error) {
	in, err := s.ensure(n)
	if err != nil {
		return Info{}, err
	}
	if err := s.awaitRunning(ctx, in, cause); err != nil {
		return Info{}, err
	}
	return s.Get(ctx, n)
}

// awaitRunning waits until in is running, starting it once if it is asleep
// (every concurrent caller shares that one start, counted as a wake of
// cause). A failed instance is an ErrUnavailable error.
func (s *Supervisor) awaitRunning(ctx context.Context, in *inst, cause Cause) error {
	for {
		in.mu.Lock()
		switch in.state {
		case StateRunning:
			in.mu.Unlock()
			return nil
		case StateFailed:
			reason := in.reason
			in.mu.Unlock()
			hint := "; `ten restart " + in.name.String() + "` starts it again"
			if cause == CauseRequest {
				hint = ""
			}
			return fmt.Errorf("%w: %s has failed: %s%s", errdefs.ErrUnavailable, in.name, reason, hint)
		case StateStopping:
			o := in.stop
			in.mu.Unlock()
			if err := wait(ctx, o, in.name, "stop"); err != nil {
				return err
			}
			continue
		case StateAsleep:
			if in.orphaned {
				in.mu.Unlock()
				return fmt.Errorf("%w: %s: service %q is no longer configured (the instance is orphaned: ten delete it)", errdefs.ErrNotFound, in.name, in.name.Service)
			}
			if in.fenced {
				in.mu.Unlock()
				return errFenced(in.name)
			}
			s.beginStart(in, true, cause)
		}
		o := in.start // starting: a start is always in progress
		in.mu.Unlock()
		if o == nil {
			return fmt.Errorf("%w: %s is %s with nothing to wait for", errdefs.ErrUnavailable, in.name, in.state)
		}
		if err := wait(ctx, o, in.name, "start"); err != nil {
			return err
		}
		if o.err != nil {
			return o.err
		}
	}
}

// wait waits for an operation, or for ctx.
func wait(ctx context.Context, o *op, n names.Instance, what string) error {
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s: %s not finished in time", errdefs.ErrUnavailable, n, what)
		}
		return ctx.Err()
	}
}

// beginStart moves in to starting and runs the start in the background,
// bounded by startup_timeout and not by any one caller. With launch false
// systemd is already (re)starting the unit and only readiness is awaited.
// A cause makes it a wake, which the observer counts. The caller holds
// in.mu.
func (s *Supervisor) beginStart(in *inst, launch bool, cause Cause) {
	o := newOp()
	ctx, cancel := context.WithTimeout(s.life, in.svc.StartupTimeout.D())
	o.cancel = cancel
	if cause != "" && !in.asleepSince.IsZero() {
		s.obs.Slept(in.name, time.Since(in.asleepSince))
		in.asleepSince = time.Time{}
	}
	in.start = o
	in.state = StateStarting
	in.health = HealthUnknown
	in.fails = 0
	s.spawn(func() { s.runStart(ctx, in, o, launch, cause) })
}

func (s *Supervisor) runStart(ctx context.Context, in *inst, o *op, launch bool, cause Cause) {
	t0 := time.Now()
	var err error
	if launch {
		err = s.launch(ctx, in)
	}
	if err == nil {
		err = s.waitReady(ctx, in)
	}
	o.cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		err = &startError{fmt.Sprintf("%s not ready within startup_timeout %s; see journalctl -u %s",
			in.name, in.svc.StartupTimeout, in.unit)}
	}

	in.mu.Lock()
	in.start = nil
	var cleanup bool
	switch {
	case in.state != StateStarting:
		// A stop (or delete) took over; it owns the unit now. What the
		// start saw of it (a canceled job, a unit gone) is its doing.
		err = fmt.Errorf("%w: %s was stopped while starting", errdefs.ErrUnavailable, in.name)
	case err == nil:
		now := time.Now()
		in.state, in.health, in.reason = StateRunning, HealthUnknown, ""
		if in.svc.Ready == config.ReadyHealth {
			in.health = HealthHealthy
		}
		in.since, in.lastActive, in.lastWake = now, now, now
		s.launched.Store(now.UnixNano())
		s.beginRun(in)
	case in.svcUnit.ActiveState == dbusapi.Failed && in.svcLoaded:
		in.state, in.reason = StateFailed, err.Error()
	default:
		in.state, in.reason = StateAsleep, err.Error()
		cleanup = in.owned
		if !cleanup {
			s.freePort(in)
		}
	}
	failed := in.state == StateFailed
	in.mu.Unlock()
	if cleanup {
		// Do not leave a half-started unit behind; waiters learn the
		// outcome once it is gone.
		if serr := s.stopInst(context.WithoutCancel(s.life), in, false, false); serr != nil {
			s.log.Error("stop after failed start", "instance", in.name.String(), "err", serr)
		}
	}
	if failed {
		s.markFailed(in, err.Error())
	}
	took := time.Since(t0)
	if cause != "" {
		// Before the waiters learn the outcome: whoever caused the wake
		// finds it counted.
		s.obs.Woke(in.name, cause, took, err)
	}
	o.finish(err)
	if err != nil {
		s.log.Warn("instance did not start", "instance", in.name.String(), "err", err)
		s.forgetUnserved(in)
	} else {
		s.log.Info("instance ready", "instance", in.name.String(), "took", took.Round(time.Microsecond))
	}
}

// launch creates the instance's units and starts them; it returns once the
// event loop has seen the start job's events, so that readiness reads a
// current view of the unit.
func (s *Supervisor) launch(ctx context.Context, in *inst) error {
	in.mu.Lock()
	svc, socketUp := in.svc, in.sockUp
	in.mu.Unlock()
	socket := svc.Activation == config.ActivationSocket

	if socket && socketUp {
		// The socket listens already (and holds the port); start the
		// service now.
		if err := s.clearUnit(ctx, in, in.unit, true); err != nil {
			return err
		}
		s.claim(in)
		return s.synced(ctx, s.sd.Start(ctx, in.unit))
	}
	if socket {
		for _, unit := range []string{in.unit, in.name.SocketUnit()} {
			if err := s.clearUnit(ctx, in, unit, false); err != nil {
				return err
			}
		}
	}
	port, err := s.takePort(in)
	if err != nil {
		return err
	}
	fp := s.cfg.Load().prints[in.name.Service]
	u, err := s.render(in, svc, port, fp)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.runPrint = fp
	in.mu.Unlock()
	if err := s.prepareDataDir(in, u.DataDir, svc); err != nil {
		return err
	}
	if err := s.writeDropIn(u); err != nil {
		return err
	}
	if !socket {
		return s.synced(ctx, s.startService(ctx, in, u))
	}
	s.claim(in)
	if err := s.sd.StartTransient(ctx, u.SocketName, u.Socket, dbusapi.Aux{Name: u.ServiceName, Properties: u.Service}); err != nil {
		return err
	}
	return s.synced(ctx, s.sd.Start(ctx, in.unit))
}

// synced returns err, after the event loop has applied what systemd sent
// for the job that just ended.
func (s *Supervisor) synced(ctx context.Context, err error) error {
	if serr := s.sync(ctx); err == nil {
		err = serr
	}
	return err
}

// takePort gives the instance a port for this run: the one it had last
// when that is free.
func (s *Supervisor) takePort(in *inst) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.port > 0 {
		return in.port, nil
	}
	port, err := s.ports.allocate(in.name, in.lastPort)
	if err != nil {
		return 0, err
	}
	in.port = port
	return port, nil
}

// claim marks the instance's unit as this daemon's, about to be started.
func (s *Supervisor) claim(in *inst) {
	in.mu.Lock()
	in.owned, in.nrestarts, in.restarting = true, 0, false
	in.mu.Unlock()
}

// startService starts the transient service unit at once: asking systemd
// first whether an old unit of the name is still there costs a round trip
// (systemd searches its unit paths for a unit that does not exist) on
// every wake. Only when systemd answers that the name is taken is the old
// unit cleared (waited for, reset, or refused when it is another daemon's),
// and the start tried once more.
func (s *Supervisor) startService(ctx context.Context, in *inst, u units.Units) error {
	s.claim(in)
	err := s.sd.StartTransient(ctx, u.ServiceName, u.Service)
	if !errors.Is(err, errdefs.ErrConflict) {
		return err
	}
	in.mu.Lock()
	in.owned = false // until it is known whose unit stands there
	in.mu.Unlock()
	if err := s.clearUnit(ctx, in, u.ServiceName, false); err != nil {
		return err
	}
	s.claim(in)
	return s.sd.StartTransient(ctx, u.ServiceName, u.Service)
}

// clearUnit makes sure no old unit stands in the way of a new one of the
// same name: it waits for a stopping unit, resets a failed one, and refuses
// to touch a unit of another daemon. keepLoaded accepts an inactive but
// loaded unit (the service of a listening socket). It reads the unit from
// systemd: it runs only when a start found the name taken, or for socket
// activation.
func (s *Supervisor) clearUnit(ctx context.Context, in *inst, unit string, keepLoaded bool) error {
	st, err := s.sd.State(ctx, unit)
	if err != nil {
		return err
	}
	if !st.Loaded() {
		return nil
	}
	if strings.HasSuffix(unit, ".service") && !units.HasMarker(st.Environment, s.marker) {
		return fmt.Errorf("%w: %s exists and belongs to another tenement daemon (%s)",
			errdefs.ErrConflict, unit, units.MarkerOf(st.Environment))
	}
	switch dbusapi.ActiveState(st.ActiveState) {
	case dbusapi.Active, dbusapi.Activating, dbusapi.Reloading:
		if keepLoaded {
			return nil
		}
		return fmt.Errorf("%w: %s is already %s", errdefs.ErrConflict, unit, st.ActiveState)
	case dbusapi.Failed:
		if err := s.sd.ResetFailed(ctx, unit); err != nil {
			return err
		}
	}
	if keepLoaded && dbusapi.ActiveState(st.ActiveState) != dbusapi.Deactivating {
		return nil
	}
	if err := s.sync(ctx); err != nil {
		return err
	}
	return s.waitUnloaded(ctx, in, unit)
}

// waitUnloaded waits until systemd let go of one of the instance's units
// (a stopped transient unit is collected shortly after its stop job; only
// then can a new unit of its name start), as the event loop reports it:
// no polling. A failed unit stays loaded (so that systemctl status shows
// the failure) until reset: that is an ErrConflict error at once.
func (s *Supervisor) waitUnloaded(ctx context.Context, in *inst, unit string) error {
	for {
		in.mu.Lock()
		loaded, u := in.svcLoaded, in.svcUnit
		if unit != in.unit {
			loaded, u = in.sockLoaded, in.sockUnit
		}
		ch := in.changed
		in.mu.Unlock()
		switch {
		case !loaded:
			return nil
		case u.ActiveState == dbusapi.Failed:
			return fmt.Errorf("%w: %s failed and stays loaded until reset-failed", errdefs.ErrConflict, unit)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for %s to unload (%s/%s): %w", errdefs.ErrTimeout, unit, u.ActiveState, u.SubState, ctx.Err())
		}
	}
}

// render resolves the command and renders the units.
func (s *Supervisor) render(in *inst, svc *config.Service, port int, fp string) (units.Units, error) {
	argv, err := svc.Argv(svc.InstanceVars(in.name.Service, in.name.ID, s.config().Settings.DataDir, port))
	if err != nil {
		return units.Units{}, fmt.Errorf("%w: %s: %w", errdefs.ErrInvalid, in.name, err)
	}
	if argv[0], err = config.ResolveProgram(argv[0], s.config().Path); err != nil {
		return units.Units{}, fmt.Errorf("%s: %w", in.name, err)
	}
	creds, err := credentials(s.config().Settings.CredentialsDir, in.name, s.log)
	if err != nil {
		return units.Units{}, err
	}
	return units.Render(units.Spec{
		Instance: in.name, Service: svc, Settings: &s.config().Settings, Port: port,
		Argv: argv, Marker: s.marker, Wrapper: s.wrapper,
		ConfigPath: s.config().Path, Credentials: creds, ConfigPrint: fp,
	})
}

// waitReady waits until the instance is ready by its service's readiness
// rule. It gives up when the unit fails or exits. It probes every
// millisecond for the first second (an app is usually up within a few ms
// of systemd's job result; gVisor takes ~200 ms), then backs off to every
// 10ms.
func (s *Supervisor) waitReady(ctx context.Context, in *inst) error {
	in.mu.Lock()
	svc, port := in.svc, in.port
	in.mu.Unlock()
	if port == 0 { // systemd restarts an adopted unit whose port is unknown
		return &startError{fmt.Sprintf("%s has no port; see journalctl -u %s", in.name, in.unit)}
	}
	address := addr(port)
	start := time.Now()
	delay := time.Millisecond
	for {
		if err := s.unitTrouble(in); err != nil {
			return err
		}
		if s.ready(ctx, in, svc, address) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if time.Since(start) > time.Second && delay < 10*time.Millisecond {
			delay += delay / 4
		}
	}
}

// ready probes readiness once.
func (s *Supervisor) ready(ctx context.Context, in *inst, svc *config.Service, address string) bool {
	in.mu.Lock()
	active := in.svcUnit.ActiveState
	in.mu.Unlock()
	if svc.Ready == config.ReadyNotify {
		// The start job finishes only after READY=1; after a crash
		// restart, systemd reports "active" once READY=1 arrives.
		return active == dbusapi.Active
	}
	if active == dbusapi.Failed || active == dbusapi.Inactive || active == dbusapi.Deactivating {
		return false
	}
	if svc.Activation == config.ActivationSocket && svc.Ready == config.ReadyTCP {
		// A connect through systemd's listening socket always succeeds
		// and proves nothing; the unit's own state says it started.
		return active == dbusapi.Active
	}
	c, err := net.DialTimeout("tcp", address, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	if svc.Ready == config.ReadyTCP {
		return true
	}
	return checkHTTP(ctx, address, svc.Health, time.Second) == nil
}

// unitTrouble returns an error when the unit has failed for good or
// exited, naming systemd's result. The view is current: launch synced with
// the event loop, and later changes arrive as events.
func (s *Supervisor) unitTrouble(in *inst) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state != StateStarting {
		return fmt.Errorf("%w: %s is %s", errdefs.ErrUnavailable, in.name, in.state)
	}
	u := in.svcUnit
	active := u.ActiveState
	if !in.svcLoaded {
		active = dbusapi.Inactive
	}
	switch {
	case active == dbusapi.Failed && in.finalFail:
	case active == dbusapi.Inactive && !in.restarting:
	default:
		return nil
	}
	return &startError{fmt.Sprintf("%s %s (result %s, status %d); see journalctl -u %s",
		in.unit, active, u.Result, u.ExecMainStatus, in.unit)}
}

// startError is why a start failed; it reads well as an instance's reason
// and is of kind ErrUnavailable.
type startError struct{ msg string }

func (e *startError) Error() string { return e.msg }
func (e *startError) Unwrap() error { return errdefs.ErrUnavailable }
