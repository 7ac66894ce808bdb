package cli

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/internal/testbed"
)

// -update rewrites the golden files. Another test file of this package may
// define the flag too; whichever comes first defines it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

// caddyTestdata is absolute: some tests change the working directory.
var caddyTestdata, _ = filepath.Abs(filepath.Join("testdata", "caddy"))

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(caddyTestdata, name)
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

const caddyConfig = `[settings]
domain = "example.com"
listen = "127.0.0.1:8081"
front_listen = "unix:/run/tenement/front.sock"
front_group = "caddy"
[settings.tls]
acme_email = "admin@example.com"
[service.notes]
command = "/srv/notes/app"
[service.api]
command = "/srv/api/app"
`

// tenCaddy runs the CLI in-process with args and returns stdout, stderr
// and the exit status.
func tenCaddy(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	code, out, errOut := tenIn(nil, args...)
	return out, errOut, code
}

// noConfig makes sure ten finds no config file: none in $TENEMENT_CONFIG,
// none in the working directory, and (else the test skips) none in /etc.
func noConfig(t *testing.T) {
	t.Helper()
	t.Setenv("TENEMENT_CONFIG", "")
	t.Chdir(t.TempDir())
	if _, err := os.Stat("/etc/tenement/tenement.toml"); err == nil {
		t.Skip("/etc/tenement/tenement.toml exists on this machine")
	}
}

// caddyFrontTCPConfig has a front proxy on another machine.
const caddyFrontTCPConfig = `[settings]
domain = "example.com"
listen = "127.0.0.1:8081"
front_listen = "10.0.0.2:8082"
trusted_proxies = ["10.0.0.1"]
[service.notes]
command = "/srv/notes/app"
`

func TestCaddyfile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tenement.toml")
	if err := os.WriteFile(cfg, []byte(caddyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	tcpCfg := filepath.Join(dir, "front-tcp.toml")
	if err := os.WriteFile(tcpCfg, []byte(caddyFrontTCPConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		noConfig bool
		golden   string
	}{
		{"on demand, from the config", []string{"--config", cfg, "caddy"}, false, "on-demand.Caddyfile"},
		{"on demand, flags only", []string{"caddy", "--domain", "Example.NET.", "--port", "9000"}, true, "flags.Caddyfile"},
		{"dns provider", []string{"--config", cfg, "caddy", "--dns-provider", "cloudflare"}, false, "dns-cloudflare.Caddyfile"},
		{"route53 reads its own env", []string{"--config", cfg, "caddy", "--dns-provider", "route53"}, false, "dns-route53.Caddyfile"},
		{"front proxy over tcp", []string{"--config", tcpCfg, "caddy"}, false, "front-tcp.Caddyfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noConfig {
				noConfig(t)
			}
			out, errOut, code := tenCaddy(t, tt.args...)
			if code != 0 {
				t.Fatalf("ten %v: %s", tt.args, errOut)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestCaddyRefusesLocalhost(t *testing.T) {
	noConfig(t)
	_, errOut, code := tenCaddy(t, "caddy")
	if code == 0 || !strings.Contains(errOut, `domain "localhost"`) {
		t.Errorf("ten caddy without a domain: %d %q, want a refusal naming localhost", code, errOut)
	}
}

func TestCaddyOutputFile(t *testing.T) {
	noConfig(t)
	out := filepath.Join(t.TempDir(), "caddy", "Caddyfile")
	if _, errOut, code := tenCaddy(t, "caddy", "-d", "example.com", "-o", out); code != 0 {
		t.Fatal(errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), "on_demand") {
		t.Errorf("written Caddyfile: %v\n%s", err, b)
	}
}

// TestCaddyValidate runs Caddy's own check (Debian's caddy package) on
// what ten caddy writes for on-demand certificates. The DNS-provider
// variant needs a Caddy with that module, which Debian's has not, so only
// its adaptation error is checked to be about the missing module.
func TestCaddyValidate(t *testing.T) {
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		testbed.SkipOrFail(t, "caddy is not installed (scripts/deps installs Debian's caddy)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tenement.toml")
	if err := os.WriteFile(cfg, []byte(caddyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	validate := func(file string) (string, error) {
		cmd := exec.Command(caddy, "validate", "--config", file, "--adapter", "caddyfile")
		// Caddy keeps state under $HOME and $XDG_*; keep it in the test's dir.
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	onDemand := filepath.Join(dir, "on-demand.Caddyfile")
	if _, errOut, code := tenCaddy(t, "--config", cfg, "caddy", "-o", onDemand); code != 0 {
		t.Fatal(errOut)
	}
	if out, err := validate(onDemand); err != nil || !strings.Contains(out, "Valid configuration") {
		t.Errorf("caddy validate %s: %v\n%s", onDemand, err, out)
	}
	// Caddy's own reading of it: every name Caddy serves gets its
	// certificate on demand, after asking tenement, and a route without a
	// host matcher takes the custom domains to tenement.
	cmd := exec.Command(caddy, "adapt", "--config", onDemand, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	adapted, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy adapt: %v", err)
	}
	var conf struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Match []map[string]any `json:"match"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
			TLS struct {
				Automation struct {
					Policies []struct {
						Subjects []string `json:"subjects"`
						OnDemand bool     `json:"on_demand"`
					} `json:"policies"`
					OnDemand struct {
						Ask string `json:"ask"`
					} `json:"on_demand"`
				} `json:"automation"`
			} `json:"tls"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(adapted, &conf); err != nil {
		t.Fatal(err)
	}
	a := conf.Apps.TLS.Automation
	if a.OnDemand.Ask != "http://127.0.0.1:8081/api/tls/ask" || len(a.Policies) != 1 || !a.Policies[0].OnDemand || len(a.Policies[0].Subjects) != 0 {
		t.Errorf("Caddy's TLS automation: %+v, want one on-demand policy for every name, asking tenement", a)
	}
	catchAll := false
	for _, srv := range conf.Apps.HTTP.Servers {
		for _, r := range srv.Routes {
			catchAll = catchAll || len(r.Match) == 0
		}
	}
	if !catchAll {
		t.Errorf("no route for custom domains (a route without a host matcher):\n%s", adapted)
	}
	dns := filepath.Join(dir, "dns.Caddyfile")
	if _, errOut, code := tenCaddy(t, "--config", cfg, "caddy", "--dns-provider", "cloudflare", "-o", dns); code != 0 {
		t.Fatal(errOut)
	}
	if out, err := validate(dns); err == nil || !strings.Contains(out, "dns.providers.cloudflare") {
		t.Errorf("caddy validate of the DNS variant: %v, want only the missing module named:\n%s", err, out)
	}
}

// Without front_listen, Caddy's forwarding headers would be replaced:
// ten caddy says what to set.
func TestCaddyWarnsWithoutFront(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tenement.toml")
	if err := os.WriteFile(cfg, []byte("[settings]\ndomain = \"example.com\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := tenCaddy(t, "--config", cfg, "caddy")
	if code != 0 {
		t.Fatal(errOut)
	}
	if !strings.Contains(errOut, `front_listen = "unix:/run/tenement/front.sock"`) || !strings.Contains(errOut, "front_group") {
		t.Errorf("stderr without front_listen: %q, want what to set", errOut)
	}
	if !strings.Contains(out, "reverse_proxy unix//run/tenement/front.sock") {
		t.Errorf("Caddyfile without front_listen does not proxy to the default front socket:\n%s", out)
	}
}
