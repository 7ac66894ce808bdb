package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckHost(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tenement.toml")
	os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data.txt"), nil, 0o644)
	tests := []struct {
		name, service, want string
	}{
		{"absolute", `command = "/bin/true"`, ""},
		{"bare name in PATH", `command = "true"`, ""},
		{"relative to the config", `command = "./app --port {port}"`, ""},
		{"template program", `command = "{data_dir}/bin/app"`, ""},
		{"missing", `command = "/nonexistent/app"`, ":2: service.web.command: stat /nonexistent/app: no such file or directory"},
		{"not in PATH", `command = "no-such-program-here"`, `:2: service.web.command: "no-such-program-here" not found in PATH`},
		{"not executable", `command = "./data.txt"`, ":2: service.web.command: " + filepath.Join(dir, "data.txt") + " is not executable"},
		{"no such user", "command = \"/bin/true\"\nisolation = \"process\"\nuser = \"nosuchuser42\"", `:4: service.web.user: user "nosuchuser42" does not exist on this machine`},
		{"existing user", "command = \"/bin/true\"\nisolation = \"process\"\nuser = \"nobody\"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(cfgPath, []byte("[service.web]\n"+tt.service+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			errs := c.CheckHost()
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("CheckHost: %v", errs)
			case tt.want != "" && (len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), cfgPath+tt.want)):
				t.Errorf("CheckHost = %v, want %s%s", errs, cfgPath, tt.want)
			}
		})
	}
}

func TestCheckHostSandboxNeedsRunsc(t *testing.T) {
	old := runscPath
	t.Cleanup(func() { runscPath = old })
	runscPath = t.TempDir()
	c, err := Parse("/etc/t.toml", []byte("[service.box]\ncommand = \"/bin/true\"\nisolation = \"sandbox\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := c.CheckHost(); len(errs) != 1 || !strings.Contains(errs[0].Error(), `service.box.isolation: "sandbox" needs gVisor's runsc`) {
		t.Errorf("CheckHost = %v", errs)
	}
	os.WriteFile(filepath.Join(runscPath, "runsc"), nil, 0o755)
	if errs := c.CheckHost(); len(errs) != 0 {
		t.Errorf("with runsc: %v", errs)
	}
}
