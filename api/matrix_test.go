package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/store"
)

// The matrix: every route, asked by every kind of caller, answers with the
// status and body it must. The callers are the API's whole idea of who
// asks: nobody, a wrong token, a revoked token, the tenant the instance is
// of, another tenant, an admin token, root on the local socket, a member
// of the admin group there, and a local user who is neither.

// caller is who asks.
type caller int

const (
	nobody caller = iota
	badToken
	revokedToken
	ownTenant   // alice, whose instance notes:alice is
	otherTenant // bob
	adminToken
	localRoot
	groupMember
	localUser // neither root nor in the group
	nCallers
)

var callerNames = [nCallers]string{"nobody", "bad token", "revoked token", "tenant of the instance", "tenant of another",
	"admin token", "local root", "local group member", "local user"}

// answer is a status and a body: compact JSON, plain text, or, starting
// with "~", a regexp the whole (compacted) body matches.
type answer struct {
	status int
	body   string
}

// matrixAPI is an API over fakes, with a credential of each caller.
type matrixAPI struct {
	srv     *Server
	changes *changeLog
	audit   *fakeAudit
	secrets [nCallers]string // the tokens, by caller
}

func newMatrixAPI(t *testing.T) *matrixAPI {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	m := &matrixAPI{changes: &changeLog{}, audit: &fakeAudit{}}
	tokens := &fakeTokens{changeLog: m.changes, tokens: map[string]store.Token{}}
	m.srv = New(newFakeInstances(m.changes, "notes:alice", "notes:bob"), log)
	m.srv.group = "root" // gid 0, on every Linux: the group member's primary group
	m.srv.Auditor, m.srv.Tokens, m.srv.Logs, m.srv.Metrics = m.audit, tokens, fakeLogs{}, fakeMetrics{}
	m.srv.Credentials = fakeCredentials{m.changes}
	m.srv.Domains = fakeDomains{m.changes}
	m.srv.Reload = func(context.Context) (Reloaded, error) {
		m.changes.add("reload")
		r := Reloaded{}
		r.Added = []string{"blog"}
		return r, nil
	}
	// Bad tokens from one address must not turn into 429s here.
	throttle := &auth.Throttle{MaxFailures: 1 << 20, Window: time.Minute, Cooldown: time.Minute, Capacity: 16}
	m.srv.Authenticate = TokenAuth(auth.NewAuthenticator(tokens, throttle, nil, log))
	issue := func(tenant string) string {
		secret, _, err := auth.Issue(tokens, tenant, "matrix")
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	m.secrets[badToken] = strings.Repeat("x", auth.SecretLen)
	m.secrets[ownTenant], m.secrets[otherTenant], m.secrets[adminToken] = issue("alice"), issue("bob"), issue("")
	m.secrets[revokedToken] = issue("")
	for _, tok := range must(tokens.Tokens()) {
		if tok.Hash == auth.Hash(m.secrets[revokedToken]) {
			must(tokens.RevokeToken(tok.ID))
		}
	}
	return m
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// do sends a request as c and returns its answer.
func (m *matrixAPI) do(c caller, method, path, body string) answer {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	switch c {
	case localRoot:
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, Peer{UID: 0, GID: 0}))
	case groupMember:
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, Peer{UID: 4242, GID: 0}))
	case localUser:
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, Peer{UID: 4242, GID: 4242}))
	default:
		if m.secrets[c] != "" {
			r.Header.Set("Authorization", "Bearer "+m.secrets[c])
		}
	}
	w := httptest.NewRecorder()
	m.srv.ServeHTTP(w, r)
	got, _ := io.ReadAll(w.Result().Body)
	var compact bytes.Buffer
	if json.Compact(&compact, got) == nil {
		got = compact.Bytes()
	}
	return answer{w.Code, string(got)}
}

func (a answer) matches(want answer) bool {
	if a.status != want.status {
		return false
	}
	if re, ok := strings.CutPrefix(want.body, "~"); ok {
		return regexp.MustCompile("^(?:" + re + ")$").MatchString(a.body)
	}
	return a.body == want.body
}

// Answers that many routes share.
var (
	noContent = answer{http.StatusNoContent, ""}
	// notTheirs is what a tenant hears of another's instance: that it
	// does not exist.
	notTheirs = answer{http.StatusNotFound, `{"error":"not found: instance notes:alice"}`}
)

func ok(body string) answer { return answer{http.StatusOK, body} }

// notInAFleet is an admin's answer to a fleet's route outside a fleet.
func notInAFleet(what string) answer {
	return answer{http.StatusNotImplemented, `{"error":"not implemented: ` + what + `: this daemon is not in a fleet (no [fleet] in its config)"}`}
}
func forbidden(what string) answer {
	return answer{http.StatusForbidden, `{"error":"forbidden: ` + what + ` needs an admin token"}`}
}

// inst is an instance of the fake as the API shows it.
func inst(id string, port int) string {
	return fmt.Sprintf(`{"id":"notes:%[1]s","service":"notes","instance_id":"%[1]s","unit":"tenement@notes-%[1]s.service","state":"running",`+
		`"health":"healthy","port":%[2]d,"socket":"127.0.0.1:%[2]d","weight":100,"restarts":0,"uptime_secs":0,"idle_secs":0,`+
		`"memory_bytes":null,"cpu_usage_nsec":null,"data_dir":"/var/lib/tenement/notes/%[1]s","isolation":"process","activation":"proxy",`+
		`"storage_used_bytes":null,"storage_quota_bytes":null}`, id, port)
}

// logLine is the fake journal's line of an instance.
func logLine(id string) string {
	return fmt.Sprintf(`{"time":"2025-06-01T12:00:00Z","timestamp":1748779200000,"instance":"notes:%[1]s","process":"notes",`+
		`"instance_id":"%[1]s","level":"info","priority":6,"source":"app","pid":7,"message":"hi from notes:%[1]s"}`, id)
}

var (
	alice, bob   = inst("alice", 21001), inst("bob", 21002)
	aliceDomain  = `{"domain":"alice.example","instance":"notes:alice","created_at":"2025-06-01T12:00:00Z"}`
	bobDomain    = `{"domain":"bob.example","instance":"notes:bob","created_at":"2025-06-01T12:00:00Z"}`
	aliceStarted = `{"instance":"notes:alice","socket":"127.0.0.1:21001","port":21001,"state":"running","unit":"tenement@notes-alice.service"}`
	// summaryOf is the summary of an admin ("" tenant) or a tenant, of n
	// running instances, with fakeMetrics' activity of the instances it
	// reads: a tenant's counts are its own only.
	summaryOf = func(tenant string, n int) string {
		scope := `"scope":"admin"`
		activity := `"wakes_total":4,"wake_errors_total":1,"requests_total":6,` +
			`"wakes_by_cause":\{"deploy":0,"request":3,"schedule":1,"spawn":0\},"wake_avg_ms":133.3,"asleep_seconds_total":15,"probes_answered_total":4`
		switch tenant {
		case "alice":
			activity = `"wakes_total":2,"wake_errors_total":0,"requests_total":5,` +
				`"wakes_by_cause":\{"deploy":0,"request":1,"schedule":1,"spawn":0\},"wake_avg_ms":150,"asleep_seconds_total":10,"probes_answered_total":3`
		case "bob":
			activity = `"wakes_total":2,"wake_errors_total":1,"requests_total":1,` +
				`"wakes_by_cause":\{"deploy":0,"request":2,"schedule":0,"spawn":0\},"wake_avg_ms":100,"asleep_seconds_total":5,"probes_answered_total":1`
		}
		if tenant != "" {
			scope = `"scope":"tenant","tenant":"` + tenant + `"`
		}
		return `~\{` + scope + `,"instances":` + fmt.Sprint(n) +
			`,"states":\{"asleep":0,"failed":0,"running":` + fmt.Sprint(n) + `,"starting":0,"stopping":0\},` +
			`"restarts":0,"wakes_last_minute":0,` + activity + `,"time":"[^"]+"\}`
	}
)

// route is one route of the matrix with the answers of the three kinds of
// callers that get past authentication: an admin (token, root or group
// member), alice (the instance's tenant; for lists, the tenant asking)
// and bob (another tenant).
type route struct {
	method, path, body string
	admin, own, other  answer
}

var routes = []route{
	{"GET", "/api/instances", "", ok("[" + alice + "," + bob + "]"), ok("[" + alice + "]"), ok("[" + bob + "]")},
	{"POST", "/api/instances", `{"instances":["notes:carol"]}`, ok(`{"created":1,"known":0}`), forbidden("create"), forbidden("create")},
	{"POST", "/api/instances/spawn", `{"service":"notes","id":"alice"}`, ok(aliceStarted), forbidden("spawn"), forbidden("spawn")},
	{"POST", "/api/instances/spawn", `{"process":"notes","id":"alice"}`, ok(aliceStarted), forbidden("spawn"), forbidden("spawn")},
	{"GET", "/api/instances/notes:alice", "", ok(alice), ok(alice), notTheirs},
	{"POST", "/api/instances/notes:alice/keep-awake", `{"for":"0"}`, ok(`{"instance":"notes:alice"}`), ok(`{"instance":"notes:alice"}`), notTheirs},
	{"POST", "/api/instances/notes:alice/stop", "", noContent, forbidden("stop"), forbidden("stop")},
	{"DELETE", "/api/instances/notes:alice", "", noContent, forbidden("stop"), forbidden("stop")},
	{"POST", "/api/instances/notes:alice/restart", "", ok(aliceStarted), ok(aliceStarted), notTheirs},
	{"POST", "/api/instances/notes:alice/delete", `{"purge":true}`, noContent, forbidden("delete"), forbidden("delete")},
	{"PUT", "/api/instances/notes:alice/weight", `{"weight":50}`, ok(`{"instance":"notes:alice","weight":50}`), forbidden("weight"), forbidden("weight")},
	{"GET", "/api/instances/notes:alice/health", "", ok(`{"instance":"notes:alice","health":"healthy","state":"running"}`),
		ok(`{"instance":"notes:alice","health":"healthy","state":"running"}`), notTheirs},
	{"GET", "/api/instances/notes:alice/storage", "",
		ok(`{"instance":"notes:alice","used_bytes":4096,"quota_bytes":null,"usage_percent":null,"path":"/var/lib/tenement/notes/alice"}`),
		ok(`{"instance":"notes:alice","used_bytes":4096,"quota_bytes":null,"usage_percent":null,"path":"/var/lib/tenement/notes/alice"}`), notTheirs},
	{"POST", "/api/deploy", `{"service":"notes","version":"v2","weight":10}`,
		ok(`{"instance":"notes:v2","socket":"127.0.0.1:21003","port":21003,"unit":"tenement@notes-v2.service","weight":10,"status":"healthy"}`),
		forbidden("deploy"), forbidden("deploy")},
	{"POST", "/api/route", `{"service":"notes","from":"alice","to":"bob"}`,
		ok(`{"from_instance":"notes:alice","to_instance":"notes:bob","from_weight":0,"to_weight":100}`), forbidden("route"), forbidden("route")},
	{"POST", "/api/services/notes/restart", "", ok(`{"service":"notes","restarted":["notes:alice","notes:bob"]}`),
		forbidden("restart of a service"), forbidden("restart of a service")},
	{"POST", "/api/config/reload", "", ok(`{"added":["blog"]}`), forbidden("config reload"), forbidden("config reload")},
	{"GET", "/api/logs?instance=notes:alice", "", ok("[" + logLine("alice") + "]"), ok("[" + logLine("alice") + "]"), notTheirs},
	{"GET", "/api/logs?process=notes&id=alice", "", ok("[" + logLine("alice") + "]"), ok("[" + logLine("alice") + "]"), notTheirs},
	{"GET", "/api/logs?id=alice", "", ok("[" + logLine("alice") + "]"), ok("[" + logLine("alice") + "]"),
		answer{http.StatusNotFound, `{"error":"not found: instances with id \"alice\""}`}},
	{"GET", "/api/logs", "", ok("[" + logLine("alice") + "," + logLine("bob") + "]"), ok("[" + logLine("alice") + "]"), ok("[" + logLine("bob") + "]")},
	{"GET", "/api/logs/stream?instance=notes:alice", "", ok(": streaming\n\ndata: " + logLine("alice") + "\n\n"),
		ok(": streaming\n\ndata: " + logLine("alice") + "\n\n"), notTheirs},
	{"GET", "/api/logs/stream", "", ok(": streaming\n\ndata: " + logLine("alice") + "\n\ndata: " + logLine("bob") + "\n\n"),
		ok(": streaming\n\ndata: " + logLine("alice") + "\n\n"), ok(": streaming\n\ndata: " + logLine("bob") + "\n\n")},
	{"GET", "/metrics", "", ok("series of notes:alice notes:bob\n"), ok("series of notes:alice\n"), ok("series of notes:bob\n")},
	{"GET", "/api/summary", "", ok(summaryOf("", 2)), ok(summaryOf("alice", 1)), ok(summaryOf("bob", 1))},
	{"GET", "/api/tokens", "",
		ok(`~\[(\{"id":"[0-9a-f]{12}","tenant":"[a-z]*","admin":(true|false),"description":"matrix","created_at":"[^"]+"\},?){3}\]`),
		forbidden("listing tokens"), forbidden("listing tokens")},
	{"POST", "/api/tokens", `{"tenant":"zed"}`,
		answer{http.StatusCreated, `~\{"id":"[0-9a-f]{12}","tenant":"zed","admin":false,"created_at":"[^"]+","token":"[A-Za-z0-9_-]{43}"\}`},
		forbidden("creating tokens"), forbidden("creating tokens")},
	{"DELETE", "/api/tokens/" + revokeID, "", noContent, forbidden("revoking tokens"), forbidden("revoking tokens")},
	{"GET", "/api/audit", "", ok(`[{"seq":1,"time":"2025-06-01T12:00:00Z","actor":"uid:0","action":"spawn","target":"notes:alice","result":"ok"}]`),
		forbidden("reading the audit log"), forbidden("reading the audit log")},
	{"GET", "/api/credentials/notes:alice", "", ok(`[{"name":"DB_PASSWORD","size":6,"modified":"2025-06-01T12:00:00Z","scope":"instance"}]`),
		forbidden("managing credentials"), forbidden("managing credentials")},
	{"PUT", "/api/credentials/notes:alice/DB_PASSWORD", "s3cret",
		ok(`{"target":"notes:alice","name":"DB_PASSWORD","size":6,"modified":"2025-06-01T12:00:00Z","scope":"instance"}`),
		forbidden("managing credentials"), forbidden("managing credentials")},
	{"DELETE", "/api/credentials/notes:alice/DB_PASSWORD", "", noContent, forbidden("managing credentials"), forbidden("managing credentials")},
	{"GET", "/api/domains", "", ok("[" + aliceDomain + "," + bobDomain + "]"), ok("[" + aliceDomain + "]"), ok("[" + bobDomain + "]")},
	{"GET", "/api/domains?instance=notes:alice", "", ok("[" + aliceDomain + "]"), ok("[" + aliceDomain + "]"), notTheirs},
	{"POST", "/api/domains", `{"instance":"notes:alice","domain":"WWW.Alice.example."}`,
		ok(`{"domain":"www.alice.example","instance":"notes:alice","created_at":"2025-06-01T12:00:00Z"}`),
		forbidden("binding domains"), forbidden("binding domains")},
	{"DELETE", "/api/domains/alice.example", "", noContent, forbidden("removing domains"), forbidden("removing domains")},
	{"POST", "/api/instances/notes:alice/move", `{"to":"h2"}`, notInAFleet("move"), forbidden("move"), forbidden("move")},
	{"PUT", "/api/instances/notes:alice/data", "tar", notInAFleet("moving data"), forbidden("moving data"), forbidden("moving data")},
	{"DELETE", "/api/instances/notes:alice/data", "", notInAFleet("moving data"), forbidden("moving data"), forbidden("moving data")},
	{"POST", "/api/hosts/h2/drain", "", notInAFleet("drain"), forbidden("drain"), forbidden("drain")},
	{"POST", "/api/instances", `{"instances":["notes:carol"],"host":"h2"}`,
		answer{http.StatusBadRequest, `{"error":"invalid argument: host \"h2\": this daemon is not in a fleet (no [fleet] in its config)"}`},
		forbidden("create"), forbidden("create")},
	{"GET", "/api/nope", "", answer{http.StatusNotFound, `{"error":"not found: GET /api/nope"}`},
		answer{http.StatusNotFound, `{"error":"not found: GET /api/nope"}`}, answer{http.StatusNotFound, `{"error":"not found: GET /api/nope"}`}},
	{"GET", "/api/instances/notes:alice/restart", "",
		answer{http.StatusMethodNotAllowed, `{"error":"method not allowed: GET /api/instances/notes:alice/restart (allowed: POST)"}`},
		answer{http.StatusMethodNotAllowed, `{"error":"method not allowed: GET /api/instances/notes:alice/restart (allowed: POST)"}`},
		answer{http.StatusMethodNotAllowed, `{"error":"method not allowed: GET /api/instances/notes:alice/restart (allowed: POST)"}`}},
}

// want is the answer route r owes caller c.
func (r route) want(c caller) answer {
	switch c {
	case nobody:
		return answer{http.StatusUnauthorized, `{"error":"unauthorized: missing bearer token"}`}
	case badToken, revokedToken:
		return answer{http.StatusUnauthorized, `{"error":"unauthorized: invalid token"}`}
	case localUser:
		return answer{http.StatusForbidden, `{"error":"forbidden: uid 4242 is neither root nor in group root"}`}
	case ownTenant:
		return r.own
	case otherTenant:
		return r.other
	}
	return r.admin
}

func TestRouteMatrix(t *testing.T) {
	m := newMatrixAPI(t)
	for _, r := range routes {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			for c := range nCallers {
				want := r.want(c)
				m.changes.take()
				audited := len(m.audit.log)
				got := m.do(c, r.method, r.path, r.body)
				if !got.matches(want) {
					t.Errorf("%s: %d %s\n want %d %s", callerNames[c], got.status, got.body, want.status, want.body)
				}
				// A refused request changes nothing and is audited as
				// nothing.
				if changed := m.changes.take(); got.status >= 400 && (len(changed) > 0 || len(m.audit.log) != audited) {
					t.Errorf("%s: refused with %d, but changed %v and audited %v", callerNames[c], got.status, changed, m.audit.log[audited:])
				}
			}
		})
	}
	// /health is public: anyone, with a credential or without.
	for c := range nCallers {
		if got := m.do(c, "GET", "/health", ""); !got.matches(ok(`{"status":"ok"}`)) {
			t.Errorf("GET /health as %s: %d %s", callerNames[c], got.status, got.body)
		}
	}
}

// TestRouteMatrixCoversEveryRoute: a route added to the server without a
// row in the matrix fails here.
func TestRouteMatrixCoversEveryRoute(t *testing.T) {
	m := newMatrixAPI(t)
	covered := map[string]bool{}
	for _, r := range routes {
		req := httptest.NewRequest(r.method, r.path, nil)
		_, pattern := m.srv.mux.Handler(req)
		covered[pattern] = true
	}
	for _, p := range m.srv.patterns {
		if !covered[p] {
			t.Errorf("route %q is not in the matrix", p)
		}
	}
}
