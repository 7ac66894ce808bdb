package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/store"
)

// TestTokenCommands creates tokens through the daemon with `ten token
// create` and its old name `ten token-gen`, uses them, refuses to create
// one while the daemon is down (nothing but the daemon writes the store),
// and reads every file the daemon keeps for a plaintext token.
func TestTokenCommands(t *testing.T) {
	d := startDaemon(t, "", apiServices)
	d.ten("spawn", "notes:alice")
	d.ten("spawn", "notes:bob")

	// The token alone on the first line of stdout.
	tokens := map[string]string{}
	for _, tc := range []struct{ tenant, command string }{{"alice", "token create"}, {"bob", "token-gen"}} {
		args := append(strings.Fields(tc.command), "--tenant", tc.tenant, "--description", "by "+tc.command)
		out, errOut, err := d.tenSplit(args...)
		if err != nil {
			t.Fatalf("ten %s: %v %s", tc.command, err, errOut)
		}
		tok := strings.TrimSuffix(out, "\n")
		if len(tok) != 43 || strings.ContainsAny(tok, " \n") || !strings.Contains(errOut, "shown only this once") {
			t.Fatalf("ten %s: stdout %q, stderr %q", tc.command, out, errOut)
		}
		tokens[tc.tenant] = tok
	}
	alice, bob := tokens["alice"], tokens["bob"]
	admin := d.tokenGen("")
	listOut := d.ten("token", "list", "--json")
	var list []apitype.TokenInfo
	if err := json.Unmarshal([]byte(listOut), &list); err != nil || len(list) != 3 {
		t.Fatalf("token list: %v %s", err, listOut)
	}

	// Without the daemon there is no token to be had: one line says why.
	d.stop()
	for _, args := range [][]string{{"token", "create"}, {"token-gen", "--tenant", "carol"}, {"token", "list"}} {
		out, errOut, err := d.tenSplit(args...)
		if err == nil || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "cannot reach the tenement daemon") {
			t.Errorf("ten %v without a daemon: %v, stdout %q, stderr %q", args, err, out, errOut)
		}
	}
	d.start()

	// Every token works over TCP, scoped as created.
	for _, tc := range []struct {
		token string
		want  []string
	}{
		{alice, []string{"notes:alice"}},
		{bob, []string{"notes:bob"}},
		{admin.Token, []string{"notes:alice", "notes:bob"}},
	} {
		ps := d.tcpTen(tc.token, "ps", "--json")
		var got []apitype.Instance
		if err := json.Unmarshal([]byte(ps), &got); err != nil {
			t.Fatalf("ps --json: %v %s", err, ps)
		}
		var gotNames []string
		for _, i := range got {
			gotNames = append(gotNames, i.Name)
		}
		if strings.Join(gotNames, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ps with token %.6s…: %v, want %v", tc.token, gotNames, tc.want)
		}
	}
	// Over TCP a tenant's CLI fails on another tenant's instance, in one line.
	for _, args := range [][]string{{"logs", "notes:bob"}, {"health", "notes:bob"}, {"restart", "notes:bob"}, {"stop", "notes:alice"}} {
		out, err := d.tcpTenErr(alice, args...)
		if err == nil || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "ten: ") {
			t.Errorf("alice: ten %v: %v %q", args, err, out)
		}
	}
	// Each creation is audited, by the local user that asked.
	var audit []apitype.AuditEntry
	if err := json.Unmarshal([]byte(d.ten("audit", "--json", "-n", "0")), &audit); err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, e := range audit {
		if e.Action == "token-create" && e.Actor == "uid:0" && e.Result == "ok" {
			created++
		}
	}
	if created != 3 {
		t.Errorf("%d token-create entries by uid:0, want 3: %+v", created, audit)
	}

	// Revoke through the daemon: the token stops working at once.
	var bobID string
	for _, tok := range list {
		if tok.Tenant == "bob" {
			bobID = tok.ID
		}
	}
	d.ten("token", "revoke", bobID)
	if out, err := d.tcpTenErr(bob, "ps"); err == nil || !strings.Contains(out, "invalid token") {
		t.Errorf("revoked token: %v %s", err, out)
	}

	// No file under the data dir or next to the config holds a token, in
	// text or raw; the store holds their hashes (so we read the right file).
	d.stop()
	files := readAll(t, d.dir)
	for _, secret := range []string{alice, bob, admin.Token} {
		raw, err := base64.RawURLEncoding.DecodeString(secret)
		if err != nil {
			t.Fatal(err)
		}
		for path, b := range files {
			if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, raw) {
				t.Errorf("%s holds a token in plain text", path)
			}
		}
	}
	sum := sha256.Sum256([]byte(alice))
	db := files[filepath.Join(d.dataDir, store.FileName)]
	if !bytes.Contains(db, []byte(hex.EncodeToString(sum[:]))) {
		t.Errorf("the store (%d bytes) lacks the token's hash", len(db))
	}
}

// readAll reads every regular file under dir.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[path] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return out
}

// tcpTen runs the CLI against the daemon's HTTP listener with a token.
func (d *daemon) tcpTen(token string, args ...string) string {
	d.t.Helper()
	out, err := d.tcpTenErr(token, args...)
	if err != nil {
		d.t.Fatalf("ten %s over TCP: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (d *daemon) tcpTenErr(token string, args ...string) (string, error) {
	server := fmt.Sprintf("http://127.0.0.1:%d", d.port)
	out, errOut, err := d.tenSplit(append([]string{"--server", server, "--token", token}, args...)...)
	return out + errOut, err
}

// TestFailedAttemptsThrottleOneClient: ten wrong tokens from 127.0.0.2 get
// that address 429s, even with a valid token; 127.0.0.3 is not affected.
func TestFailedAttemptsThrottleOneClient(t *testing.T) {
	d := startDaemon(t, "", apiServices)
	alice := d.tokenGen("alice")
	bad, good := apiClient("127.0.0.2"), apiClient("127.0.0.3")
	wrong := strings.Repeat("A", 43)
	for i := range 10 {
		if a := d.call(bad, "GET", "/api/instances", wrong, ""); a.status != 401 {
			t.Fatalf("wrong token %d: %d %s", i+1, a.status, a.body)
		}
	}
	a := d.call(bad, "GET", "/api/instances", alice.Token, "")
	if a.status != 429 || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "too many") {
		t.Fatalf("valid token from the throttled client: %d %q %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if a := d.call(good, "GET", "/api/instances", alice.Token, ""); a.status != 200 {
		t.Fatalf("valid token from another client: %d %s", a.status, a.body)
	}
	if a := d.call(good, "GET", "/api/instances", wrong, ""); a.status != 401 {
		t.Fatalf("wrong token from another client: %d %s", a.status, a.body)
	}
	// The local socket is not throttled.
	d.ten("ps")
	// Requests without a token are refused but do not count.
	fresh := apiClient("127.0.0.4")
	for range 15 {
		if a := d.call(fresh, "GET", "/api/instances", "", ""); a.status != 401 {
			t.Fatalf("no token: %d", a.status)
		}
	}
	if a := d.call(fresh, "GET", "/api/instances", alice.Token, ""); a.status != 200 {
		t.Fatalf("after requests without a token: %d %s", a.status, a.body)
	}

	// Off the front proxy's listener, X-Forwarded-For names nobody: the
	// peer is the client, loopback or not (the front listener's case is
	// in hostile_conns_test.go).
	peer, other := apiClient("127.0.0.5"), apiClient("127.0.0.6")
	from := func(client string) map[string]string { return map[string]string{"X-Forwarded-For": client} }
	for i := range 10 {
		if a := d.callH(peer, "GET", "/api/instances", wrong, "", from("192.0.2.1")); a.status != 401 {
			t.Fatalf("wrong token %d claiming another client: %d %s", i+1, a.status, a.body)
		}
	}
	for _, tc := range []struct {
		name   string
		c      *http.Client
		client string
		want   int
	}{
		{"the peer that failed, claiming another client", peer, "192.0.2.2", 429},
		{"another peer claiming the named client", other, "192.0.2.1", 200},
	} {
		if a := d.callH(tc.c, "GET", "/api/instances", alice.Token, "", from(tc.client)); a.status != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, a.status, tc.want, a.body)
		}
	}
}
