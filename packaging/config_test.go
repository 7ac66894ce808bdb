package packaging

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/internal/servecmd"
)

// unitValues returns every value of key= in a unit file, in order.
func unitValues(t *testing.T, file, key string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestDefaultConfig checks that the shipped config is valid and agrees with
// tenement.socket: the daemon finds its listeners by address.
func TestDefaultConfig(t *testing.T) {
	cfg, err := config.Load("tenement.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Settings
	if s.DataDir != config.DefaultDataDir || s.APISocket != config.DefaultAPISocket {
		t.Errorf("data_dir %s, api_socket %s: want the packaged paths", s.DataDir, s.APISocket)
	}
	listens := unitValues(t, "tenement.socket", "ListenStream")
	_, port, _ := net.SplitHostPort(s.Listen)
	if len(listens) != 2 || listens[0] != port || listens[1] != s.APISocket {
		t.Errorf("tenement.socket ListenStream=%v, want [%s %s] to match the config", listens, port, s.APISocket)
	}
	if got := unitValues(t, "tenement.socket", "SocketMode"); len(got) != 1 || got[0] != "0660" {
		t.Errorf("SocketMode=%v", got)
	}
	if got := unitValues(t, "tenement.socket", "SocketGroup"); len(got) != 1 || got[0] != "tenement" {
		t.Errorf("SocketGroup=%v", got)
	}
	if s.TLS.Enabled {
		t.Error("TLS must be off by default: it needs a public domain")
	}
	if s.APIOverHTTP != config.APIOverHTTPLoopback {
		t.Errorf("api_over_http = %q: the API and dashboard must answer plain HTTP only from loopback by default", s.APIOverHTTP)
	}
}

// TestDefaultConfigExamples uncomments the config's examples (the service,
// [instances], [settings.tls], front_listen) and checks they are valid,
// so the file never teaches a broken config.
func TestDefaultConfigExamples(t *testing.T) {
	b, err := os.ReadFile("tenement.toml")
	if err != nil {
		t.Fatal(err)
	}
	example := regexp.MustCompile(`(?m)^# ((\[[a-z.]+\])|([a-z_]+ = .*))$`)
	text := example.ReplaceAllString(string(b), "$1")
	text = strings.Replace(text, `domain = "localhost"`, `domain = "example.com"`, 1)
	for _, want := range []string{"\n[service.notes]\n", "\n[settings.tls]\n", "\nenabled = true\n", "\nnotes = [\"alice\"]\n", "\nfront_listen = ", "\napi_over_http = "} {
		if !strings.Contains(text, want) {
			t.Fatalf("example %q not uncommented:\n%s", want, text)
		}
	}
	path := filepath.Join(t.TempDir(), "tenement.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the uncommented examples do not load: %v\n%s", err, text)
	}
	if cfg.Services["notes"] == nil || !cfg.Settings.TLS.Enabled || cfg.Settings.TLS.HTTPSPort != 443 || cfg.Settings.APIOverHTTP != config.APIOverHTTPAny {
		t.Errorf("examples not in effect: %+v", cfg.Settings.TLS)
	}
}

// TestServiceUnit checks the promises of tenement.service that the
// end-to-end test cannot see directly.
func TestServiceUnit(t *testing.T) {
	for key, want := range map[string]string{
		"Type":                  "notify",
		"ExecStart":             "/usr/bin/ten serve",
		"StateDirectory":        "tenement",
		"Requires":              "tenement.socket",
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"RuntimeDirectory":      "", // the API socket's dir belongs to tenement.socket
		"SystemCallFilter":      "@system-service",
		"KillMode":              "mixed",
		"CapabilityBoundingSet": "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_NET_BIND_SERVICE",
		// ten's exit status for a corrupt store: no restart loop.
		"RestartPreventExitStatus": strconv.Itoa(servecmd.ExitStoreCorrupt),
		"ExecReload":               "/usr/bin/ten config reload",
	} {
		got := strings.Join(unitValues(t, "tenement.service", key), " ")
		if got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	stop := unitValues(t, "tenement.service", "TimeoutStopSec")
	if len(stop) != 1 || !strings.HasSuffix(stop[0], "s") {
		t.Fatalf("TimeoutStopSec=%v", stop)
	}
	if n, _ := strconv.Atoi(strings.TrimSuffix(stop[0], "s")); n <= 10 {
		t.Errorf("TimeoutStopSec=%s leaves no room for the daemon's 10 s graceful shutdown", stop[0])
	}
}
