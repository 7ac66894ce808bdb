package cli

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeReloadDaemon serves POST /api/config/reload on a unix socket the way
// the daemon refuses a config, and counts the calls.
func fakeReloadDaemon(t *testing.T, sock, refusal string) *atomic.Int32 {
	t.Helper()
	var calls atomic.Int32
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/config/reload" {
			http.NotFound(w, r)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "{%q: %q}\n", "error", refusal)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &calls
}

// TestConfigReloadOfABadFile: systemctl reload runs ten config reload with
// the config the daemon is about to refuse. The request must still reach
// the daemon (found at the file's api_socket), which refuses it and says so
// in its status; ten prints the daemon's one line and fails. A file that is
// not even TOML gets its own error, as there is no socket to read from it.
func TestConfigReloadOfABadFile(t *testing.T) {
	dir, err := os.MkdirTemp("", "reload") // short: a unix socket path has ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	const refusal = `invalid argument: t.toml:5: service.broken.isolation: invalid value "vm"`
	calls := fakeReloadDaemon(t, sock, refusal)
	t.Setenv("TENEMENT_SERVER", "")

	path := filepath.Join(dir, "tenement.toml")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("[settings]\napi_socket = %q\n[service.broken]\ncommand = \"/bin/true\"\nisolation = \"vm\"\n", sock))
	code, _, errOut := tenIn(nil, "--config", path, "config", "reload")
	if code != 1 || calls.Load() != 1 || errOut != "ten: "+refusal+"\n" {
		t.Errorf("invalid config: exit %d, %d calls to the daemon, %q; want 1, 1 and the daemon's refusal", code, calls.Load(), errOut)
	}

	write("[settings\n")
	code, _, errOut = tenIn(nil, "--config", path, "config", "reload")
	if code != 1 || calls.Load() != 1 || !strings.HasPrefix(errOut, "ten: "+path+":") {
		t.Errorf("not TOML: exit %d, %d calls, %q; want the file's own error and no call", code, calls.Load(), errOut)
	}
}
