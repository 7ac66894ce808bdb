package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"

	"github.com/tenement/tenement/client"
)

// tenSplit runs the CLI against this daemon with extra global flags and
// returns stdout and stderr apart.
func (d *daemon) tenSplit(args ...string) (string, string, error) {
	cmd := exec.Command(binPath("ten"), append([]string{"--config", d.cfgPath}, args...)...)
	cmd.Env = append(cmd.Environ(), "GORACE=atexit_sleep_ms=0", "TENEMENT_SERVER=", "TENEMENT_TOKEN=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// tokenGen creates a token with `ten token create --json` and checks that the
// plain form prints the token alone on the first line of stdout.
func (d *daemon) tokenGen(tenant string) apitype.NewToken {
	d.t.Helper()
	args := []string{"token", "create", "--json", "--description", "test"}
	if tenant != "" {
		args = append(args, "--tenant", tenant)
	}
	out, errOut, err := d.tenSplit(args...)
	if err != nil {
		d.t.Fatalf("ten %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	var nt apitype.NewToken
	if err := json.Unmarshal([]byte(out), &nt); err != nil {
		d.t.Fatalf("token create --json: %v: %s", err, out)
	}
	if len(nt.Token) != 43 || nt.ID == "" || nt.Tenant != tenant {
		d.t.Fatalf("token create --json: %+v", nt)
	}
	return nt
}

// apiClient returns an HTTP client whose connections come from localIP
// (the test manager has all of 127.0.0.0/8 on its loopback).
func apiClient(localIP string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	return &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

type apiAnswer struct {
	status int
	body   string
	header http.Header
}

// call sends an API request to the daemon's HTTP listener on the root
// domain. A log stream's body is not read: the answer has its status only.
func (d *daemon) call(c *http.Client, method, path, token, body string) apiAnswer {
	d.t.Helper()
	return d.callH(c, method, path, token, body, nil)
}

// callH is call with extra request headers.
func (d *daemon) callH(c *http.Client, method, path, token, body string, headers map[string]string) apiAnswer {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", d.port, path), rd)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Host = d.domain
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	a := apiAnswer{status: resp.StatusCode, header: resp.Header}
	if !strings.Contains(path, "/stream") || resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		a.body = string(b)
	}
	return a
}

const apiServices = `
[service.notes]
command = "{app}"
health = "/health"
isolation = "process"
`

// TestAPIAuthMatrix calls every route with no token, a wrong token, two
// tenants' tokens and an admin token, over TCP on the root domain.
func TestAPIAuthMatrix(t *testing.T) {
	d := startDaemon(t, "", apiServices)
	for _, n := range []string{"notes:alice", "notes:bob", "notes:carol"} {
		d.ten("spawn", n)
	}
	admin, alice, bob := d.tokenGen(""), d.tokenGen("alice"), d.tokenGen("bob")
	throwaway := d.tokenGen("zed")
	stamp := time.Now().UnixNano()
	aliceMark, bobMark := fmt.Sprintf("alice-secret-%d", stamp), fmt.Sprintf("bob-secret-%d", stamp)
	get(t, d.info("notes:alice").Port, "/log?msg="+aliceMark)
	get(t, d.info("notes:bob").Port, "/log?msg="+bobMark)
	testbed.Eventually(t, 10*time.Second, "log lines in the journal", func() error {
		a := d.call(httpClient, "GET", "/api/logs?instance=notes:bob", admin.Token, "")
		if !strings.Contains(a.body, bobMark) {
			return fmt.Errorf("%d %s", a.status, a.body)
		}
		return nil
	})

	whoNames := []string{"no token", "wrong token", "alice", "bob", "admin"}
	tokens := []string{"", strings.Repeat("x", 43), alice.Token, bob.Token, admin.Token}
	const (
		ok      = http.StatusOK
		created = http.StatusCreated
		empty   = http.StatusNoContent
		bad     = http.StatusBadRequest
		unauth  = http.StatusUnauthorized
		forbid  = http.StatusForbidden
		missing = http.StatusNotFound
		method  = http.StatusMethodNotAllowed
	)
	own := [5]int{unauth, unauth, ok, missing, ok}   // alice's instance
	other := [5]int{unauth, unauth, missing, ok, ok} // bob's instance
	admins := [5]int{unauth, unauth, forbid, forbid, ok}
	anyToken := [5]int{unauth, unauth, ok, ok, ok}
	for _, tc := range []struct {
		name, method, path, body string
		want                     [5]int
		// check looks at an answer's body beyond its status.
		check func(w who, body string) error
	}{
		{name: "health is public", method: "GET", path: "/health", want: [5]int{ok, ok, ok, ok, ok}},
		{name: "list", method: "GET", path: "/api/instances", want: anyToken, check: func(w who, body string) error {
			want := map[who][]string{asAlice: {"notes:alice"}, asBob: {"notes:bob"}, asAdmin: {"notes:alice", "notes:bob", "notes:carol"}}[w]
			var list []apitype.Instance
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				return err
			}
			var got []string
			for _, i := range list {
				got = append(got, i.Name)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				return fmt.Errorf("sees %v, want %v", got, want)
			}
			return nil
		}},
		{name: "get own", method: "GET", path: "/api/instances/notes:alice", want: own},
		{name: "get other's", method: "GET", path: "/api/instances/notes:bob", want: other},
		{name: "get unknown", method: "GET", path: "/api/instances/notes:zed", want: [5]int{unauth, unauth, missing, missing, missing}},
		{name: "get invalid name", method: "GET", path: "/api/instances/Notes:x", want: [5]int{unauth, unauth, bad, bad, bad}},
		{name: "health own", method: "GET", path: "/api/instances/notes:alice/health", want: own},
		{name: "health other's", method: "GET", path: "/api/instances/notes:bob/health", want: other},
		{name: "storage own", method: "GET", path: "/api/instances/notes:alice/storage", want: own, check: func(w who, body string) error {
			var s apitype.StorageResponse
			if err := json.Unmarshal([]byte(body), &s); err != nil || s.Instance != "notes:alice" || !strings.HasSuffix(s.Path, "/notes/alice") {
				return fmt.Errorf("storage %+v %v", s, err)
			}
			return nil
		}},
		{name: "storage other's", method: "GET", path: "/api/instances/notes:bob/storage", want: other},
		{name: "logs own", method: "GET", path: "/api/logs?instance=notes:alice", want: own, check: func(w who, body string) error {
			if !strings.Contains(body, aliceMark) || strings.Contains(body, bobMark) {
				return fmt.Errorf("alice's logs: %.300s", body)
			}
			return nil
		}},
		{name: "logs other's", method: "GET", path: "/api/logs?instance=notes:bob", want: other},
		{name: "logs by process and id", method: "GET", path: "/api/logs?process=notes&id=bob", want: other},
		{name: "logs by id", method: "GET", path: "/api/logs?id=bob", want: other},
		{name: "logs by service", method: "GET", path: "/api/logs?service=notes&lines=1000", want: anyToken, check: scopedLogs(aliceMark, bobMark)},
		{name: "logs of everything", method: "GET", path: "/api/logs?lines=1000", want: anyToken, check: scopedLogs(aliceMark, bobMark)},
		{name: "logs search", method: "GET", path: "/api/logs?search=secret-&lines=1000", want: anyToken, check: scopedLogs(aliceMark, bobMark)},
		{name: "logs bad grep", method: "GET", path: "/api/logs?instance=notes:alice&grep=(", want: [5]int{unauth, unauth, bad, missing, bad}},
		{name: "stream own", method: "GET", path: "/api/logs/stream?instance=notes:alice", want: own},
		{name: "stream other's", method: "GET", path: "/api/logs/stream?instance=notes:bob", want: other},
		{name: "stream by id", method: "GET", path: "/api/logs/stream?id=bob", want: other},
		{name: "restart own", method: "POST", path: "/api/instances/notes:alice/restart", want: own},
		{name: "restart other's", method: "POST", path: "/api/instances/notes:bob/restart", want: other},
		{name: "keep-awake own", method: "POST", path: "/api/instances/notes:alice/keep-awake", body: `{"for":"1m"}`, want: own},
		{name: "keep-awake other's", method: "POST", path: "/api/instances/notes:bob/keep-awake", body: `{"for":"1m"}`, want: other},
		{name: "create", method: "POST", path: "/api/instances", body: `{"instances":["notes:dora"]}`, want: admins},
		{name: "restart a service", method: "POST", path: "/api/services/notes/restart", want: admins},
		{name: "config reload", method: "POST", path: "/api/config/reload", want: admins},
		{name: "spawn", method: "POST", path: "/api/instances/spawn", body: `{"service":"notes","id":"alice"}`, want: admins},
		{name: "spawn, original's body", method: "POST", path: "/api/instances/spawn", body: `{"process":"notes","id":"alice"}`, want: admins},
		{name: "weight", method: "PUT", path: "/api/instances/notes:alice/weight", body: `{"weight":100}`, want: admins},
		{name: "stop", method: "POST", path: "/api/instances/notes:carol/stop", want: [5]int{unauth, unauth, forbid, forbid, empty}},
		{name: "stop by DELETE", method: "DELETE", path: "/api/instances/notes:carol", want: [5]int{unauth, unauth, forbid, forbid, empty}},
		{name: "delete", method: "POST", path: "/api/instances/notes:carol/delete", want: [5]int{unauth, unauth, forbid, forbid, empty}},
		{name: "deploy", method: "POST", path: "/api/deploy", body: `{"service":"notes","version":"v2","weight":0,"timeout":20}`, want: admins},
		{name: "route", method: "POST", path: "/api/route", body: `{"process":"notes","from":"v2","to":"alice"}`, want: admins},
		{name: "list tokens", method: "GET", path: "/api/tokens", want: admins, check: func(w who, body string) error {
			for _, s := range []string{admin.Token, alice.Token, "sha256", "hash"} {
				if strings.Contains(body, s) {
					return fmt.Errorf("token list shows %q", s)
				}
			}
			if !strings.Contains(body, alice.ID) {
				return fmt.Errorf("token list lacks alice's token %s", alice.ID)
			}
			return nil
		}},
		{name: "create token", method: "POST", path: "/api/tokens", body: `{"tenant":"zed"}`, want: [5]int{unauth, unauth, forbid, forbid, created}},
		{name: "revoke token", method: "DELETE", path: "/api/tokens/" + throwaway.ID, want: [5]int{unauth, unauth, forbid, forbid, empty}},
		{name: "audit", method: "GET", path: "/api/audit", want: admins},
		{name: "unknown route", method: "GET", path: "/api/nope", want: [5]int{unauth, unauth, missing, missing, missing}},
		{name: "wrong method", method: "GET", path: "/api/instances/notes:alice/restart", want: [5]int{unauth, unauth, method, method, method}, check: func(w who, body string) error {
			if !strings.Contains(body, "allowed: POST") {
				return fmt.Errorf("405 body %q does not name the allowed method", body)
			}
			return nil
		}},
		{name: "wrong method, list", method: "DELETE", path: "/api/instances", want: [5]int{unauth, unauth, method, method, method}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for w := none; w <= asAdmin; w++ {
				// Each wrong-token request comes from its own address, so
				// that the throttle does not turn them into 429s.
				c := httpClient
				if w == wrong {
					c = apiClient(fmt.Sprintf("127.0.1.%d", 1+int(wrongN.Add(1))))
				}
				a := d.call(c, tc.method, tc.path, tokens[w], tc.body)
				if a.status != tc.want[w] {
					t.Errorf("%s: %s %s = %d, want %d: %s", whoNames[w], tc.method, tc.path, a.status, tc.want[w], a.body)
					continue
				}
				if a.status >= 400 && !strings.Contains(a.body, `"error"`) {
					t.Errorf("%s: error body %q", whoNames[w], a.body)
				}
				if a.status == ok && tc.check != nil {
					if err := tc.check(w, a.body); err != nil {
						t.Errorf("%s: %v", whoNames[w], err)
					}
				}
			}
		})
	}

	// Alice's stream of all she may read carries her new lines, never bob's.
	t.Run("alice's stream", func(t *testing.T) {
		c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", d.port), alice.Token)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		lines := make(chan apitype.LogEntry, 100)
		go c.FollowLogs(ctx, client.LogQuery{}, func(e apitype.LogEntry) error {
			select {
			case lines <- e:
			case <-ctx.Done():
			}
			return nil
		})
		// The stream starts with no backlog: write (bob's line first) until
		// alice's line comes through.
		alicePort, bobPort := d.info("notes:alice").Port, d.info("notes:bob").Port
		write := func() {
			get(t, bobPort, "/log?msg=bob-streamed-"+bobMark)
			get(t, alicePort, "/log?msg=alice-streamed-"+aliceMark)
		}
		write()
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				write()
			case e := <-lines:
				if e.InstanceID != "alice" || strings.Contains(e.Message, bobMark) {
					t.Fatalf("alice's stream carried %+v", e)
				}
				if e.Message == "alice-streamed-"+aliceMark {
					return
				}
			case <-ctx.Done():
				t.Fatal("alice's line did not come through her stream")
			}
		}
	})

	// The revoked token no longer works; the audit log names who did what.
	if a := d.call(apiClient("127.0.2.1"), "GET", "/api/instances", throwaway.Token, ""); a.status != unauth {
		t.Errorf("revoked token: %d", a.status)
	}
	var log []apitype.AuditEntry
	if err := json.Unmarshal([]byte(d.ten("audit", "--json", "-n", "0")), &log); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"tenant:alice/token:" + alice.ID + " restart notes:alice ok":        false,
		"tenant:bob/token:" + bob.ID + " restart notes:bob ok":              false,
		"token:" + admin.ID + " spawn notes:alice ok":                       false,
		"token:" + admin.ID + " weight notes:alice ok":                      false,
		"token:" + admin.ID + " stop notes:carol ok":                        false,
		"token:" + admin.ID + " delete notes:carol ok":                      false,
		"token:" + admin.ID + " deploy notes:v2 ok":                         false,
		"token:" + admin.ID + " route notes:v2 -> notes:alice ok":           false,
		"token:" + admin.ID + " token-revoke token:" + throwaway.ID + " ok": false,
		"uid:0 token-create token:" + alice.ID + " ok":                      false,
	}
	for _, e := range log {
		key := e.Actor + " " + e.Action + " " + e.Target + " " + e.Result
		if _, ok := want[key]; ok {
			want[key] = true
		}
		if e.Time.IsZero() {
			t.Errorf("audit entry without time: %+v", e)
		}
		if strings.Contains(e.Actor, "alice") && e.Target != "notes:alice" {
			t.Errorf("alice changed something not hers: %+v", e)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("audit log lacks %q", k)
		}
	}
}

// who makes a request in TestAPIAuthMatrix.
type who int

const (
	none who = iota
	wrong
	asAlice
	asBob
	asAdmin
)

// wrongN numbers the wrong-token requests, each from its own address.
var wrongN atomic.Int32

// scopedLogs checks that a tenant's log answer holds its own lines and not
// the other tenant's; an admin's holds both.
func scopedLogs(aliceMark, bobMark string) func(w who, body string) error {
	return func(w who, body string) error {
		hasA, hasB := strings.Contains(body, aliceMark), strings.Contains(body, bobMark)
		switch {
		case w == asAlice && (!hasA || hasB), w == asBob && (hasA || !hasB), w == asAdmin && (!hasA || !hasB):
			return fmt.Errorf("sees alice's line %v, bob's %v: %.300s", hasA, hasB, body)
		}
		return nil
	}
}
