package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/credentials"
)

// TestCredentials: an admin sets, lists and removes credentials of a
// service and of an instance; no answer and no audit entry ever holds a
// value; tenants may not touch them, not even their own.
func TestCredentials(t *testing.T) {
	a := newTestAPI(t, "notes:alice")
	dir := credentials.Dir{Path: a.cfg.Settings.CredentialsDir}
	a.srv.Credentials = dir
	admin, _ := a.token(t, "")
	alice, _ := a.token(t, "alice")
	const svcSecret, aliceSecret = "s3rvice-wide-secret", "al1ce-only-secret"
	put := func(path, token, value string) (int, string) {
		status, _, body := a.call(t, http.MethodPut, path, token, strings.NewReader(value))
		return status, body
	}

	for _, tc := range []struct {
		name   string
		path   string
		token  string
		value  string
		status int
	}{
		{"service credential", "/api/credentials/notes/DB_PASSWORD", admin, svcSecret, 200},
		{"instance credential", "/api/credentials/notes:alice/DB_PASSWORD", admin, aliceSecret, 200},
		{"on the local socket", "/api/credentials/notes/API_KEY", "local", "k", 200},
		{"exactly 1 MiB", "/api/credentials/notes/BIG", admin, strings.Repeat("x", apitype.MaxCredentialSize), 200},
		{"over 1 MiB", "/api/credentials/notes/BIGGER", admin, strings.Repeat("x", apitype.MaxCredentialSize+1), 400},
		{"a bad name", "/api/credentials/notes/a%20b", admin, "x", 400},
		{"a bad target", "/api/credentials/Notes/X", admin, "x", 400},
		{"an unknown service", "/api/credentials/mail/X", admin, "x", 404},
		{"an unknown instance", "/api/credentials/notes:mallory/X", admin, "x", 404},
		{"a tenant, its own instance", "/api/credentials/notes:alice/X", alice, "x", 403},
		{"a tenant, its service", "/api/credentials/notes/X", alice, "x", 403},
		{"no token", "/api/credentials/notes/X", "", "x", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := put(tc.path, tc.token, tc.value); status != tc.status {
				t.Errorf("PUT %s: %d %s, want %d", tc.path, status, body, tc.status)
			}
		})
	}

	status, _, body := a.call(t, http.MethodGet, "/api/credentials/notes:alice", admin, nil)
	var list []apitype.Credential
	if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil {
		t.Fatalf("list: %d %s %v", status, body, err)
	}
	want := map[string]string{"API_KEY": "service", "BIG": "service", "DB_PASSWORD": "instance"}
	if len(list) != len(want) {
		t.Errorf("list %+v", list)
	}
	for _, i := range list {
		if want[i.Name] != i.Scope || i.Modified.IsZero() {
			t.Errorf("listed %+v", i)
		}
		if i.Name == "DB_PASSWORD" && i.Size != int64(len(aliceSecret)) {
			t.Errorf("size %d", i.Size)
		}
	}
	for _, path := range []string{"/api/credentials/notes", "/api/credentials/notes:alice"} {
		if status, _, _ := a.call(t, http.MethodGet, path, alice, nil); status != 403 {
			t.Errorf("tenant GET %s: %d", path, status)
		}
	}

	// On disk: 0600 files in 0700 directories.
	for p, want := range map[string]os.FileMode{"notes/alice/DB_PASSWORD": 0o600, "notes/alice": os.ModeDir | 0o700, "notes": os.ModeDir | 0o700} {
		if st, err := os.Stat(filepath.Join(dir.Path, p)); err != nil || st.Mode() != want {
			t.Errorf("%s: %v %v", p, st.Mode(), err)
		}
	}

	if status, _, body := a.call(t, http.MethodDelete, "/api/credentials/notes:alice/DB_PASSWORD", alice, nil); status != 403 {
		t.Errorf("tenant delete: %d %s", status, body)
	}
	if status, _, body := a.call(t, http.MethodDelete, "/api/credentials/notes:alice/DB_PASSWORD", admin, nil); status != 204 {
		t.Errorf("delete: %d %s", status, body)
	}
	if status, _, _ := a.call(t, http.MethodDelete, "/api/credentials/notes:alice/DB_PASSWORD", admin, nil); status != 404 {
		t.Errorf("second delete: %d", status)
	}

	// The audit log names the credentials, never their values.
	log, _ := a.st.AuditLog(0)
	raw, _ := json.Marshal(log)
	if bytes.Contains(raw, []byte(svcSecret)) || bytes.Contains(raw, []byte(aliceSecret)) {
		t.Errorf("the audit log holds a credential's value: %s", raw)
	}
	if !bytes.Contains(raw, []byte(`"action":"credential-set","target":"notes:alice","details":"name=DB_PASSWORD"`)) ||
		!bytes.Contains(raw, []byte(`"action":"credential-remove"`)) {
		t.Errorf("audit log: %s", raw)
	}
}

// TestPurgeForgetsCredentials: deleting an instance with purge removes its
// credentials, so that a later instance of the same name (another
// customer, perhaps) does not inherit them; the service's stay. A delete
// without purge keeps them, as it keeps the data dir.
func TestPurgeForgetsCredentials(t *testing.T) {
	a := newTestAPI(t)
	dir := credentials.Dir{Path: a.cfg.Settings.CredentialsDir}
	a.srv.Credentials = dir
	for _, n := range []string{"alice", "bob"} {
		if err := a.sup.Create(mustInstance(t, "notes:"+n), 0); err != nil {
			t.Fatal(err)
		}
		if status, _, body := a.call(t, http.MethodPut, "/api/credentials/notes:"+n+"/DB_PASSWORD", "local", strings.NewReader(n)); status != 200 {
			t.Fatalf("set: %d %s", status, body)
		}
	}
	if status, _, body := a.call(t, http.MethodPut, "/api/credentials/notes/SHARED", "local", strings.NewReader("s")); status != 200 {
		t.Fatalf("set: %d %s", status, body)
	}
	if status, _, body := a.call(t, http.MethodPost, "/api/instances/notes:alice/delete", "local", strings.NewReader(`{"purge":true}`)); status != 204 {
		t.Fatalf("delete --purge: %d %s", status, body)
	}
	if status, _, body := a.call(t, http.MethodPost, "/api/instances/notes:bob/delete", "local", nil); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	if _, err := os.Stat(filepath.Join(dir.Path, "notes", "alice")); !os.IsNotExist(err) {
		t.Errorf("alice's credentials survived the purge: %v", err)
	}
	for _, p := range []string{"notes/bob/DB_PASSWORD", "notes/SHARED"} {
		if _, err := os.Stat(filepath.Join(dir.Path, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
