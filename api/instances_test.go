package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/tenement/tenement/apitype"
)

// TestTenantListAsksOnlyAboutOwn: with 200 running instances of other
// tenants, a tenant's list, summary and log query show the tenant's own two
// instances and nothing else; no list, not even an admin's, asks systemd
// anything (the supervisor answers from memory).
func TestTenantListAsksOnlyAboutOwn(t *testing.T) {
	running := []string{"notes:alice", "blog:alice"}
	for i := range 200 {
		running = append(running, fmt.Sprintf("notes:t%03d", i))
	}
	a := newTestAPI(t, running...)
	alice, _ := a.token(t, "alice")
	admin, _ := a.token(t, "")

	for _, tc := range []struct {
		name       string
		path       string
		token      string
		wantList   []string
		wantStates int64
	}{
		{"tenant list", "/api/instances", alice, []string{"blog:alice", "notes:alice"}, 0},
		{"tenant list without accounting", "/api/instances?accounting=false", alice, []string{"blog:alice", "notes:alice"}, 0},
		{"tenant summary", "/api/summary", alice, nil, 0},
		{"admin list", "/api/instances", admin, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.sd.states.Load()
			status, _, body := a.call(t, http.MethodGet, tc.path, tc.token, nil)
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, body)
			}
			if got := a.sd.states.Load() - before; got > tc.wantStates {
				t.Errorf("asked systemd %d times, want at most %d", got, tc.wantStates)
			}
			if tc.wantList == nil {
				return
			}
			var list []apitype.Instance
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, i := range list {
				got = append(got, i.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantList) {
				t.Errorf("list %v, want %v", got, tc.wantList)
			}
		})
	}
	// A tenant without instances gets an empty array, not null.
	bob, _ := a.token(t, "bob")
	if status, _, body := a.call(t, http.MethodGet, "/api/instances", bob, nil); status != 200 || body != "[]" {
		t.Errorf("bob's list: %d %s", status, body)
	}
	// The summary counts the tenant's own only.
	var sum apitype.Summary
	_, _, body := a.call(t, http.MethodGet, "/api/summary", alice, nil)
	if err := json.Unmarshal([]byte(body), &sum); err != nil || sum.Instances != 2 || sum.States[apitype.StateRunning] != 2 {
		t.Errorf("tenant summary %s: %v", body, err)
	}
}
