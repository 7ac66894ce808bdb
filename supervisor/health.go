package supervisor

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// healthLoop checks a running instance every health_check_interval until
// its run ends. Checks never count as activity.
func (s *Supervisor) healthLoop(in *inst, gen uint64) {
	t := time.NewTicker(s.config().Settings.HealthCheckInterval.D())
	defer t.Stop()
	var hp healthProber
	defer hp.close()
	for {
		select {
		case <-s.life.Done():
			return
		case <-t.C:
		}
		in.mu.Lock()
		if in.gen != gen || in.state != StateRunning {
			in.mu.Unlock()
			return
		}
		svc, port, active := in.svc, in.port, in.svcUnit.ActiveState
		in.mu.Unlock()
		if svc.Activation == config.ActivationSocket && active != dbusapi.Active {
			continue // a check through the socket would wake the service
		}
		err := hp.probe(s.life, svc, port, s.checkTimeout())
		s.recordHealth(in, gen, err)
	}
}

func (s *Supervisor) checkTimeout() time.Duration {
	return min(5*time.Second, s.config().Settings.HealthCheckInterval.D())
}

// probe checks an instance once: GET its health path (2xx is healthy), or
// without one, connect to its port. The connection of a health path is
// kept for hp's next check.
func (hp *healthProber) probe(ctx context.Context, svc *config.Service, port int, timeout time.Duration) error {
	if svc.Health != "" {
		return hp.check(ctx, addr(port), svc.Health, timeout)
	}
	return checkTCP(port, timeout)
}

// probe checks an instance once, over a connection of its own.
func probe(ctx context.Context, svc *config.Service, port int, timeout time.Duration) error {
	if svc.Health != "" {
		return checkHTTP(ctx, addr(port), svc.Health, timeout)
	}
	return checkTCP(port, timeout)
}

// checkTCP connects to the instance's port.
func checkTCP(port int, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr(port), timeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// recordHealth applies one check's result: 1–2 failures in a row make the
// instance degraded, 3 unhealthy, which schedules a restart with backoff or,
// past max_restarts in restart_window, marks it failed.
func (s *Supervisor) recordHealth(in *inst, gen uint64, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.gen != gen || in.state != StateRunning {
		return
	}
	if err == nil {
		in.fails, in.health = 0, HealthHealthy
		return
	}
	in.fails++
	s.log.Info("health check failed", "instance", in.name.String(), "failures", in.fails, "err", err)
	if in.fails < unhealthyAfter {
		in.health = HealthDegraded
		return
	}
	in.health = HealthUnhealthy
	if in.pending != nil {
		return // a restart is already scheduled
	}
	set := s.config().Settings
	n := in.recentRestarts(set.RestartWindow.D())
	if n >= set.MaxRestarts {
		reason := fmt.Sprintf("unhealthy: %d failed health checks (%v) after %d restarts within %s",
			in.fails, err, n, set.RestartWindow)
		in.state, in.reason = StateFailed, reason
		in.endRun()
		s.spawn(func() { s.failInst(in, reason) })
		return
	}
	delay := backoff(n, set.BackoffBaseMS, set.BackoffMaxMS)
	s.log.Warn("instance unhealthy; restarting", "instance", in.name.String(), "delay", delay, "restarts_in_window", n)
	in.pending = time.AfterFunc(delay, func() { s.spawn(func() { s.healthRestart(in, gen) }) })
}

// backoff is the delay before the (n+1)th health restart in the window:
// base·2ⁿ milliseconds, capped at max.
func backoff(n, baseMS, maxMS int) time.Duration {
	d := time.Duration(baseMS) * time.Millisecond
	for i := 0; i < n && d < time.Duration(maxMS)*time.Millisecond; i++ {
		d *= 2
	}
	return min(d, time.Duration(maxMS)*time.Millisecond)
}

// healthRestart restarts an unhealthy instance. When the restarted app
// does not get ready either, that counts as another restart: it is retried
// with the next backoff until max_restarts, then the instance fails.
func (s *Supervisor) healthRestart(in *inst, gen uint64) {
	in.mu.Lock()
	if in.gen != gen || in.state != StateRunning {
		in.mu.Unlock()
		return
	}
	in.pending = nil
	in.mu.Unlock()
	ctx := context.WithoutCancel(s.life)
	for {
		in.mu.Lock()
		in.healthRestarts = append(in.healthRestarts, time.Now())
		in.mu.Unlock()
		s.obs.Restarted(in.name, "unhealthy")
		if err := s.update(in, func(r *store.Instance) { r.Restarts++ }); err != nil {
			s.log.Error("count restart", "instance", in.name.String(), "err", err)
		}
		if err := s.stopInst(ctx, in, false, false); err != nil {
			s.log.Error("health restart: stop failed", "instance", in.name.String(), "err", err)
			return
		}
		err := s.awaitRunning(ctx, in, "")
		if err == nil {
			return
		}
		s.log.Warn("health restart: the app did not get ready", "instance", in.name.String(), "err", err)
		in.mu.Lock()
		if in.state != StateAsleep {
			in.mu.Unlock()
			return // someone else acted on the instance meanwhile
		}
		n := in.recentRestarts(s.config().Settings.RestartWindow.D())
		if n >= s.config().Settings.MaxRestarts {
			reason := fmt.Sprintf("unhealthy: not ready after %d restarts within %s: %v", n, s.config().Settings.RestartWindow, err)
			in.state, in.reason = StateFailed, reason
			in.mu.Unlock()
			s.failInst(in, reason)
			return
		}
		in.mu.Unlock()
		delay := backoff(n, s.config().Settings.BackoffBaseMS, s.config().Settings.BackoffMaxMS)
		select {
		case <-s.life.Done():
			return
		case <-time.After(delay):
		}
		in.mu.Lock()
		again := in.state == StateAsleep
		in.mu.Unlock()
		if !again {
			return
		}
	}
}

// recentRestarts drops health restarts older than window and returns how
// many remain. The caller holds in.mu.
func (in *inst) recentRestarts(window time.Duration) int {
	now := time.Now()
	recent := in.healthRestarts[:0]
	for _, t := range in.healthRestarts {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	in.healthRestarts = recent
	return len(recent)
}

// failInst stops a failed instance's unit and records the failure, which
// survives daemon restarts until a user restarts the instance.
func (s *Supervisor) failInst(in *inst, reason string) {
	s.log.Error("instance failed", "instance", in.name.String(), "reason", reason)
	s.markFailed(in, reason)
	if err := s.stopInst(context.WithoutCancel(s.life), in, false, false); err != nil {
		s.log.Error("stop failed instance", "instance", in.name.String(), "err", err)
		return
	}
	s.forgetUnserved(in)
}

// markFailed records a failure in the store.
func (s *Supervisor) markFailed(in *inst, reason string) {
	if err := s.update(in, func(r *store.Instance) {
		r.Failed, r.FailedReason, r.FailedAt = true, reason, time.Now().UTC()
	}); err != nil {
		s.log.Error("record failure", "instance", in.name.String(), "err", err)
	}
}

// Health checks an instance now and returns the result; it does not change
// the instance's counters. An instance that is not running is "unknown".
func (s *Supervisor) Health(ctx context.Context, n names.Instance) (Health, error) {
	in, err := s.known(n)
	if err != nil {
		return HealthUnknown, err
	}
	in.mu.Lock()
	state, svc, port := in.state, in.svc, in.port
	in.mu.Unlock()
	if state != StateRunning {
		return HealthUnknown, nil
	}
	if err := probe(ctx, svc, port, s.checkTimeout()); err != nil {
		return HealthUnhealthy, nil
	}
	return HealthHealthy, nil
}
