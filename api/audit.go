package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
)

// DefaultAuditLimit is how many audit entries GET /api/audit returns
// without a limit.
const DefaultAuditLimit = 100

func (s *Server) auditRoutes() {
	s.handle("GET /api/audit", s.auditLog)
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := id.requireAdmin("reading the audit log"); err != nil {
		return err
	}
	if s.Auditor == nil {
		return errNotServed("the audit log")
	}
	limit, err := intParam(r, DefaultAuditLimit, "limit", "n")
	if err != nil {
		return err
	}
	log, err := s.Auditor.AuditLog(limit)
	if err != nil {
		return err
	}
	if log == nil {
		log = []apitype.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, log)
	return nil
}

// intParam returns the first of the query parameters keys that is set, as
// a non-negative integer, or def when none is.
func intParam(r *http.Request, def int, keys ...string) (int, error) {
	q := r.URL.Query()
	for _, k := range keys {
		v := q.Get(k)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: %s=%q: want a non-negative integer", errdefs.ErrInvalid, k, v)
		}
		return n, nil
	}
	return def, nil
}

// param returns the first of the query parameters keys that is set.
func param(r *http.Request, keys ...string) string {
	q := r.URL.Query()
	for _, k := range keys {
		if v := q.Get(k); v != "" {
			return v
		}
	}
	return ""
}

func errNotServed(what string) error {
	return fmt.Errorf("%w: %s: not served by this daemon", errdefs.ErrUnimplemented, what)
}
