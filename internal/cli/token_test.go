package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
)

// TestTokenCommands: token create (and token-gen, its old name), list and
// revoke go to the daemon's API and print what docs/api.md promises: the token
// alone on stdout's first line, or {"id", "token", "tenant"} with --json.
func TestTokenCommands(t *testing.T) {
	var sent []string
	server := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sent = append(sent, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/tokens":
			var req apitype.TokenRequest
			json.Unmarshal(body, &req)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(apitype.NewToken{TokenInfo: apitype.TokenInfo{ID: "3f2a9c1b7d4e", Tenant: req.Tenant, Admin: req.Tenant == ""},
				Token: strings.Repeat("s", 43)})
		case "GET /api/tokens":
			json.NewEncoder(w).Encode([]apitype.TokenInfo{{ID: "3f2a9c1b7d4e", Tenant: "alice", CreatedAt: time.Unix(1e9, 0)}, {ID: "0a0b0c0d0e0f", Admin: true}})
		case "DELETE /api/tokens/3f2a9c1b7d4e":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(apitype.ErrorResponse{Error: "not found: " + r.URL.Path})
		}
	}))
	for _, tc := range []struct {
		name     string
		args     []string
		sent     string
		stdout   string // the whole of stdout, or with --json a JSON check
		asJSON   bool
		contains string // in stderr
	}{
		{"create", []string{"token", "create", "--tenant", "alice", "--description", "ci"},
			`POST /api/tokens {"tenant":"alice","description":"ci"}`, strings.Repeat("s", 43) + "\n", false, "a token for tenant alice, id 3f2a9c1b7d4e"},
		{"token-gen, the old name", []string{"token-gen"},
			`POST /api/tokens {}`, strings.Repeat("s", 43) + "\n", false, "an admin token"},
		{"create --json", []string{"token", "create", "--tenant", "bob", "--json"},
			`POST /api/tokens {"tenant":"bob"}`, "", true, ""},
		{"list", []string{"token", "list"}, "GET /api/tokens ", "", false, ""},
		{"revoke", []string{"token", "revoke", "3f2a9c1b7d4e"}, "DELETE /api/tokens/3f2a9c1b7d4e ", "Revoked token 3f2a9c1b7d4e\n", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent = nil
			code, out, errOut := tenIn(nil, append([]string{"--server", server}, tc.args...)...)
			if code != 0 || len(sent) != 1 || sent[0] != tc.sent {
				t.Fatalf("exit %d, stderr %q; sent %q, want %q", code, errOut, sent, tc.sent)
			}
			if !strings.Contains(errOut, tc.contains) {
				t.Errorf("stderr %q lacks %q", errOut, tc.contains)
			}
			switch {
			case tc.asJSON:
				var got map[string]any
				if err := json.Unmarshal([]byte(out), &got); err != nil || got["id"] != "3f2a9c1b7d4e" || got["tenant"] != "bob" || got["token"] != strings.Repeat("s", 43) {
					t.Errorf("--json: %v %s", err, out)
				}
			case tc.name == "list":
				if !strings.Contains(out, "tenant:alice") || !strings.Contains(out, "0a0b0c0d0e0f  admin") {
					t.Errorf("list:\n%s", out)
				}
			case out != tc.stdout:
				t.Errorf("stdout %q, want %q", out, tc.stdout)
			}
		})
	}
	// Without a daemon nothing is created anywhere else: one line says so.
	nowhere := "unix:" + filepath.Join(t.TempDir(), "none.sock")
	for _, args := range [][]string{{"token", "create"}, {"token-gen"}, {"token", "list"}, {"token", "revoke", "3f2a9c1b7d4e"}} {
		code, out, errOut := tenIn(nil, append([]string{"--server", nowhere}, args...)...)
		if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "cannot reach the tenement daemon") {
			t.Errorf("ten %v without a daemon: %d %q %q", args, code, out, errOut)
		}
	}
}
