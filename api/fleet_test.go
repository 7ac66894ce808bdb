package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// fakeFleet records what the API asks of the fleet.
type fakeFleet struct{ *changeLog }

func (f fakeFleet) Create(_ context.Context, ns []names.Instance, host string) (apitype.CreateResponse, error) {
	f.add("create %v on %q", ns, host)
	return apitype.CreateResponse{Created: len(ns), Hosts: map[string]int{"h2": len(ns)}}, nil
}

func (f fakeFleet) Spawn(_ context.Context, n names.Instance, host string) (supervisor.Info, error) {
	f.add("spawn %s on %q", n, host)
	return supervisor.Info{Instance: n, Unit: n.Unit(), State: supervisor.StateRunning, Host: "h2"}, nil
}

func (f fakeFleet) Move(_ context.Context, n names.Instance, to string, withoutData bool) (apitype.MoveResponse, error) {
	f.add("move %s to %s without data %v", n, to, withoutData)
	return apitype.MoveResponse{Instance: n.String(), From: "h1", To: to}, nil
}

func (f fakeFleet) ImportData(_ context.Context, n names.Instance, r io.Reader) (int64, error) {
	b, _ := io.ReadAll(r)
	f.add("import %s %q", n, b)
	return int64(len(b)), nil
}

func (f fakeFleet) DropData(_ context.Context, n names.Instance) error {
	f.add("drop %s", n)
	return nil
}

func (f fakeFleet) Drain(_ context.Context, host string) (apitype.DrainResponse, error) {
	f.add("drain %s", host)
	return apitype.DrainResponse{Host: host}, nil
}

// TestFleetRoutes: in a fleet, creations and spawns name their host, a
// peer (its hop checked by the proxy) is an admin that the write limit
// does not hold back, and a tenant may do none of it.
func TestFleetRoutes(t *testing.T) {
	changes := &changeLog{}
	tokens := &fakeTokens{changeLog: changes, tokens: map[string]store.Token{}}
	srv := New(newFakeInstances(changes, "notes:alice"), slog.New(slog.DiscardHandler))
	audit := &fakeAudit{}
	srv.Auditor, srv.Tokens, srv.Fleet = audit, tokens, fakeFleet{changes}
	srv.Authenticate = FleetAuth(TokenAuth(auth.NewAuthenticator(tokens, nil, nil, nil)))
	srv.LimitWrites(1)
	admin, _, _ := auth.Issue(tokens, "", "t")
	alice, _, _ := auth.Issue(tokens, "alice", "t")
	changes.take()
	do := func(who, method, path, body string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		switch who {
		case "peer":
			r = r.WithContext(auth.WithPeer(r.Context(), "h1"))
		case "admin":
			r.Header.Set("Authorization", "Bearer "+admin)
		case "alice":
			r.Header.Set("Authorization", "Bearer "+alice)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	for _, tc := range []struct {
		who, method, path, body string
		status                  int
		change                  string
	}{
		{"admin", "POST", "/api/instances", `{"instances":["notes:x"],"host":"h2"}`, 200, `create [notes:x] on "h2"`},
		{"alice", "POST", "/api/instances/spawn", `{"service":"notes","id":"alice","host":"h2"}`, 403, ""},
		{"peer", "POST", "/api/instances/spawn", `{"service":"notes","id":"y","host":"h2"}`, 200, `spawn notes:y on "h2"`},
		{"peer", "PUT", "/api/instances/notes:y/data", "TAR", 200, `import notes:y "TAR"`},
		{"peer", "PUT", "/api/instances/notes:y/data", "TAR", 200, `import notes:y "TAR"`},
		{"peer", "DELETE", "/api/instances/notes:y/data", "", 204, "drop notes:y"},
		{"peer", "POST", "/api/instances/notes:y/move", `{"to":"h3"}`, 200, "move notes:y to h3 without data false"},
		{"nobody", "POST", "/api/hosts/h1/drain", "", 401, ""},
		{"peer", "POST", "/api/hosts/h1/drain", "", 200, "drain h1"},
	} {
		status, body := do(tc.who, tc.method, tc.path, tc.body)
		got := strings.Join(changes.take(), "; ")
		if status != tc.status || got != tc.change {
			t.Errorf("%s %s %s: %d %s, changed %q; want %d, %q", tc.who, tc.method, tc.path, status, body, got, tc.status, tc.change)
		}
	}
	if n := len(audit.log); n == 0 || audit.log[n-1].Actor != "fleet:h1" {
		t.Errorf("the peer's calls are audited as %+v, want actor fleet:h1", audit.log)
	}
	// the admin token, limited to one write a minute, is held back
	if status, _ := do("admin", "POST", "/api/instances", `{"instances":["notes:z"]}`); status != http.StatusTooManyRequests {
		t.Errorf("a second write of a token limited to one: %d, want 429", status)
	}
}
