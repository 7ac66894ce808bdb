package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

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
	info, err := s.sup.Deploy(r.Context(), n, weight, timeout)
	s.audit(id, "deploy", n.String(), fmt.Sprintf("weight=%d timeout=%s", weight, timeout), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DeployResponse{Instance: info.Instance.String(), Socket: info.Addr, Port: info.Port, Unit: info.Unit,
		Weight: info.Weight, Status: apitype.HealthHealthy})
	return nil
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
	if err := id.requireAdmin("route"); err != nil {
		return err
	}
	err = s.sup.Route(from, to)
	s.audit(id, "route", from.String()+" -> "+to.String(), "weights 0/100", err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.RouteResponse{FromInstance: from.String(), ToInstance: to.String(), FromWeight: 0, ToWeight: 100})
	return nil
}
