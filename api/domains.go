package api

import (
	"cmp"
	"fmt"
	"net/http"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// DomainTable binds custom domains to instances; *domains.Table is one.
// It validates the names and keeps them whole (one instance per domain,
// none under the root domain, max_domains_per_instance).
type DomainTable interface {
	Bind(n names.Instance, host string, move bool) (domains.Binding, error)
	Unbind(host string) (domains.Binding, error)
	List(only func(names.Instance) bool) []domains.Binding
}

var _ DomainTable = (*domains.Table)(nil)

// Custom domains: admins bind and unbind them; a tenant token lists its
// own instances' (a domain of another tenant's is not there, as that
// instance is not).
func (s *Server) domainRoutes() {
	s.handle("GET /api/domains", s.listDomains)
	s.handle("POST /api/domains", s.bindDomain)
	s.handle("DELETE /api/domains/{domain}", s.unbindDomain)
}

func (s *Server) domainTable() (DomainTable, error) {
	if s.Domains == nil {
		return nil, errNotServed("custom domains")
	}
	return s.Domains, nil
}

// listDomains answers the domains of the instances the caller may read,
// or with ?instance=svc:id of that one (404 when unknown, or another
// tenant's).
func (s *Server) listDomains(w http.ResponseWriter, r *http.Request, id Identity) error {
	tab, err := s.domainTable()
	if err != nil {
		return err
	}
	only := id.CanRead
	if q := r.URL.Query().Get("instance"); q != "" {
		n, err := names.Parse(q)
		if err != nil {
			return err
		}
		if err := id.requireRead(n); err != nil {
			return err
		}
		if !s.sup.Known(n) {
			return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
		}
		only = func(m names.Instance) bool { return m == n }
	}
	list := tab.List(only)
	out := make([]apitype.Domain, len(list))
	for i, b := range list {
		out[i] = domainOut(b)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) bindDomain(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := id.requireAdmin("binding domains"); err != nil {
		return err
	}
	tab, err := s.domainTable()
	if err != nil {
		return err
	}
	var req apitype.DomainRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	n, err := names.Parse(req.Instance)
	if err != nil {
		return err
	}
	b, err := tab.Bind(n, req.Domain, req.Move)
	details := "instance=" + n.String()
	if !b.MovedFrom.IsZero() {
		details += " moved_from=" + b.MovedFrom.String()
	}
	s.audit(id, "domain-add", cmp.Or(b.Domain, req.Domain), details, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domainOut(b))
	return nil
}

func (s *Server) unbindDomain(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := id.requireAdmin("removing domains"); err != nil {
		return err
	}
	tab, err := s.domainTable()
	if err != nil {
		return err
	}
	host := r.PathValue("domain")
	b, err := tab.Unbind(host)
	details := ""
	if err == nil {
		details = "instance=" + b.Instance.String()
	}
	s.audit(id, "domain-remove", cmp.Or(b.Domain, host), details, err)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func domainOut(b domains.Binding) apitype.Domain {
	out := apitype.Domain{Domain: b.Domain, Instance: b.Instance.String(), CreatedAt: b.CreatedAt}
	if !b.MovedFrom.IsZero() {
		out.MovedFrom = b.MovedFrom.String()
	}
	return out
}
