package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// Spawn starts an instance, creating it when its service is configured, and
// waits until it is ready (startup_timeout). Spawning a running instance
// returns at once. A failed instance is not started: `ten restart` is the
// way back from failed.
func (s *Supervisor) Spawn(ctx context.Context, n names.Instance) (Info, error) {
	in, err := s.ensure(n)
	if err != nil {
		return Info{}, err
	}
	if err := s.awaitRunning(ctx, in, false); err != nil {
		return Info{}, err
	}
	return s.Get(ctx, n)
}

// awaitRunning waits until in is running, starting it once if it is asleep
// (every concurrent caller shares that one start). A failed instance is an
// ErrUnavailable error; wake marks a request-driven wait for the error text.
func (s *Supervisor) awaitRunning(ctx context.Context, in *inst, wake bool) error {
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
			if wake {
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
			s.beginStart(in, true, wake)
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
// wake marks a start caused by a request (or a connection to the socket),
// which the observer counts as a wake. The caller holds in.mu.
func (s *Supervisor) beginStart(in *inst, launch, wake bool) {
	o := newOp()
	ctx, cancel := context.WithTimeout(s.ctx, in.svc.StartupTimeout.D())
	o.cancel = cancel
	in.start = o
	in.state = StateStarting
	in.health = HealthUnknown
	in.fails = 0
	// While the daemon launches the unit or waits for a wake, signals are
	// taken at their word (see handle); crash restarts read them in full
	// to count systemd's restarts.
	in.launching = launch || wake
	go s.runStart(ctx, in, o, launch, wake)
}

func (s *Supervisor) runStart(ctx context.Context, in *inst, o *op, launch, wake bool) {
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
	in.start, in.launching = nil, false
	var cleanup bool
	switch {
	case in.state != StateStarting:
		// A stop (or delete) took over; it owns the unit now.
		if err == nil {
			err = fmt.Errorf("%w: %s was stopped while starting", errdefs.ErrUnavailable, in.name)
		}
	case err == nil:
		now := time.Now()
		in.state, in.health, in.reason = StateRunning, HealthUnknown, ""
		if in.svc.Ready == config.ReadyHealth {
			in.health = HealthHealthy
		}
		in.since, in.lastActive, in.lastWake = now, now, now
		s.beginRun(in)
	case in.sdActive == "failed":
		in.state, in.reason = StateFailed, err.Error()
	default:
		in.state, in.reason = StateAsleep, err.Error()
		cleanup = in.owned
	}
	failed := in.state == StateFailed
	in.mu.Unlock()
	if cleanup {
		// Do not leave a half-started unit behind; waiters learn the
		// outcome once it is gone.
		if serr := s.stopInst(context.WithoutCancel(s.ctx), in, false); serr != nil {
			s.log.Error("stop after failed start", "instance", in.name.String(), "err", serr)
		}
	}
	if failed {
		s.markFailed(in, err.Error())
	}
	o.finish(err)
	if err != nil {
		s.forgetLater(in)
	}

	if err != nil {
		s.log.Warn("instance did not start", "instance", in.name.String(), "err", err)
	} else {
		s.log.Info("instance ready", "instance", in.name.String(), "took", time.Since(t0).Round(time.Microsecond))
		if launch || wake {
			// Signals during the start were taken at their word;
			// read the unit once now (MainPID, NRestarts).
			s.refresh(s.ctx, in)
		}
	}
	if wake {
		s.obs.Woke(in.name, time.Since(t0), err)
	}
}

// launch creates the instance's units and starts them.
func (s *Supervisor) launch(ctx context.Context, in *inst) error {
	in.mu.Lock()
	svc, socketUp := in.svc, in.socketUp
	in.mu.Unlock()
	socket := svc.Activation == config.ActivationSocket
	if socket && !socketUp {
		// The socket may listen still (the daemon restarted, or missed a
		// signal): use it rather than fight it.
		if st, err := s.sd.State(ctx, in.name.SocketUnit()); err == nil && st.ActiveState == "active" {
			in.mu.Lock()
			in.socketUp, socketUp = true, true
			in.mu.Unlock()
		}
	}

	if socket && socketUp {
		// The socket listens already; start the service now.
		if err := s.clearUnit(ctx, in, in.unit, true); err != nil {
			return err
		}
		in.mu.Lock()
		in.owned, in.sdActive = true, ""
		in.epoch++
		in.mu.Unlock()
		return s.started(in, s.sd.Start(ctx, in.unit))
	}
	if socket {
		for _, unit := range []string{in.unit, in.name.SocketUnit()} {
			if err := s.clearUnit(ctx, in, unit, false); err != nil {
				return err
			}
		}
	}
	port, err := s.checkPort(ctx, in)
	if err != nil {
		return err
	}
	u, err := s.render(in, svc, port)
	if err != nil {
		return err
	}
	if err := s.prepareDataDir(in, u.DataDir, svc); err != nil {
		return err
	}
	if !socket {
		return s.started(in, s.startService(ctx, in, u))
	}
	s.claim(in)
	if err := s.sd.StartTransient(ctx, u.SocketName, u.Socket, dbusapi.Aux{Name: u.ServiceName, Properties: u.Service}); err != nil {
		return err
	}
	in.mu.Lock()
	in.socketUp = true
	in.mu.Unlock()
	return s.started(in, s.sd.Start(ctx, in.unit))
}

// claim marks the instance's unit as this daemon's, about to be started.
func (s *Supervisor) claim(in *inst) {
	in.mu.Lock()
	in.owned, in.sdActive, in.nrestarts, in.mainPID = true, "", 0, 0
	in.epoch++
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

// started closes the window of a start job: a unit state read while the job
// ran may describe the unit before it existed, so such reads become stale
// (the epoch moves on); signals after the job are read afresh.
func (s *Supervisor) started(in *inst, err error) error {
	in.mu.Lock()
	in.epoch++
	in.mu.Unlock()
	return err
}

// clearUnit makes sure no old unit stands in the way of a new one of the
// same name: it waits for a stopping unit, resets a failed one, and refuses
// to touch a unit of another daemon. keepLoaded accepts an inactive but
// loaded unit (the service of a listening socket).
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
	switch st.ActiveState {
	case "active", "activating", "reloading":
		if keepLoaded {
			return nil
		}
		return fmt.Errorf("%w: %s is already %s", errdefs.ErrConflict, unit, st.ActiveState)
	case "failed":
		if err := s.sd.ResetFailed(ctx, unit); err != nil {
			return err
		}
	}
	if keepLoaded && st.ActiveState != "deactivating" {
		return nil
	}
	return s.sd.WaitUnloaded(ctx, unit)
}

// checkPort returns the instance's port, moving it to a new one when
// something else took the old one while the instance slept. An old unit of
// the instance that still holds it is waited for first.
func (s *Supervisor) checkPort(ctx context.Context, in *inst) (int, error) {
	in.mu.Lock()
	port := in.rec.Port
	in.mu.Unlock()
	if portFree(port) {
		return port, nil
	}
	if err := s.clearUnit(ctx, in, in.unit, false); err != nil {
		return 0, err
	}
	if portFree(port) {
		return port, nil
	}
	newPort, err := s.ports.allocate(in.name)
	if err != nil {
		return 0, err
	}
	s.log.Warn("instance port in use by something else; moving", "instance", in.name.String(), "old", port, "new", newPort)
	if err := s.update(in, func(r *store.Instance) { r.Port = newPort }); err != nil {
		s.ports.release(newPort)
		return 0, err
	}
	s.ports.release(port)
	return newPort, nil
}

// render resolves the command, lists the instance's credentials and
// renders the units.
func (s *Supervisor) render(in *inst, svc *config.Service, port int) (units.Units, error) {
	argv, err := svc.Argv(svc.InstanceVars(in.name.Service, in.name.ID, s.cfg.Settings.DataDir, port))
	if err != nil {
		return units.Units{}, fmt.Errorf("%w: %s: %w", errdefs.ErrInvalid, in.name, err)
	}
	if argv[0], err = config.ResolveProgram(argv[0], s.cfg.Path); err != nil {
		return units.Units{}, fmt.Errorf("%s: %w", in.name, err)
	}
	creds, err := credentials(s.cfg.Settings.CredentialsDir, in.name, s.log)
	if err != nil {
		return units.Units{}, err
	}
	return units.Render(units.Spec{
		Instance: in.name, Service: svc, Settings: &s.cfg.Settings, Port: port,
		Argv: argv, Marker: s.marker, Wrapper: s.wrapper,
		ConfigPath: s.cfg.Path, Credentials: creds,
	})
}

// waitReady waits until the instance is ready by its service's readiness
// rule. It gives up when the unit fails or exits. It probes every
// millisecond for the first second (an app is usually up within a few ms
// of systemd's job result; gVisor takes ~200 ms), then backs off to every
// 10ms.
func (s *Supervisor) waitReady(ctx context.Context, in *inst) error {
	in.mu.Lock()
	svc, port := in.svc, in.rec.Port
	in.mu.Unlock()
	address := addr(port)
	start := time.Now()
	delay := time.Millisecond
	for {
		if err := s.unitTrouble(ctx, in); err != nil {
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
	active := in.sdActive
	in.mu.Unlock()
	if svc.Ready == config.ReadyNotify {
		// The start job finishes only after READY=1; after a crash
		// restart, systemd reports "active" once READY=1 arrives.
		return active == "active" || active == ""
	}
	if active == "failed" || active == "inactive" || active == "deactivating" {
		return false
	}
	if svc.Activation == config.ActivationSocket && svc.Ready == config.ReadyTCP {
		// A connect through systemd's listening socket always succeeds
		// and proves nothing; the unit's own state says it started.
		return active == "active"
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

// unitTrouble returns an error when the unit has failed or exited, naming
// systemd's result.
func (s *Supervisor) unitTrouble(ctx context.Context, in *inst) error {
	in.mu.Lock()
	active, state := in.sdActive, in.state
	in.mu.Unlock()
	if state != StateStarting {
		return fmt.Errorf("%w: %s is %s", errdefs.ErrUnavailable, in.name, state)
	}
	if active != "failed" && active != "inactive" {
		return nil
	}
	// The recorded state may be stale (read before this start): ask again.
	st, err := s.sd.State(ctx, in.unit)
	if err != nil {
		return err
	}
	if st.Loaded() && st.ActiveState != "failed" && st.ActiveState != "inactive" {
		in.mu.Lock()
		in.sdActive = st.ActiveState
		in.mu.Unlock()
		return nil
	}
	return &startError{fmt.Sprintf("%s %s (result %s, status %d); see journalctl -u %s",
		in.unit, st.ActiveState, st.Result, st.ExecMainStatus, in.unit)}
}

// startError is why a start failed; it reads well as an instance's reason
// and is of kind ErrUnavailable.
type startError struct{ msg string }

func (e *startError) Error() string { return e.msg }
func (e *startError) Unwrap() error { return errdefs.ErrUnavailable }

// healthClient is the health checker's HTTP client: no keep-alive (a check
// must not hold a connection that counts as activity), no proxy.
var healthClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// checkHTTP GETs path on address; only a 2xx status is healthy.
func checkHTTP(ctx context.Context, address, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+address+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "tenement-health")
	resp, err := healthClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health %s returned %s", path, resp.Status)
	}
	return nil
}
