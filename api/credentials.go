package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/credentials"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// CredentialStore keeps instances' secrets; credentials.Dir is one.
type CredentialStore interface {
	Set(t apitype.CredentialTarget, name string, value []byte) error
	List(t apitype.CredentialTarget) ([]apitype.Credential, error)
	Remove(t apitype.CredentialTarget, name string) error
	// Forget removes every credential of an instance (delete --purge).
	Forget(n names.Instance) error
}

var _ CredentialStore = credentials.Dir{}

func (s *Server) credentialRoutes() {
	s.handle("GET /api/credentials/{target}", s.listCredentials)
	s.handle("PUT /api/credentials/{target}/{name}", s.setCredential)
	s.handle("DELETE /api/credentials/{target}/{name}", s.removeCredential)
}

// credentialTarget parses the {target} (and {name}) of a credential route
// and checks that the caller is an admin, that the service is configured
// and, when known is set, that the instance of an instance target is known.
func (s *Server) credentialTarget(r *http.Request, id Identity, withName, known bool) (apitype.CredentialTarget, string, error) {
	t, err := apitype.ParseCredentialTarget(r.PathValue("target"))
	if err != nil {
		return t, "", err
	}
	name := r.PathValue("name")
	if withName {
		if err := apitype.ValidateCredentialName(name); err != nil {
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
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apitype.MaxCredentialSize))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return apitype.ErrCredentialTooLarge
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
	resp := apitype.CredentialResponse{Target: t.String(), Credential: apitype.Credential{Name: name, Size: int64(len(value)), Scope: apitype.ScopeService}}
	if _, ok := t.Instance(); ok {
		resp.Scope = apitype.ScopeInstance
	}
	if list, err := s.Credentials.List(t); err == nil {
		for _, i := range list {
			if i.Name == name {
				resp.Credential = i
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
