package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tenement/tenement/credentials"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// CredentialStore keeps instances' secrets; credentials.Dir is one.
type CredentialStore interface {
	Set(t credentials.Target, name string, value []byte) error
	List(t credentials.Target) ([]credentials.Info, error)
	Remove(t credentials.Target, name string) error
	// Forget removes every credential of an instance (delete --purge).
	Forget(n names.Instance) error
}

var _ CredentialStore = credentials.Dir{}

// CredentialResponse answers a PUT: the credential as stored, never its
// value. It reaches the target's instances at their next start.
type CredentialResponse struct {
	Target string `json:"target"` // "service" or "service:id"
	credentials.Info
}

func (s *Server) credentialRoutes() {
	s.handle("GET /api/credentials/{target}", s.listCredentials)
	s.handle("PUT /api/credentials/{target}/{name}", s.setCredential)
	s.handle("DELETE /api/credentials/{target}/{name}", s.removeCredential)
}

// credentialTarget parses the {target} (and {name}) of a credential route
// and checks that the caller is an admin, that the service is configured
// and, when known is set, that the instance of an instance target is known.
func (s *Server) credentialTarget(r *http.Request, id Identity, withName, known bool) (credentials.Target, string, error) {
	t, err := credentials.ParseTarget(r.PathValue("target"))
	if err != nil {
		return t, "", err
	}
	name := r.PathValue("name")
	if withName {
		if err := credentials.ValidateName(name); err != nil {
			return t, "", err
		}
	}
	if err := id.requireAdmin("managing credentials"); err != nil {
		return t, "", err
	}
	if s.Credentials == nil {
		return t, "", errNotServed("credentials")
	}
	if s.sup.ServiceConfig(t.Service) == nil {
		return t, "", fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, t.Service)
	}
	if n, ok := t.Instance(); ok && known && !s.sup.Known(n) {
		return t, "", fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
	}
	return t, name, nil
}

// listCredentials answers names, sizes and times, never values. For an
// instance: what it receives, its own and its service's.
func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request, id Identity) error {
	t, _, err := s.credentialTarget(r, id, false, false)
	if err != nil {
		return err
	}
	list, err := s.Credentials.List(t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) setCredential(w http.ResponseWriter, r *http.Request, id Identity) error {
	t, name, err := s.credentialTarget(r, id, true, true)
	if err != nil {
		return err
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, credentials.MaxSize))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return credentials.ErrTooLarge
	}
	if err != nil {
		return fmt.Errorf("%w: request body: %w", errdefs.ErrInvalid, err)
	}
	err = s.Credentials.Set(t, name, value)
	clear(value)
	s.audit(id, "credential-set", t.String(), "name="+name, err)
	if err != nil {
		return err
	}
	resp := CredentialResponse{Target: t.String(), Info: credentials.Info{Name: name, Size: int64(len(value)), Scope: credentials.ScopeService}}
	if _, ok := t.Instance(); ok {
		resp.Scope = credentials.ScopeInstance
	}
	if list, err := s.Credentials.List(t); err == nil {
		for _, i := range list {
			if i.Name == name {
				resp.Info = i
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) removeCredential(w http.ResponseWriter, r *http.Request, id Identity) error {
	t, name, err := s.credentialTarget(r, id, true, false)
	if err != nil {
		return err
	}
	err = s.Credentials.Remove(t, name)
	s.audit(id, "credential-remove", t.String(), "name="+name, err)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
