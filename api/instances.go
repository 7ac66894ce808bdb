package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handle("GET /api/instances", s.listInstances)
	s.handle("POST /api/instances", s.create)
	s.handle("POST /api/instances/{id}/keep-awake", s.keepAwake)
	s.handle("POST /api/instances/spawn", s.spawn)
	s.handle("GET /api/instances/{id}", s.getInstance)
	s.handle("DELETE /api/instances/{id}", s.stop)
	s.handle("POST /api/instances/{id}/stop", s.stop)
	s.handle("POST /api/instances/{id}/restart", s.restart)
	s.handle("POST /api/instances/{id}/delete", s.deleteInstance)
	s.handle("PUT /api/instances/{id}/weight", s.weight)
	s.handle("GET /api/instances/{id}/health", s.health)
	s.handle("GET /api/instances/{id}/storage", s.storage)
	s.handle("POST /api/deploy", s.deploy)
	s.handle("POST /api/route", s.route)
	s.logRoutes()
	s.tokenRoutes()
	s.auditRoutes()
	s.metricsRoutes()
	s.credentialRoutes()
	s.reloadRoutes()
	s.domainRoutes()
	s.fleetRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, s.log, fmt.Errorf("%w: %s %s (allowed: %s)", errdefs.ErrMethodNotAllowed, r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		writeError(w, s.log, fmt.Errorf("%w: %s %s", errdefs.ErrNotFound, r.Method, r.URL.Path))
	})
}

// allowed returns the methods a route serves when r's path is a route
// asked with another method (the catch-all pattern "/" hides the mux's own
// 405).
func (s *Server) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// readable returns the instances id may read, ordered by name. For a
// tenant the supervisor keeps the tenant's own instances before it looks
// at anything else: no other tenant's instance is read. Nothing asks
// systemd per instance (the supervisor answers from memory).
func (s *Server) readable(_ context.Context, id Identity, accounting bool) []supervisor.Info {
	opts, ok := listOptions(id, apitype.ListQuery{NoAccounting: !accounting})
	if !ok {
		return nil
	}
	out, _ := s.sup.List(opts)
	return out
}

// tenantInstances returns the known instances of id's tenant, ordered by
// name.
func (s *Server) tenantInstances(id Identity) []names.Instance {
	if id.Admin || id.Tenant == "" {
		return nil
	}
	var out []names.Instance
	for _, i := range s.readable(context.Background(), id, false) {
		out = append(out, i.Instance)
	}
	return out
}

// readableInstance returns the instance of the {id} path segment, when the
// caller may read it.
func (s *Server) readableInstance(r *http.Request, id Identity) (supervisor.Info, error) {
	n, err := readableParam(r, id)
	if err != nil {
		return supervisor.Info{}, err
	}
	return s.sup.Get(r.Context(), n)
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request, id Identity) error {
	info, err := s.readableInstance(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, instanceOut(info, time.Now()))
	return nil
}

func (s *Server) spawn(w http.ResponseWriter, r *http.Request, id Identity) error {
	var req apitype.SpawnRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	svc := req.Service
	if svc == "" {
		svc = req.Process
	}
	n, err := names.New(svc, req.ID)
	if err != nil {
		return err
	}
	if err := id.requireAdmin("spawn"); err != nil {
		return err
	}
	if err := s.noHost(req.Host); err != nil {
		return err
	}
	var info supervisor.Info
	if s.Fleet != nil {
		info, err = s.Fleet.Spawn(r.Context(), n, req.Host)
	} else {
		info, err = s.sup.Spawn(r.Context(), n)
	}
	s.audit(id, "spawn", n.String(), "", err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, instanceResponse(info))
	return nil
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := instanceParam(r)
	if err != nil {
		return err
	}
	if err := id.requireAdmin("stop"); err != nil {
		return err
	}
	err = s.sup.Stop(r.Context(), n)
	s.audit(id, "stop", n.String(), "", err)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := readableParam(r, id)
	if err != nil {
		return err
	}
	info, err := s.sup.Restart(r.Context(), n)
	s.audit(id, "restart", n.String(), "", err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, instanceResponse(info))
	return nil
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := instanceParam(r)
	if err != nil {
		return err
	}
	var req apitype.DeleteRequest
	if r.ContentLength != 0 {
		if err := readJSON(r, &req); err != nil {
			return err
		}
	}
	if err := id.requireAdmin("delete"); err != nil {
		return err
	}
	err = s.sup.Delete(r.Context(), n, req.Purge)
	if err == nil && req.Purge && s.Credentials != nil {
		// Purged means gone: a later instance of the same name must not
		// inherit this one's secrets.
		err = s.Credentials.Forget(n)
	}
	details := ""
	if req.Purge {
		details = "purge"
	}
	s.audit(id, "delete", n.String(), details, err)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) weight(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := instanceParam(r)
	if err != nil {
		return err
	}
	var req apitype.WeightRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Weight == nil {
		return fmt.Errorf("%w: missing weight", errdefs.ErrInvalid)
	}
	if err := id.requireAdmin("weight"); err != nil {
		return err
	}
	err = s.sup.SetWeight(n, *req.Weight)
	s.audit(id, "weight", n.String(), fmt.Sprintf("weight=%d", *req.Weight), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WeightResponse{Instance: n.String(), Weight: *req.Weight})
	return nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, id Identity) error {
	info, err := s.readableInstance(r, id)
	if err != nil {
		return err
	}
	h, err := s.sup.Health(r.Context(), info.Instance)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.HealthResponse{Instance: info.Instance.String(), Health: h, State: info.State})
	return nil
}

// Auditor records changes and reads them back; *store.Store is one.
type Auditor interface {
	Audit(e store.AuditEntry) (store.AuditEntry, error)
	AuditLog(limit int) ([]store.AuditEntry, error)
}

var _ Auditor = (*store.Store)(nil)

// audit records a change with its outcome. Failing to audit is logged, and
// does not fail the change that already happened.
func (s *Server) audit(id Identity, action, target, details string, err error) {
	if s.Auditor == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error: " + strings.TrimSpace(err.Error())
	}
	if _, aerr := s.Auditor.Audit(store.AuditEntry{Actor: id.Actor, Action: action, Target: target, Details: details, Result: result}); aerr != nil {
		s.log.Error("audit log write failed", "action", action, "target", target, "err", aerr)
	}
}
