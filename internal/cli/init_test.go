package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/config"
)

func runTen(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	code, out, errOut := tenIn(nil, args...)
	return out, errOut, code
}

func TestInitWritesAConfigThatLoads(t *testing.T) {
	for _, tc := range []struct {
		name, dir string
		files     []string
		args      []string
		service   string
		command   string
	}{
		{"python", "My-App_2", []string{"requirements.txt"}, nil, "myapp2", "uv run python app.py"},
		{"python main", "svc", []string{"pyproject.toml", "main.py"}, nil, "svc", "uv run python main.py"},
		{"node", "web", []string{"package.json"}, nil, "web", "npm start"},
		{"go", "api", []string{"go.mod"}, nil, "api", "go run ."},
		{"rust", "r", []string{"Cargo.toml"}, nil, "r", "cargo run --release"},
		{"nothing", "plain", nil, nil, "plain", "./app"},
		{"flags", "whatever", nil, []string{"--name", "notes", "--command", "./notes --port {port}"}, "notes", "./notes --port {port}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.dir)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				os.WriteFile(filepath.Join(dir, f), nil, 0o644)
			}
			t.Chdir(dir)
			out, errOut, code := runTen(t, append([]string{"init"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("ten init: %s", errOut)
			}
			if !strings.Contains(out, "Created "+filepath.Join(dir, "tenement.toml")) {
				t.Errorf("output: %s", out)
			}
			cfg, err := config.Load(filepath.Join(dir, "tenement.toml"))
			if err != nil {
				t.Fatal(err)
			}
			svc := cfg.Services[tc.service]
			if svc == nil || svc.Command != tc.command || svc.Health != "/health" || svc.Workdir != dir || !svc.Persist() {
				t.Fatalf("service %q: %+v", tc.service, svc)
			}
			if svc.Isolation != config.IsolationNamespace || len(cfg.Warnings()) != 0 {
				t.Errorf("isolation %q, warnings %v: want namespace and none", svc.Isolation, cfg.Warnings())
			}
			if ids := cfg.Instances[tc.service]; len(ids) != 1 || ids[0] != "default" {
				t.Errorf("instances %v", cfg.Instances)
			}
			// A second init refuses to replace the file.
			if _, errOut, code := runTen(t, "init"); code == 0 || !strings.Contains(errOut, "exists") {
				t.Errorf("second init: %d %s", code, errOut)
			}
		})
	}
}

func TestInitRejectsBadNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "123")
	os.Mkdir(dir, 0o755)
	t.Chdir(dir)
	if _, errOut, code := runTen(t, "init"); code == 0 || !strings.Contains(errOut, "--name") {
		t.Errorf("init in %s: %d %s", dir, code, errOut)
	}
	if _, errOut, code := runTen(t, "init", "--name", "my-app"); code == 0 || !strings.Contains(errOut, "service name") {
		t.Errorf("init --name my-app: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenement.toml")); err == nil {
		t.Error("a failed init left a file")
	}
}
