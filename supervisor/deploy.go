package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// deployPoll is how often a deploy checks the new version's health.
const deployPoll = 250 * time.Millisecond

// Deploy puts a new version of a service into its pool: it creates n
// (service:version) with weight 0, so that no weighted request reaches it
// before it is healthy; starts it (a wake of CauseDeploy); waits until a
// health check passes; then gives it weight. All of it within timeout.
//
// When n does not get healthy in time, a version this deploy started is
// given weight 0 and stopped, and the error says so; one that was running
// already is left as it was.
func (s *Supervisor) Deploy(ctx context.Context, n names.Instance, weight int, timeout time.Duration) (Info, error) {
	if weight < 0 || weight > 100 {
		return Info{}, fmt.Errorf("%w: weight %d: want 0–100", errdefs.ErrInvalid, weight)
	}
	if timeout <= 0 {
		return Info{}, fmt.Errorf("%w: deploy timeout %s", errdefs.ErrInvalid, timeout)
	}
	wasRunning := false
	if in := s.lookup(n); in != nil {
		in.mu.Lock()
		wasRunning = in.state == StateRunning
		in.mu.Unlock()
	}
	if err := s.Create(n, 0); err != nil {
		return Info{}, err // e.g. no such service: nothing was created
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.SpawnFor(wctx, n, CauseDeploy)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w: %s did not start within %s", errdefs.ErrUnavailable, n, timeout)
	}
	if err == nil {
		err = s.waitHealthy(wctx, n, timeout)
	}
	if err != nil {
		if wasRunning {
			return Info{}, fmt.Errorf("deploy %s: %w; it was already running and is left as it was", n, err)
		}
		return Info{}, fmt.Errorf("deploy %s: %w; %s", n, err, s.abandon(n))
	}
	if err := s.SetWeight(n, weight); err != nil {
		return Info{}, fmt.Errorf("deploy %s: set weight: %w", n, err)
	}
	return s.Get(ctx, n)
}

// waitHealthy checks n's health every deployPoll until a check passes, n
// fails, or ctx ends (after timeout).
func (s *Supervisor) waitHealthy(ctx context.Context, n names.Instance, timeout time.Duration) error {
	in, err := s.known(n)
	if err != nil {
		return err
	}
	t := time.NewTicker(deployPoll)
	defer t.Stop()
	var hp healthProber
	defer hp.close()
	last := "no check yet"
	for {
		in.mu.Lock()
		state, reason, svc, port := in.state, in.reason, in.svc, in.port
		in.mu.Unlock()
		switch state {
		case StateFailed:
			return fmt.Errorf("%w: %s failed: %s", errdefs.ErrUnavailable, n, reason)
		case StateRunning:
			if err := hp.probe(ctx, svc, port, s.checkTimeout()); err == nil {
				return nil
			}
			last = string(HealthUnhealthy)
		default:
			last = string(state)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %s did not become healthy within %s (last check: %s)", errdefs.ErrUnavailable, n, timeout, last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// abandon takes a failed deploy out of traffic (weight 0, so weighted
// requests do not wake it) and stops it, and says what it did.
func (s *Supervisor) abandon(n names.Instance) string {
	ctx, cancel := context.WithTimeout(s.life, time.Minute)
	defer cancel()
	werr := s.SetWeight(n, 0)
	serr := s.Stop(ctx, n)
	switch {
	case werr == nil && serr == nil:
		return "stopped it (weight 0)"
	case serr != nil:
		s.log.Error("stop a failed deploy", "instance", n.String(), "err", serr)
		return "stopping it failed too: " + serr.Error()
	default:
		s.log.Error("unweight a failed deploy", "instance", n.String(), "err", werr)
		return "stopped it, but setting weight 0 failed: " + werr.Error()
	}
}
