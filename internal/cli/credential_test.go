package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
)

// credentialServer answers the credential routes on a unix socket and
// records what it was sent.
type credentialServer struct {
	sock   string
	method string
	path   string
	body   []byte
}

func newCredentialServer(t *testing.T) *credentialServer {
	t.Helper()
	s := &credentialServer{sock: filepath.Join(t.TempDir(), "api.sock")}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.path = r.Method, r.URL.EscapedPath()
		s.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPut:
			json.NewEncoder(w).Encode(apitype.CredentialResponse{Target: "notes:alice", Credential: apitype.Credential{Name: "DB_PASSWORD", Size: int64(len(s.body)), Scope: "instance"}})
		case http.MethodGet:
			json.NewEncoder(w).Encode([]apitype.Credential{{Name: "API_KEY", Size: 3, Scope: "service", Modified: time.Unix(1e9, 0)}})
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func TestCredentialCommands(t *testing.T) {
	s := newCredentialServer(t)
	server := "unix:" + s.sock

	// The value goes byte for byte, trailing newline included.
	code, out, errOut := tenIn(strings.NewReader("s3cret\n"), "--server", server, "credential", "set", "notes:alice", "DB_PASSWORD")
	if code != 0 || s.method != http.MethodPut || s.path != "/api/credentials/notes:alice/DB_PASSWORD" || string(s.body) != "s3cret\n" {
		t.Fatalf("set: %d %q %q; sent %s %s %q", code, out, errOut, s.method, s.path, s.body)
	}
	if !strings.Contains(out, "7 bytes") || !strings.Contains(out, "next start (ten restart notes:alice)") {
		t.Errorf("set printed %q", out)
	}

	file := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(file, []byte("-----BEGIN KEY-----\n"), 0o600)
	if code, out, _ := tenIn(strings.NewReader("ignored"), "--server", server, "credential", "set", "notes", "tls.key", "--from-file", file); code != 0 ||
		string(s.body) != "-----BEGIN KEY-----\n" || s.path != "/api/credentials/notes/tls.key" || !strings.Contains(out, "each instance of notes") {
		t.Errorf("set --from-file: %d %q, sent %s %q", code, out, s.path, s.body)
	}

	code, out, _ = tenIn(nil, "--server", server, "credential", "list", "notes")
	if code != 0 || s.method != http.MethodGet || s.path != "/api/credentials/notes" || !strings.Contains(out, "API_KEY") || !strings.Contains(out, "service") {
		t.Errorf("list: %d %q", code, out)
	}
	code, out, _ = tenIn(nil, "--server", server, "credential", "rm", "notes:alice", "DB_PASSWORD")
	if code != 0 || s.method != http.MethodDelete || !strings.Contains(out, "Removed credential DB_PASSWORD of notes:alice") {
		t.Errorf("rm: %d %q", code, out)
	}

	// Bad input fails in one line before anything is sent.
	s.method = ""
	for _, args := range [][]string{
		{"credential", "set", "notes:alice", "../x"},
		{"credential", "set", "Notes", "X"},
		{"credential", "set", "notes", "X", "--from-file", "/nonexistent"},
		{"credential", "rm", "notes:", "X"},
	} {
		code, _, errOut := tenIn(strings.NewReader("v"), append([]string{"--server", server}, args...)...)
		if code == 0 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "ten: ") {
			t.Errorf("ten %v: %d %q", args, code, errOut)
		}
	}
	if code, _, errOut := tenIn(bytes.NewReader(make([]byte, apitype.MaxCredentialSize+1)), "--server", server, "credential", "set", "notes", "X"); code == 0 ||
		!strings.Contains(errOut, "1 MiB") {
		t.Errorf("over 1 MiB: %d %q", code, errOut)
	}
	if s.method != "" {
		t.Errorf("bad input reached the daemon: %s %s", s.method, s.path)
	}
}
