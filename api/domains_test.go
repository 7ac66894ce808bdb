package api

import (
	"strings"
	"testing"

	"github.com/tenement/tenement/domains"
)

// The domain routes over the real table and store: what an admin may
// bind is checked and refused in one line with the status of its kind;
// a tenant lists its own instances' domains only, and binds nothing.
func TestDomainRoutes(t *testing.T) {
	a := newTestAPI(t, "notes:alice", "notes:bob")
	tb, err := domains.Open(domains.Options{Store: a.st, Root: "example.com", MaxPerInstance: 2})
	if err != nil {
		t.Fatal(err)
	}
	a.srv.Domains = tb
	aliceTok, _ := a.token(t, "alice")
	bind := func(token, body string) (int, string) {
		code, _, out := a.call(t, "POST", "/api/domains", token, strings.NewReader(body))
		return code, out
	}
	for _, tt := range []struct {
		name, token, body string
		code              int
		want              string // a substring of the answer
	}{
		{"bind", "local", `{"instance":"notes:alice","domain":"Notes.Alice-Corp.com"}`, 200, `"domain":"notes.alice-corp.com"`},
		{"idn", "local", `{"instance":"notes:alice","domain":"bücher.example"}`, 200, `"domain":"xn--bcher-kva.example"`},
		{"bob's own", "local", `{"instance":"notes:bob","domain":"bob.example"}`, 200, `"instance":"notes:bob"`},
		{"bound elsewhere", "local", `{"instance":"notes:bob","domain":"notes.alice-corp.com"}`, 409,
			`"conflict: domain notes.alice-corp.com is bound to notes:alice already; remove it there first, or move it"`},
		{"the root domain", "local", `{"instance":"notes:bob","domain":"example.com"}`, 400, "is under settings.domain example.com"},
		{"under the root domain", "local", `{"instance":"notes:bob","domain":"alice.notes.example.com"}`, 400, "is under settings.domain example.com"},
		{"ip literal", "local", `{"instance":"notes:bob","domain":"192.0.2.7"}`, 400, "is an IP address"},
		{"wildcard", "local", `{"instance":"notes:bob","domain":"*.bob.example"}`, 400, "wildcards are not allowed"},
		{"unknown instance", "local", `{"instance":"notes:carol","domain":"carol.example"}`, 404, "instance notes:carol"},
		{"bad instance", "local", `{"instance":"notes","domain":"carol.example"}`, 400, "want service:id"},
		{"over the cap", "local", `{"instance":"notes:alice","domain":"third.alice.example"}`, 409, "max_domains_per_instance"},
		{"a tenant binds", aliceTok, `{"instance":"notes:alice","domain":"mine.example"}`, 403, "binding domains needs an admin token"},
		{"moved", "local", `{"instance":"notes:bob","domain":"notes.alice-corp.com","move":true}`, 200, `"moved_from":"notes:alice"`},
	} {
		code, out := bind(tt.token, tt.body)
		if code != tt.code || !strings.Contains(out, tt.want) || (code >= 400 && strings.Count(out, "\n") > 2) {
			t.Errorf("%s: %d %s\n want %d with %q", tt.name, code, out, tt.code, tt.want)
		}
	}
	// The tenant lists its own: alice has bücher.example left.
	if code, _, out := a.call(t, "GET", "/api/domains", aliceTok, nil); code != 200 ||
		!strings.Contains(out, "xn--bcher-kva.example") || strings.Contains(out, "bob.example") || strings.Contains(out, "alice-corp") {
		t.Errorf("tenant's list: %d %s", code, out)
	}
	if code, _, _ := a.call(t, "GET", "/api/domains?instance=notes:bob", aliceTok, nil); code != 404 {
		t.Errorf("tenant asking for bob's: %d, want 404", code)
	}
	if code, _, out := a.call(t, "DELETE", "/api/domains/notes.alice-corp.com", aliceTok, nil); code != 403 {
		t.Errorf("tenant removes a domain: %d %s", code, out)
	}
	if code, _, out := a.call(t, "DELETE", "/api/domains/Notes.Alice-Corp.com.", "local", nil); code != 204 {
		t.Errorf("remove: %d %s", code, out)
	}
	if code, _, out := a.call(t, "DELETE", "/api/domains/notes.alice-corp.com", "local", nil); code != 404 {
		t.Errorf("remove again: %d %s, want 404", code, out)
	}
	if code, _, out := a.call(t, "GET", "/api/domains?instance=notes:bob", "local", nil); code != 200 ||
		strings.Count(out, `"domain"`) != 1 || !strings.Contains(out, `"domain":"bob.example"`) {
		t.Errorf("bob's, after the moved one was removed: %d %s", code, out)
	}
	// Every change is audited, refusals to admins included.
	log, _ := a.st.AuditLog(0)
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action+" "+e.Target+" "+e.Result[:min(2, len(e.Result))])
	}
	if got := strings.Join(actions, ", "); !strings.Contains(got, "domain-add notes.alice-corp.com ok") ||
		!strings.Contains(got, "domain-add example.com er") || !strings.Contains(got, "domain-remove notes.alice-corp.com ok") {
		t.Errorf("audit: %s", got)
	}
}
