package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

func TestListSendsTheQueryAndReadsTheNextCursor(t *testing.T) {
	var gotQuery string
	link := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		if link != "" {
			w.Header().Add("Link", link)
		}
		fmt.Fprint(w, `[{"id": "notes:t1", "state": "asleep"}]`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "")
	q := apitype.ListQuery{Service: "notes", State: "asleep", Match: "t 1", After: names.Instance{Service: "notes", ID: "t0"}, Limit: 1, NoAccounting: true}
	for _, tc := range []struct {
		name string
		link string
		want string // the next cursor, "" for none
		err  bool
	}{
		{"no Link", "", "", false},
		{"next", `</api/instances?after=notes%3At1&limit=1>; rel="next"`, "notes:t1", false},
		{"next among others", `</x>; rel="prev", </api/instances?after=notes%3At1>; title="x"; REL=next`, "notes:t1", false},
		{"several types", `</api/instances?after=notes%3At1>; rel="last next"`, "notes:t1", false},
		{"only another relation", `</api/instances?after=notes%3At1>; rel="prev"`, "", false},
		{"a next without a cursor", `</api/instances?limit=1>; rel="next"`, "", true},
		{"a next with a bad cursor", `</api/instances?after=Notes>; rel="next"`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link = tc.link
			list, next, err := c.List(context.Background(), q)
			if gotQuery != "accounting=false&after=notes%3At0&limit=1&q=t+1&service=notes&state=asleep" {
				t.Errorf("query %q", gotQuery)
			}
			if tc.err {
				if err == nil {
					t.Errorf("no error for Link %q", tc.link)
				}
				return
			}
			if err != nil || len(list) != 1 || list[0].Name != "notes:t1" {
				t.Fatalf("%v, %v", list, err)
			}
			if got := next.String(); (tc.want == "" && !next.IsZero()) || (tc.want != "" && got != tc.want) {
				t.Errorf("next %q, want %q", got, tc.want)
			}
		})
	}
	// The zero query asks for everything, as Instances does.
	link = ""
	if _, _, err := c.List(context.Background(), apitype.ListQuery{}); err != nil || gotQuery != "" {
		t.Errorf("zero query: %q, %v", gotQuery, err)
	}
}
