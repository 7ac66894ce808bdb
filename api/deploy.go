package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// deployPoll is how often a deploy checks the new version's health.
const deployPoll = 250 * time.Millisecond

// parseDeploy reads a deploy's instance, weight and timeout, with their
// defaults.
func parseDeploy(req apitype.DeployRequest) (names.Instance, int, time.Duration, error) {
	svc := req.Service
	if svc == "" {
		svc = req.Process
	}
	n, err := names.New(svc, req.Version)
	if err != nil {
		return n, 0, 0, err
	}
	weight := apitype.DefaultDeployWeight
	if req.Weight != nil {
		weight = *req.Weight
	}
	if weight < 0 || weight > 100 {
		return n, 0, 0, fmt.Errorf("%w: weight %d: want 0–100", errdefs.ErrInvalid, weight)
	}
	timeout := apitype.DefaultDeployTimeout
	if req.Timeout != nil {
		timeout = time.Duration(*req.Timeout) * time.Second
	}
	if timeout <= 0 || timeout > apitype.MaxDeployTimeout {
		return n, 0, 0, fmt.Errorf("%w: timeout %v: want 1s–%v", errdefs.ErrInvalid, timeout, apitype.MaxDeployTimeout)
	}
	return n, weight, timeout, nil
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request, id Identity) error {
	var req apitype.DeployRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	n, weight, timeout, err := parseDeploy(req)
	if err != nil {
		return err
	}
	if err := id.requireAdmin("deploy"); err != nil {
		return err
	}
	info, err := s.deployAndWait(r.Context(), n, weight, timeout)
	s.audit(id, "deploy", n.String(), fmt.Sprintf("weight=%d timeout=%s", weight, timeout), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DeployResponse{Instance: info.Instance.String(), Socket: info.Addr, Port: info.Port, Unit: info.Unit,
		Weight: info.Weight, Status: apitype.HealthHealthy})
	return nil
}

// deployAndWait starts n, waits until a health check passes, then sets its
// weight. When n never gets healthy within timeout, a version this deploy
// started is given weight 0 and stopped; one that was already running is
// left as it was.
func (s *Server) deployAndWait(ctx context.Context, n names.Instance, weight int, timeout time.Duration) (supervisor.Info, error) {
	prev, err := s.sup.Get(ctx, n)
	wasRunning := err == nil && prev.State == supervisor.StateRunning
	// A new version starts with weight 0: weighted traffic reaches it only
	// once it is healthy and gets its weight below.
	if err := s.sup.Create(n, 0); err != nil {
		return supervisor.Info{}, err // e.g. no such service: nothing was created
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = s.sup.Spawn(wctx, n)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w: %s did not start within %s", errdefs.ErrUnavailable, n, timeout)
	}
	if err == nil {
		err = s.waitHealthy(wctx, n, timeout)
	}
	if err != nil {
		if wasRunning {
			return supervisor.Info{}, fmt.Errorf("deploy %s: %w; it was already running and is left as it was", n, err)
		}
		return supervisor.Info{}, fmt.Errorf("deploy %s: %w; %s", n, err, s.abandon(n))
	}
	if err := s.sup.SetWeight(n, weight); err != nil {
		return supervisor.Info{}, fmt.Errorf("deploy %s: set weight: %w", n, err)
	}
	return s.sup.Get(ctx, n)
}

// waitHealthy polls n's health until a check passes, n fails, or ctx ends
// (after timeout).
func (s *Server) waitHealthy(ctx context.Context, n names.Instance, timeout time.Duration) error {
	t := time.NewTicker(deployPoll)
	defer t.Stop()
	last := "no check yet"
	for {
		info, err := s.sup.Get(ctx, n)
		if err != nil {
			return err
		}
		switch info.State {
		case supervisor.StateFailed:
			return fmt.Errorf("%w: %s failed: %s", errdefs.ErrUnavailable, n, info.Reason)
		case supervisor.StateRunning:
			h, err := s.sup.Health(ctx, n)
			if err != nil {
				return err
			}
			if h == supervisor.HealthHealthy {
				return nil
			}
			last = string(h)
		default:
			last = string(info.State)
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
func (s *Server) abandon(n names.Instance) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	werr := s.sup.SetWeight(n, 0)
	serr := s.sup.Stop(ctx, n)
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

func (s *Server) route(w http.ResponseWriter, r *http.Request, id Identity) error {
	var req apitype.RouteRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	svc := req.Service
	if svc == "" {
		svc = req.Process
	}
	from, err := names.New(svc, req.From)
	if err != nil {
		return err
	}
	to, err := names.New(svc, req.To)
	if err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("%w: route %s to itself", errdefs.ErrInvalid, from)
	}
	if err := id.requireAdmin("route"); err != nil {
		return err
	}
	fw, tw, err := s.routeTo(r.Context(), from, to)
	s.audit(id, "route", from.String()+" -> "+to.String(), "weights 0/100", err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.RouteResponse{FromInstance: from.String(), ToInstance: to.String(), FromWeight: fw, ToWeight: tw})
	return nil
}

// routeTo swaps the weights at once, refusing a failed target: it would
// get no traffic and the service none at all.
func (s *Server) routeTo(ctx context.Context, from, to names.Instance) (int, int, error) {
	info, err := s.sup.Get(ctx, to)
	if err != nil {
		return 0, 0, err
	}
	if info.State == supervisor.StateFailed {
		return 0, 0, fmt.Errorf("%w: %s has failed (%s); restart or deploy it first", errdefs.ErrConflict, to, info.Reason)
	}
	if _, err := s.sup.Get(ctx, from); err != nil {
		return 0, 0, err
	}
	if err := s.sup.Route(from, to); err != nil {
		return 0, 0, err
	}
	return 0, 100, nil
}
