package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
)

// TestDomainCommands: ten domain add, list and remove send their routes
// and print one line each; a name the daemon would refuse is refused
// before it is asked, and the daemon's refusals are one line too.
func TestDomainCommands(t *testing.T) {
	var sent []string
	server := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sent = append(sent, r.Method+" "+r.URL.RequestURI()+" "+strings.TrimSpace(string(body)))
		w.Header().Set("Content-Type", "application/json")
		at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		switch r.Method + " " + r.URL.Path {
		case "POST /api/domains":
			var req apitype.DomainRequest
			json.Unmarshal(body, &req)
			if req.Domain == "bob.example" && !req.Move {
				w.WriteHeader(http.StatusConflict)
				json.NewEncoder(w).Encode(apitype.ErrorResponse{Error: "conflict: domain bob.example is bound to notes:bob already; remove it there first, or move it"})
				return
			}
			d := apitype.Domain{Domain: strings.ToLower(req.Domain), Instance: req.Instance, CreatedAt: at}
			if req.Move {
				d.MovedFrom = "notes:bob"
			}
			json.NewEncoder(w).Encode(d)
		case "GET /api/domains":
			json.NewEncoder(w).Encode([]apitype.Domain{{Domain: "alice.example", Instance: "notes:alice", CreatedAt: at}})
		case "DELETE /api/domains/alice.example":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(apitype.ErrorResponse{Error: "not found: domain"})
		}
	}))
	for _, tc := range []struct {
		name   string
		args   []string
		sent   string // "" when nothing may be sent
		code   int
		stdout string // a substring
		stderr string // a substring
	}{
		{"add", []string{"domain", "add", "notes:alice", "Alice.Example"},
			`POST /api/domains {"instance":"notes:alice","domain":"Alice.Example"}`, 0, "Bound alice.example to notes:alice\n", ""},
		{"add --move", []string{"domain", "add", "--move", "notes:alice", "bob.example"},
			`POST /api/domains {"instance":"notes:alice","domain":"bob.example","move":true}`, 0, "Moved bob.example from notes:bob to notes:alice\n", ""},
		{"add someone else's", []string{"domain", "add", "notes:alice", "bob.example"},
			`POST /api/domains {"instance":"notes:alice","domain":"bob.example"}`, 1, "", "ten: conflict: domain bob.example is bound to notes:bob already; remove it there first, or move it\n"},
		{"add --json", []string{"domain", "add", "--json", "notes:alice", "alice.example"},
			`POST /api/domains {"instance":"notes:alice","domain":"alice.example"}`, 0, `"instance": "notes:alice"`, ""},
		{"add a wildcard", []string{"domain", "add", "notes:alice", "*.alice.example"}, "", 1, "", "wildcards are not allowed"},
		{"add an IP", []string{"domain", "add", "notes:alice", "192.0.2.1"}, "", 1, "", "is an IP address"},
		{"add to a bad name", []string{"domain", "add", "notes", "alice.example"}, "", 1, "", "want service:id"},
		{"list", []string{"domain", "list"}, "GET /api/domains ", 0, "alice.example  notes:alice", ""},
		{"list one", []string{"domain", "ls", "notes:alice"}, "GET /api/domains?instance=notes%3Aalice ", 0, "alice.example", ""},
		{"remove", []string{"domain", "remove", "Alice.Example."}, "DELETE /api/domains/alice.example ", 0, "Removed alice.example\n", ""},
		{"remove unbound", []string{"domain", "rm", "carol.example"}, "DELETE /api/domains/carol.example ", 1, "", "ten: not found: domain\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent = nil
			code, out, errOut := tenIn(nil, append([]string{"--server", server}, tc.args...)...)
			want := []string{tc.sent}
			if tc.sent == "" {
				want = nil
			}
			if code != tc.code || strings.Join(sent, "|") != strings.Join(want, "|") {
				t.Fatalf("exit %d (want %d), stderr %q; sent %q, want %q", code, tc.code, errOut, sent, want)
			}
			if !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) || strings.Count(errOut, "\n") > 1 {
				t.Errorf("stdout %q (want %q), stderr %q (want %q)", out, tc.stdout, errOut, tc.stderr)
			}
		})
	}
}
