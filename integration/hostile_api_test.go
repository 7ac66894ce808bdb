package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// The API half of the hostile-tenant suite: mallory holds a tenant token
// and uses it against alice, against the daemon, and keeps using it after
// the admin revoked it. The API is the same at every isolation level, so
// these run once, with process isolation.

const hostileAPIServices = `
[service.notes]
command = "{app}"
health = "/health"
isolation = "process"
`

// openStream opens a log stream on the root domain and returns its body,
// after the first comment (the stream is registered by then).
func (d *daemon) openStream(token, query string) (*bufio.Reader, io.Closer) {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/logs/stream?%s", d.port, query), nil)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Host = d.domain
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d.t.Fatalf("stream %s: %s %s", query, resp.Status, b)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ": streaming") {
		d.t.Fatalf("stream began with %q %v", line, err)
	}
	d.t.Cleanup(func() { resp.Body.Close() })
	return br, resp.Body
}

// readUntil reads a stream until a line contains want, or the stream ends;
// it returns what it read and whether the stream ended.
func readUntil(br *bufio.Reader, want string) (string, bool) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), true
		}
		if want != "" && strings.Contains(line, want) {
			return b.String(), false
		}
	}
}

// TestHostileRevokedTokenStreamEnds: mallory follows her own logs; the
// admin revokes her token; the stream ends within a second, saying why,
// and the token opens no new one. An admin's stream stays open.
func TestHostileRevokedTokenStreamEnds(t *testing.T) {
	d := startDaemon(t, "", hostileAPIServices)
	d.ten("spawn", "notes:mallory")
	mallory, admin := d.tokenGen("mallory"), d.tokenGen("")
	stream, _ := d.openStream(mallory.Token, "instance=notes:mallory")
	adminStream, _ := d.openStream(admin.Token, "instance=notes:mallory")

	// The stream is live: a line mallory's app writes comes through.
	mark := fmt.Sprintf("mallory-line-%d", time.Now().UnixNano())
	get(t, d.info("notes:mallory").Port, "/log?msg="+mark)
	if got, ended := readUntil(stream, mark); ended {
		t.Fatalf("the stream ended before the revocation: %q", got)
	}

	ended := make(chan string, 1)
	go func() { got, _ := readUntil(stream, ""); ended <- got }()
	start := time.Now()
	d.ten("token", "revoke", mallory.ID)
	select {
	case rest := <-ended:
		took := time.Since(start)
		t.Logf("mallory's stream ended %v after `ten token revoke` began (the command itself included)", took)
		if took > time.Second {
			t.Errorf("the stream ended %v after the revocation, want within 1s", took)
		}
		if !strings.Contains(rest, "event: error") || !strings.Contains(rest, "revoked") {
			t.Errorf("the stream ended without saying why: %q", rest)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("mallory's stream is still open 5s after her token was revoked")
	}
	if a := d.call(httpClient, "GET", "/api/logs/stream?instance=notes:mallory", mallory.Token, ""); a.status != http.StatusUnauthorized {
		t.Errorf("a new stream with the revoked token: %d %s", a.status, a.body)
	}
	// The admin's stream is not affected: it still delivers lines.
	mark2 := mark + "-after"
	get(t, d.info("notes:mallory").Port, "/log?msg="+mark2)
	done := make(chan bool, 1)
	go func() { _, ended := readUntil(adminStream, mark2); done <- ended }()
	select {
	case ended := <-done:
		if ended {
			t.Error("the admin's stream ended with mallory's token")
		}
	case <-time.After(10 * time.Second):
		t.Error("the admin's stream delivered nothing after mallory's revocation")
	}
}

// TestHostileTenantTokenCannotReachAlice: with her own tenant token,
// mallory gets nothing of alice's: her list and logs hold only her own,
// and every route about alice answers exactly as for an instance that does
// not exist (404, so that she cannot even learn whether alice exists);
// admin-only routes are 403. Alice keeps running, untouched.
func TestHostileTenantTokenCannotReachAlice(t *testing.T) {
	d := startDaemon(t, "", hostileAPIServices)
	d.ten("spawn", "notes:alice")
	d.ten("spawn", "notes:mallory")
	mallory := d.tokenGen("mallory")
	alicePID := mainPID(t, "tenement@notes-alice.service")
	aliceMark := fmt.Sprintf("alice-private-%d", time.Now().UnixNano())
	get(t, d.info("notes:alice").Port, "/log?msg="+aliceMark)
	testbed.Eventually(t, 10*time.Second, "alice's line in the journal", func() error {
		if out := d.ten("logs", "notes:alice", "-n", "50"); !strings.Contains(out, aliceMark) {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	// What mallory sees when she asks for everything.
	for _, path := range []string{"/api/instances", "/api/logs?lines=1000", "/api/logs?service=notes&lines=1000", "/api/summary", "/metrics"} {
		a := d.call(httpClient, "GET", path, mallory.Token, "")
		if a.status != http.StatusOK || strings.Contains(a.body, "alice") {
			t.Errorf("mallory GET %s: %d, mentions alice: %v: %.300s", path, a.status, strings.Contains(a.body, "alice"), a.body)
		}
	}

	// About alice: the same answer as about nobody.
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/instances/notes:%s", ""},
		{"GET", "/api/instances/notes:%s/health", ""},
		{"GET", "/api/instances/notes:%s/storage", ""},
		{"GET", "/api/logs?instance=notes:%s", ""},
		{"GET", "/api/logs?id=%s", ""},
		{"GET", "/api/logs?service=notes&id=%s", ""},
		{"GET", "/api/logs/stream?instance=notes:%s", ""},
		{"POST", "/api/instances/notes:%s/restart", ""},
	} {
		alice := d.call(httpClient, tc.method, fmt.Sprintf(tc.path, "alice"), mallory.Token, tc.body)
		nobody := d.call(httpClient, tc.method, fmt.Sprintf(tc.path, "nobody"), mallory.Token, tc.body)
		if alice.status != http.StatusNotFound || nobody.status != alice.status ||
			strings.ReplaceAll(alice.body, "alice", "X") != strings.ReplaceAll(nobody.body, "nobody", "X") {
			t.Errorf("mallory %s %s: %d %s; for nobody: %d %s", tc.method, tc.path, alice.status, alice.body, nobody.status, nobody.body)
		}
	}
	// What only an admin may do.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/instances/notes:alice/stop", ""},
		{"POST", "/api/instances/notes:alice/delete", `{"purge":true}`},
		{"PUT", "/api/instances/notes:alice/weight", `{"weight":100}`},
		{"POST", "/api/instances/spawn", `{"service":"notes","id":"alice"}`},
		{"POST", "/api/route", `{"service":"notes","from":"alice","to":"mallory"}`},
		{"PUT", "/api/credentials/notes:alice/DB_PASSWORD", "mallory-was-here"},
		{"PUT", "/api/credentials/notes/DB_PASSWORD", "mallory-was-here"},
		{"GET", "/api/credentials/notes:alice", ""},
		{"GET", "/api/credentials/notes:mallory", ""},
		{"POST", "/api/tokens", `{"tenant":"alice"}`},
		{"GET", "/api/tokens", ""},
		{"GET", "/api/audit", ""},
	} {
		if a := d.call(httpClient, tc.method, tc.path, mallory.Token, tc.body); a.status != http.StatusForbidden {
			t.Errorf("mallory %s %s: %d %s, want 403", tc.method, tc.path, a.status, a.body)
		}
	}
	if got := mainPID(t, "tenement@notes-alice.service"); got != alicePID {
		t.Errorf("alice's MainPID %d -> %d", alicePID, got)
	}
	if i := d.info("notes:alice"); i.State != "running" {
		t.Errorf("alice after mallory's attempts: %+v", i)
	}
	if out := d.ten("credential", "list", "notes:alice"); strings.Contains(out, "DB_PASSWORD") {
		t.Errorf("mallory set a credential: %s", out)
	}
}

// TestHostileWritesAreLimitedPerToken: mallory sends 200 changing calls in
// a burst; past api_writes_per_minute (120) they get 429 with Retry-After,
// while another tenant's token, an admin token and the local socket keep
// working.
func TestHostileWritesAreLimitedPerToken(t *testing.T) {
	d := startDaemon(t, "", hostileAPIServices)
	d.ten("spawn", "notes:alice")
	mallory, alice, admin := d.tokenGen("mallory"), d.tokenGen("alice"), d.tokenGen("")
	counts := map[int]int{}
	start := time.Now()
	for range 200 {
		a := d.call(httpClient, "POST", "/api/instances/notes:nobody/restart", mallory.Token, "")
		counts[a.status]++
		if a.status == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Fatalf("429 with Retry-After %q: %s", a.header.Get("Retry-After"), a.body)
			}
		}
	}
	took := time.Since(start)
	t.Logf("200 changing calls in %v: %v", took, counts)
	allowed := counts[http.StatusNotFound]
	refill := int(took.Seconds()*2) + 1 // 120 a minute refill 2 a second
	if allowed < 120 || allowed > 120+refill || counts[http.StatusTooManyRequests] != 200-allowed {
		t.Errorf("%d calls went through, %d got 429; want 120 (+%d refilled) through and the rest 429: %v",
			allowed, counts[http.StatusTooManyRequests], refill, counts)
	}
	// Others are not affected.
	if a := d.call(httpClient, "POST", "/api/instances/notes:alice/restart", alice.Token, ""); a.status != http.StatusOK {
		t.Errorf("alice's restart: %d %s", a.status, a.body)
	}
	if a := d.call(httpClient, "PUT", "/api/instances/notes:alice/weight", admin.Token, `{"weight":0}`); a.status != http.StatusOK {
		t.Errorf("an admin's write: %d %s", a.status, a.body)
	}
	d.ten("weight", "notes:alice", "0") // the local socket
	// Reads of the limited token still work.
	if a := d.call(httpClient, "GET", "/api/instances", mallory.Token, ""); a.status != http.StatusOK {
		t.Errorf("mallory's read: %d %s", a.status, a.body)
	}
}

// TestCredentialsThroughTheDaemon: `ten credential` sets, lists and
// removes credentials through the daemon; the files are root's, 0600 in
// 0700 directories; nothing the daemon prints or audits holds a value.
func TestCredentialsThroughTheDaemon(t *testing.T) {
	credDir, err := os.MkdirTemp("/run", "cred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(credDir) })
	credDir = filepath.Join(credDir, "credentials")
	d := startDaemon(t, fmt.Sprintf("credentials_dir = %q", credDir), hostileAPIServices)
	d.ten("spawn", "notes:alice")
	secret := fmt.Sprintf("alice-db-password-%d", time.Now().UnixNano())

	cmd := exec.Command(binPath("ten"), "--config", d.cfgPath, "credential", "set", "notes:alice", "DB_PASSWORD")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "TENEMENT_SERVER=", "TENEMENT_TOKEN=")
	cmd.Stdin = strings.NewReader(secret)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "next start (ten restart notes:alice)") {
		t.Fatalf("ten credential set: %v %s", err, out)
	}
	file := filepath.Join(t.TempDir(), "api-key")
	os.WriteFile(file, []byte("service-key\n"), 0o600)
	d.ten("credential", "set", "notes", "API_KEY", "--from-file", file)

	list := d.ten("credential", "list", "notes:alice")
	if !strings.Contains(list, "DB_PASSWORD  instance") || !strings.Contains(list, "API_KEY      service   12") || strings.Contains(list, secret) {
		t.Errorf("ten credential list:\n%s", list)
	}
	for p, want := range map[string]os.FileMode{
		"": os.ModeDir | 0o700, "notes": os.ModeDir | 0o700, "notes/alice": os.ModeDir | 0o700,
		"notes/alice/DB_PASSWORD": 0o600, "notes/API_KEY": 0o600,
	} {
		st, err := os.Stat(filepath.Join(credDir, p))
		if err != nil || st.Mode() != want || st.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s: %v %v", p, st.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(credDir, "notes/alice/DB_PASSWORD")); string(b) != secret {
		t.Errorf("stored value %q", b)
	}
	d.ten("credential", "rm", "notes:alice", "DB_PASSWORD")
	if _, err := os.Stat(filepath.Join(credDir, "notes/alice/DB_PASSWORD")); !os.IsNotExist(err) {
		t.Errorf("after rm: %v", err)
	}
	if out, err := d.tenErr("credential", "rm", "notes:alice", "DB_PASSWORD"); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("second rm: %v %s", err, out)
	}
	audit := d.ten("audit", "--json")
	if strings.Contains(audit, secret) || strings.Contains(audit, "service-key") || !strings.Contains(audit, "name=DB_PASSWORD") {
		t.Errorf("audit log:\n%s", audit)
	}
	if strings.Contains(d.Logs(), secret) {
		t.Errorf("the daemon logged the value")
	}
}
