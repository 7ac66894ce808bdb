package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// psServer answers GET /api/instances over a unix socket from a fixed,
// ordered list, with the daemon's query parsing, limit, cursor and Link
// header; it records the queries it was sent.
type psServer struct {
	sock    string
	queries []string
}

func newPSServer(t *testing.T, all ...string) *psServer {
	t.Helper()
	s := &psServer{sock: filepath.Join(t.TempDir(), "api.sock")}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.queries = append(s.queries, r.URL.RawQuery)
		q, err := apitype.ParseListQuery(r.URL.Query())
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		out := []apitype.Instance{}
		var last names.Instance
		for _, name := range all {
			n, _ := names.Parse(name)
			if !q.After.Less(n) && !q.After.IsZero() {
				continue
			}
			if q.Limit > 0 && len(out) == q.Limit {
				q.After = last
				w.Header().Set("Link", "</api/instances?"+q.Values().Encode()+`>; rel="next"`)
				break
			}
			out, last = append(out, apitype.Instance{Name: name, Unit: n.Unit(), State: apitype.StateAsleep}), n
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

var nextHint = regexp.MustCompile(`^More instances follow; the next page: ten ps (.*)\n$`)

// TestPsPages walks five instances two at a time by running the command
// each page's last line gives, and checks that stdout holds only the table.
func TestPsPages(t *testing.T) {
	s := newPSServer(t, "blog:a", "notes:a", "notes:b", "notes:c", "notes:d")
	args := []string{"--state", "asleep", "--limit", "2"}
	var got []string
	for page := 1; ; page++ {
		if page > 5 {
			t.Fatal("more pages than instances")
		}
		code, out, errOut := tenIn(nil, append([]string{"--server", "unix:" + s.sock, "ps"}, args...)...)
		if code != 0 {
			t.Fatalf("ps %v: %s", args, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.HasPrefix(lines[0], "INSTANCE") || len(lines) > 3 {
			t.Fatalf("page %d: stdout %q, want a header and at most 2 rows", page, out)
		}
		for _, l := range lines[1:] {
			got = append(got, strings.Fields(l)[0])
		}
		if errOut == "" {
			break
		}
		m := nextHint.FindStringSubmatch(errOut)
		if m == nil {
			t.Fatalf("page %d: stderr %q", page, errOut)
		}
		args = strings.Fields(m[1])
	}
	if strings.Join(got, " ") != "blog:a notes:a notes:b notes:c notes:d" {
		t.Errorf("the pages list %v", got)
	}
	want := []string{"limit=2&state=asleep", "after=notes%3Aa&limit=2&state=asleep", "after=notes%3Ac&limit=2&state=asleep"}
	if strings.Join(s.queries, " ") != strings.Join(want, " ") {
		t.Errorf("queries\n %v, want\n %v", s.queries, want)
	}
}

func TestPsFlags(t *testing.T) {
	s := newPSServer(t, "notes:a", "notes:b")
	server := "unix:" + s.sock
	for _, tc := range []struct {
		name      string
		args      []string
		wantQuery string
		wantOut   string // a substring of stdout
		wantErr   string // stderr
	}{
		{"no flags: everything, as before", nil, "", "notes:b", ""},
		{"every filter", []string{"--service", "notes", "--state", "failed", "--match", "Al", "--after", "blog:z"},
			"after=blog%3Az&q=al&service=notes&state=failed", "", ""},
		{"json, with a next page", []string{"--limit", "1", "--json", "--match", "it's a"},
			"limit=1&q=it%27s+a", `"id": "notes:a"`, "More instances follow; the next page: ten ps --match 'it'\\''s a' --limit 1 --after notes:a --json\n"},
		{"the last page has no hint", []string{"--limit", "1", "--after", "notes:a"}, "after=notes%3Aa&limit=1", "notes:b", ""},
		{"an empty page", []string{"--limit", "1", "--after", "notes:b"}, "after=notes%3Ab&limit=1", "No instances match", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.queries = nil
			code, out, errOut := tenIn(nil, append([]string{"--server", server, "ps"}, tc.args...)...)
			if code != 0 || errOut != tc.wantErr || !strings.Contains(out, tc.wantOut) {
				t.Errorf("exit %d, stdout %q, stderr %q; want stdout with %q, stderr %q", code, out, errOut, tc.wantOut, tc.wantErr)
			}
			// The fake pages but does not filter: a filter's query is what
			// is checked here (the api package tests the answers).
			if len(s.queries) != 1 || s.queries[0] != tc.wantQuery {
				t.Errorf("queries %q, want %q", s.queries, tc.wantQuery)
			}
		})
	}
}

func TestPsRefusesBadFlagsBeforeAsking(t *testing.T) {
	s := newPSServer(t, "notes:a")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--state", "sleeping"}, `ten: invalid argument: state "sleeping": want asleep, starting, running, stopping, failed`},
		{[]string{"--limit", "-1"}, `ten: invalid argument: limit "-1": want a number from 1 to 10000`},
		{[]string{"--limit", "10001"}, `ten: invalid argument: limit "10001"`},
		{[]string{"--after", "alice"}, `ten: invalid argument: after "alice"`},
		{[]string{"--service", "Notes"}, `ten: invalid argument: service name`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := tenIn(nil, append([]string{"--server", "unix:" + s.sock, "ps"}, tc.args...)...)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tc.want)
			}
		})
	}
	if len(s.queries) != 0 {
		t.Errorf("bad flags reached the daemon: %q", s.queries)
	}
}

// TestPSFleet: in a fleet ps has a HOST column; another host's instance
// shows its state as unknown, no weight, and whether its host is down.
func TestPSFleet(t *testing.T) {
	list := []apitype.Instance{
		{Name: "notes:a", Unit: "tenement@notes-a.service", State: apitype.StateAsleep, Weight: 0, Host: "h1"},
		{Name: "notes:b", Unit: "tenement@notes-b.service", State: apitype.StateUnknown, Health: apitype.HealthUnknown, Host: "h2"},
		{Name: "notes:c", Unit: "tenement@notes-c.service", State: apitype.StateUnknown, Health: apitype.HealthUnknown, Host: "h3", HostDown: true},
	}
	serve := func(list []apitype.Instance) string {
		return fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(list)
		}))
	}
	code, out, errOut := tenIn(nil, "--server", serve(list), "ps")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []string{
		`^INSTANCE +HOST +UNIT +STATE +HEALTH +PORT +UPTIME +RESTARTS +MEMORY +WEIGHT +NOTE$`,
		`^notes:a +h1 +tenement@notes-a.service +asleep +- +- +- +0 +- +0 +-$`,
		`^notes:b +h2 +tenement@notes-b.service +unknown +- +- +- +0 +- +- +-$`,
		`^notes:c +h3 +tenement@notes-c.service +unknown +- +- +- +0 +- +- +host down$`,
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("ps printed:\n%s", out)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d: %q, want %s", i, lines[i], re)
		}
	}
	// outside a fleet: no HOST column
	list[0].Host = ""
	_, out, _ = tenIn(nil, "--server", serve(list[:1]), "ps")
	if strings.Contains(out, "HOST") || !regexp.MustCompile(`(?m)^notes:a +tenement@notes-a.service +asleep `).MatchString(out) {
		t.Errorf("outside a fleet:\n%s", out)
	}
}
