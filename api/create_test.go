package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestCreateRegistersManyAsleep(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.token(t, "alice")
	var ids []string
	for i := range 1000 {
		ids = append(ids, fmt.Sprintf("%q", fmt.Sprintf("notes:t%04d", i)))
	}
	body := `{"instances": [` + strings.Join(ids, ",") + `]}`
	if status, _, out := a.call(t, http.MethodPost, "/api/instances", alice, strings.NewReader(body)); status != http.StatusForbidden {
		t.Errorf("a tenant token: %d %s, want 403", status, out)
	}
	status, _, out := a.call(t, http.MethodPost, "/api/instances", "local", strings.NewReader(body))
	if status != http.StatusOK || strings.TrimSpace(out) != `{"created":1000,"known":0}` {
		t.Fatalf("create: %d %s", status, out)
	}
	_, _, out = a.call(t, http.MethodGet, "/api/instances?accounting=false", "local", nil)
	var list []struct{ State string }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1000 {
		t.Fatalf("list after create: %d, %v", len(list), err)
	}
	for _, i := range list {
		if i.State != "asleep" {
			t.Fatalf("a created instance is %s", i.State)
		}
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"instances": ["notes:t0001", "notes:new"]}`, http.StatusOK},
		{`{"instances": ["notes:ok", "notes:Bad"]}`, http.StatusBadRequest},
		{`{"instances": ["nope:x"]}`, http.StatusNotFound},
		{`{"instances": []}`, http.StatusBadRequest},
	} {
		if status, _, out := a.call(t, http.MethodPost, "/api/instances", "local", strings.NewReader(tc.body)); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.body, status, out, tc.want)
		}
	}
	if status, _, _ := a.call(t, http.MethodGet, "/api/instances/notes:ok", "local", nil); status != http.StatusNotFound {
		t.Errorf("a refused batch stored notes:ok: %d", status)
	}
}
