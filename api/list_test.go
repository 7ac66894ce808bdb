package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
)

// newListAPI is an API with instances in three states: running (adopted
// from the fake systemd), failed (adopted failed) and asleep (registered
// with POST /api/instances), in both services.
func newListAPI(t *testing.T, asleep ...string) *testAPI {
	t.Helper()
	a := newTestAPIWith(t, []string{"notes:alice", "blog:alice", "notes:bob"}, []string{"notes:carol"})
	asleep = append(asleep, "blog:dave")
	body, _ := json.Marshal(apitype.CreateRequest{Instances: asleep})
	if status, _, out := a.call(t, http.MethodPost, "/api/instances", "local", strings.NewReader(string(body))); status != http.StatusOK {
		t.Fatalf("create: %d %s", status, out)
	}
	return a
}

// list calls GET path and returns the names listed and the Link header.
func (a *testAPI) list(t *testing.T, path, token string) (names []string, link string) {
	t.Helper()
	status, h, body := a.call(t, http.MethodGet, path, token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	var list []apitype.Instance
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	names = []string{}
	for _, i := range list {
		names = append(names, i.Name+"="+string(i.State))
	}
	return names, h.Get("Link")
}

func TestListFilters(t *testing.T) {
	a := newListAPI(t, "notes:t1", "notes:t2", "notes:t3")
	for _, tc := range []struct {
		name  string
		query string
		want  string
	}{
		{"everything, by service then id", "",
			"blog:alice=running blog:dave=asleep notes:alice=running notes:bob=running notes:carol=failed notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"a service", "service=blog", "blog:alice=running blog:dave=asleep"},
		{"running", "state=running", "blog:alice=running notes:alice=running notes:bob=running"},
		{"failed", "state=failed", "notes:carol=failed"},
		{"asleep", "state=asleep", "blog:dave=asleep notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"a state no instance is in", "state=stopping", ""},
		{"a service and a state", "service=notes&state=asleep", "notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"a substring of the id", "q=ali", "blog:alice=running notes:alice=running"},
		{"a substring of the service", "q=blo", "blog:alice=running blog:dave=asleep"},
		{"a substring across the colon", "q=s:t", "notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"a whole name, in capitals", "q=NOTES:BOB", "notes:bob=running"},
		{"a substring that is no name's", "q=zz", ""},
		{"a substring and a state", "q=a&state=running", "blog:alice=running notes:alice=running"},
		{"after a name", "after=notes:bob", "notes:carol=failed notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"after a name that is not known", "after=notes:c", "notes:carol=failed notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"after and a service", "service=blog&after=blog:alice", "blog:dave=asleep"},
		{"a limit that covers everything", "limit=8", "blog:alice=running blog:dave=asleep notes:alice=running notes:bob=running notes:carol=failed notes:t1=asleep notes:t2=asleep notes:t3=asleep"},
		{"without accounting", "accounting=false&state=failed", "notes:carol=failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, link := a.list(t, "/api/instances?"+tc.query, "local")
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got  %s\nwant %s", strings.Join(got, " "), tc.want)
			}
			if link != "" {
				t.Errorf("Link %q on a whole list", link)
			}
		})
	}
}

var nextLink = regexp.MustCompile(`^<(/api/instances\?[^>]*)>; rel="next"$`)

// TestListPages pages through 250 instances by following the Link header,
// with a filter that must hold on every page.
func TestListPages(t *testing.T) {
	var asleep []string
	for i := range 250 {
		asleep = append(asleep, fmt.Sprintf("notes:t%03d", i))
	}
	a := newListAPI(t, asleep...)
	all, _ := a.list(t, "/api/instances?service=notes&state=asleep", "local")
	if len(all) != 250 {
		t.Fatalf("%d asleep notes instances, want 250", len(all))
	}

	first, link := a.list(t, "/api/instances?state=asleep&limit=100&service=notes&accounting=false", "local")
	if want := `</api/instances?accounting=false&after=notes%3At099&limit=100&service=notes&state=asleep>; rel="next"`; link != want {
		t.Errorf("first page's Link\n %s, want\n %s", link, want)
	}
	got, pages := first, 1
	for link != "" {
		m := nextLink.FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("Link %q", link)
		}
		var page []string
		page, link = a.list(t, m[1], "local")
		if len(page) > 100 || len(page) == 0 {
			t.Fatalf("page %d has %d instances", pages+1, len(page))
		}
		got, pages = append(got, page...), pages+1
	}
	if pages != 3 || strings.Join(got, " ") != strings.Join(all, " ") {
		t.Errorf("%d pages of %d instances; want 3 pages that add up to the whole list", pages, len(got))
	}

	// A page that ends exactly at the last instance has no Link.
	if page, link := a.list(t, "/api/instances?service=notes&state=asleep&after=notes:t199&limit=50", "local"); len(page) != 50 || link != "" {
		t.Errorf("the last 50: %d instances, Link %q", len(page), link)
	}
	// Past the end: an empty page, no Link.
	if page, link := a.list(t, "/api/instances?after=zz:z&limit=10", "local"); len(page) != 0 || link != "" {
		t.Errorf("after the last: %v, Link %q", page, link)
	}
	// The cursor is a name: deleting the last instance of a page does not
	// shift the next one.
	_, link = a.list(t, "/api/instances?service=notes&state=asleep&limit=10", "local")
	if status, _, body := a.call(t, http.MethodPost, "/api/instances/notes:t009/delete", "local", nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	if page, _ := a.list(t, nextLink.FindStringSubmatch(link)[1], "local"); page[0] != "notes:t010=asleep" {
		t.Errorf("the page after a deleted cursor starts at %s, want notes:t010", page[0])
	}
}

func TestListRefusesBadValues(t *testing.T) {
	a := newListAPI(t)
	for _, tc := range []struct {
		query string
		want  int
		error string
	}{
		{"state=sleeping", 400, `invalid argument: state "sleeping": want asleep, starting, running, stopping, failed`},
		{"state=Running", 400, `invalid argument: state "Running"`},
		{"limit=0", 400, `invalid argument: limit "0": want a number from 1 to 10000`},
		{"limit=10001", 400, `invalid argument: limit "10001"`},
		{"limit=-1", 400, `invalid argument: limit "-1"`},
		{"limit=ten", 400, `invalid argument: limit "ten"`},
		{"after=alice", 400, `invalid argument: after "alice": want the service:id of the previous page's last instance`},
		{"after=notes:Alice", 400, `invalid argument: after "notes:Alice"`},
		{"service=no-tes", 400, `invalid argument: service name`},
		{"service=wiki", 404, `not found: service "wiki" is not configured`},
		{"accounting=maybe", 400, `invalid argument: accounting "maybe": want true or false`},
		{"q=" + strings.Repeat("a", 97), 400, `invalid argument: q: 97 characters, but no instance name is longer than 96`},
		{"states=running", 400, `invalid argument: unknown parameter "states" (known: accounting, after, limit, q, service, state)`},
		{"state=running&state=failed", 400, `invalid argument: parameter "state" given 2 times`},
		{"limit=10&limit=20", 400, `invalid argument: parameter "limit" given 2 times`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			status, _, body := a.call(t, http.MethodGet, "/api/instances?"+tc.query, "local", nil)
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("%d %s: %v", status, body, err)
			}
			if status != tc.want || !strings.HasPrefix(e.Error, tc.error) || strings.Contains(e.Error, "\n") {
				t.Errorf("%d %q, want %d %q", status, e.Error, tc.want, tc.error)
			}
		})
	}
}

// TestListTenantScope: a tenant's filters, search and pages see only its
// own instances, however many others match.
func TestListTenantScope(t *testing.T) {
	a := newListAPI(t, "notes:t1", "blog:alicia", "notes:malice")
	alice, _ := a.token(t, "alice")
	for _, tc := range []struct {
		name  string
		query string
		want  string
	}{
		{"everything", "", "blog:alice=running notes:alice=running"},
		{"a service", "service=notes", "notes:alice=running"},
		{"asleep: others' only", "state=asleep", ""},
		{"a search that others' names match", "q=alic", "blog:alice=running notes:alice=running"},
		{"a search for another's name", "q=bob", ""},
		{"after", "after=blog:zz", "notes:alice=running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, link := a.list(t, "/api/instances?"+tc.query, alice)
			if strings.Join(got, " ") != tc.want || link != "" {
				t.Errorf("got %s, Link %q; want %s", strings.Join(got, " "), link, tc.want)
			}
		})
	}
	page, link := a.list(t, "/api/instances?limit=1", alice)
	if strings.Join(page, " ") != "blog:alice=running" || link != `</api/instances?after=blog%3Aalice&limit=1>; rel="next"` {
		t.Fatalf("first page %v, Link %q", page, link)
	}
	page, link = a.list(t, nextLink.FindStringSubmatch(link)[1], alice)
	if strings.Join(page, " ") != "notes:alice=running" || link != "" {
		t.Errorf("second page %v, Link %q", page, link)
	}
	// A tenant is refused bad values as an admin is.
	if status, _, body := a.call(t, http.MethodGet, "/api/instances?state=gone", alice, nil); status != http.StatusBadRequest {
		t.Errorf("a bad state from a tenant: %d %s", status, body)
	}
}

func TestNameContains(t *testing.T) {
	n := mustInstance(t, "notes:alice-smith")
	for sub, want := range map[string]bool{
		"notes": true, "alice": true, "smith": true, "tes:al": true, ":": true, "notes:alice-smith": true,
		"s:": true, ":a": true, "notes:alice-smith-": false, "x": false, "notes:b": false, "s:a:": false, "ice-s": true,
	} {
		if got := nameContains(n, sub); got != want {
			t.Errorf("nameContains(%s, %q) = %v, want %v", n, sub, got, want)
		}
	}
}
