package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// MaxList is the largest page GET /api/instances serves (its limit).
const MaxList = 10000

// maxQuery is the longest q worth asking: the longest instance name,
// 32 + ":" + 63.
const maxQuery = 96

// ListQuery is a parsed GET /api/instances query. Every field is
// optional; the zero value is every instance the caller may read, with
// accounting.
type ListQuery struct {
	Service string
	State   supervisor.State
	// Match keeps the instances whose "service:id" contains it (lowercase;
	// the parameter q).
	Match string
	// After starts the page after this instance, the Link header's cursor.
	After names.Instance
	// Limit is the page size, 1 to MaxList; 0 is no limit.
	Limit        int
	NoAccounting bool
}

// listParams are the parameters GET /api/instances knows. Anything else
// is refused, so that a misspelt filter does not silently list everything.
var listParams = []string{"accounting", "after", "limit", "q", "service", "state"}

// ParseListQuery reads and checks a GET /api/instances query; every error
// is ErrInvalid, one line. It does not check that the service exists.
func ParseListQuery(v url.Values) (ListQuery, error) {
	var q ListQuery
	for k, vs := range v {
		if !slices.Contains(listParams, k) {
			return q, fmt.Errorf("%w: unknown parameter %q (known: %s)", errdefs.ErrInvalid, k, strings.Join(listParams, ", "))
		}
		if len(vs) > 1 {
			return q, fmt.Errorf("%w: parameter %q given %d times", errdefs.ErrInvalid, k, len(vs))
		}
	}
	var err error
	if s := v.Get("service"); s != "" {
		if err := names.ValidateService(s); err != nil {
			return q, err
		}
		q.Service = s
	}
	if s := v.Get("state"); s != "" {
		if q.State, err = supervisor.ParseState(s); err != nil {
			return q, err
		}
	}
	if q.Match = strings.ToLower(v.Get("q")); len(q.Match) > maxQuery {
		return q, fmt.Errorf("%w: q: %d characters, but no instance name is longer than %d", errdefs.ErrInvalid, len(q.Match), maxQuery)
	}
	if s := v.Get("after"); s != "" {
		if q.After, err = names.Parse(s); err != nil {
			return q, fmt.Errorf("%w: after %q: want the service:id of the previous page's last instance", errdefs.ErrInvalid, s)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxList {
			return q, fmt.Errorf("%w: limit %q: want a number from 1 to %d", errdefs.ErrInvalid, s, MaxList)
		}
		q.Limit = n
	}
	if s := v.Get("accounting"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, fmt.Errorf("%w: accounting %q: want true or false", errdefs.ErrInvalid, s)
		}
		q.NoAccounting = !b
	}
	return q, nil
}

// Values is the query that asks for q, in a canonical form: only the
// parameters that are set.
func (q ListQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("service", q.Service)
	set("state", string(q.State))
	set("q", q.Match)
	if !q.After.IsZero() {
		v.Set("after", q.After.String())
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.NoAccounting {
		v.Set("accounting", "false")
	}
	return v
}

// listInstances answers GET /api/instances: the instances the caller may
// read that the query selects, ordered by service then id, as a JSON
// array (the original's shape). When a limit cuts the list short, a Link
// header (RFC 8288) carries the next page's URL: the same query with
// after set to this page's last instance. The cursor is a name, not an
// offset, so instances created or deleted meanwhile shift no page.
func (s *Server) listInstances(w http.ResponseWriter, r *http.Request, id Identity) error {
	q, err := ParseListQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if q.Service != "" && s.sup.ServiceConfig(q.Service) == nil {
		return fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, q.Service)
	}
	out := []supervisor.Info{}
	opts, ok := listOptions(id, q)
	if ok {
		var next names.Instance
		if out, next = s.sup.List(opts); !next.IsZero() {
			q.After = next
			w.Header().Set("Link", "</api/instances?"+q.Values().Encode()+`>; rel="next"`)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listOptions turns a query into the supervisor's options for id; false
// when id may read no instance at all. A tenant's own instances are kept
// first: no other tenant's instance is looked at further.
func listOptions(id Identity, q ListQuery) (supervisor.ListOptions, bool) {
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
