package apitype

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// MaxList is the largest page GET /api/instances serves (its limit).
const MaxList = 10000

// maxQuery is the longest q worth asking: the longest instance name.
const maxQuery = names.MaxServiceLen + len(":") + names.MaxIDLen

// ListQuery is a parsed GET /api/instances query. Every field is
// optional; the zero value is every instance the caller may read, with
// accounting.
type ListQuery struct {
	Service string
	State   State
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
		if q.State, err = ParseState(s); err != nil {
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
