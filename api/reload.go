package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/supervisor"
)

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
	res, err := s.Reload(r.Context())
	s.audit(id, "config-reload", "", reloadDetails(res), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.ReloadResponse{Added: res.Added, Changed: res.Changed, Removed: res.Removed,
		RestartPending: res.RestartPending, Orphaned: res.Orphaned, NeedsRestart: res.NeedsRestart})
	return nil
}

func reloadDetails(r Reloaded) string {
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
	resp := apitype.ServiceRestartResponse{Service: svc, Restarted: []string{}}
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
type Reloader func(ctx context.Context) (Reloaded, error)

// Reloaded is what a reload did: what the supervisor took, and which
// changed settings only a restart applies.
type Reloaded struct {
	supervisor.Reloaded
	NeedsRestart []string // settings.KEY
}
