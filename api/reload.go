package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/tenement/tenement/supervisor"
)

// ReloadResponse is the answer of POST /api/config/reload: what the reload
// changed, and which changed settings only a restart applies.
type ReloadResponse struct {
	supervisor.Reloaded
	NeedsRestart []string `json:"needs_restart,omitempty"`
}

// ServiceRestartResponse is the answer of POST /api/services/{svc}/restart.
type ServiceRestartResponse struct {
	Service   string   `json:"service"`
	Restarted []string `json:"restarted"`
}

func (s *Server) reloadRoutes() {
	s.handle("POST /api/config/reload", s.reloadConfig)
	s.handle("POST /api/services/{service}/restart", s.restartService)
}

// reloadConfig reloads the daemon's config file (the daemon's Reload).
func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := id.requireAdmin("config reload"); err != nil {
		return err
	}
	if s.Reload == nil {
		return errNotServed("config reload")
	}
	resp, err := s.Reload(r.Context())
	s.audit(id, "config-reload", "", reloadDetails(resp), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func reloadDetails(r ReloadResponse) string {
	var parts []string
	add := func(what string, l []string) {
		if len(l) > 0 {
			parts = append(parts, what+" "+strings.Join(l, ","))
		}
	}
	add("added", r.Added)
	add("changed", r.Changed)
	add("removed", r.Removed)
	return strings.Join(parts, "; ")
}

// restartService restarts a service's running instances one at a time,
// each drained and waited for until ready.
func (s *Server) restartService(w http.ResponseWriter, r *http.Request, id Identity) error {
	svc := r.PathValue("service")
	if err := id.requireAdmin("restart of a service"); err != nil {
		return err
	}
	done, err := s.sup.RestartService(r.Context(), svc)
	resp := ServiceRestartResponse{Service: svc, Restarted: []string{}}
	for _, n := range done {
		resp.Restarted = append(resp.Restarted, n.String())
	}
	s.audit(id, "restart", svc, strings.Join(resp.Restarted, ","), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// Reloader reloads the daemon's config; the daemon sets Server.Reload to it.
type Reloader func(ctx context.Context) (ReloadResponse, error)
