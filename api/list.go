package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// listInstances answers GET /api/instances: the instances the caller may
// read that the query selects, ordered by service then id, as a JSON
// array (the original's shape). When a limit cuts the list short, a Link
// header (RFC 8288) carries the next page's URL: the same query with
// after set to this page's last instance. The cursor is a name, not an
// offset, so instances created or deleted meanwhile shift no page.
func (s *Server) listInstances(w http.ResponseWriter, r *http.Request, id Identity) error {
	q, err := apitype.ParseListQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if q.Service != "" && s.sup.ServiceConfig(q.Service) == nil {
		return fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, q.Service)
	}
	var list []supervisor.Info
	if opts, ok := listOptions(id, q); ok {
		var next names.Instance
		if list, next = s.sup.List(opts); !next.IsZero() {
			q.After = next
			w.Header().Set("Link", "</api/instances?"+q.Values().Encode()+`>; rel="next"`)
		}
	}
	now := time.Now()
	writeJSONArray(w, http.StatusOK, len(list), func(k int) apitype.Instance { return instanceOut(list[k], now) })
	return nil
}

// listOptions turns a query into the supervisor's options for id; false
// when id may read no instance at all. A tenant's own instances are kept
// first: no other tenant's instance is looked at further.
func listOptions(id Identity, q apitype.ListQuery) (supervisor.ListOptions, bool) {
	opts := supervisor.ListOptions{Service: q.Service, State: q.State, After: q.After, Limit: q.Limit, Accounting: !q.NoAccounting}
	var only []func(names.Instance) bool
	if !id.Admin {
		if id.Tenant == "" {
			return opts, false
		}
		only = append(only, func(n names.Instance) bool { return n.ID == id.Tenant })
	}
	if q.Match != "" {
		only = append(only, func(n names.Instance) bool { return nameContains(n, q.Match) })
	}
	if len(only) > 0 {
		opts.Only = func(n names.Instance) bool {
			for _, f := range only {
				if !f(n) {
					return false
				}
			}
			return true
		}
	}
	return opts, true
}

// nameContains reports whether "service:id" contains sub, without building
// the string (it runs for every instance under the supervisor's lock).
func nameContains(n names.Instance, sub string) bool {
	if strings.Contains(n.Service, sub) || strings.Contains(n.ID, sub) {
		return true
	}
	before, after, ok := strings.Cut(sub, ":")
	return ok && strings.HasSuffix(n.Service, before) && strings.HasPrefix(n.ID, after)
}
