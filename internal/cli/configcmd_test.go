package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ten runs the command line with args and returns its exit status,
// stdout and stderr.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, toml string
		code       int
		want       string // in stdout when code is 0, else the one stderr line
	}{
		{"valid", "[service.notes]\ncommand = \"/bin/true\"\nisolation = \"process\"\nuser = \"nobody\"\n", 0, ": ok (1 services, 0 configured instances)"},
		{"unknown key", "[service.notes]\ncommand = \"/bin/true\"\ncomand = \"x\"\n", 1, ":3: service.notes.comand: unknown key"},
		{"wrong type", "[service.notes]\ncommand = \"/bin/true\"\nmemory_limit_mb = \"lots\"\n", 1, ":3: service.notes.memory_limit_mb: wrong type"},
		{"invalid isolation", "[service.notes]\ncommand = \"/bin/true\"\nisolation = \"vm\"\n", 1, `:3: service.notes.isolation: invalid value "vm"`},
		{"missing program", "[service.notes]\ncommand = \"/nonexistent/app\"\n", 1, `:2: service.notes.command: stat /nonexistent/app: no such file or directory`},
		{"missing user", "[service.notes]\ncommand = \"/bin/true\"\nisolation = \"process\"\nuser = \"nosuchuser42\"\n", 1, `:4: service.notes.user: user "nosuchuser42" does not exist on this machine`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(tt.name, " ", "-")+".toml", tt.toml)
			code, stdout, stderr := tenIn(nil, "config", "check", "--config", path)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tt.code, stdout, stderr)
			}
			out := stdout
			if code != 0 {
				out = stderr
				if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "ten: "+path) {
					t.Errorf("error is not one line naming the file: %q", stderr)
				}
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output %q does not contain %q", out, tt.want)
			}
		})
	}
	// process as root is valid, and warned about in one line.
	path := write("root.toml", "[service.notes]\ncommand = \"/bin/true\"\nisolation = \"process\"\n")
	code, _, stderr := tenIn(nil, "config", "check", "--config", path)
	if code != 0 || stderr != "warning: "+path+`:3: service.notes.isolation: "process" without user runs every tenant as root: a tenant can then read every other tenant's data and is admin on the API socket; use isolation = "namespace" or set user`+"\n" {
		t.Errorf("process as root: exit %d, stderr %q", code, stderr)
	}
	code, stdout, _ := tenIn(nil, "config", "show", "--config", write("show.toml", "[service.notes]\ncommand = \"/bin/true\"\n"))
	if code != 0 || !strings.Contains(stdout, `isolation = "namespace"`) || !strings.Contains(stdout, `port_range = "20000-29999"`) {
		t.Errorf("config show: %d\n%s", code, stdout)
	}
}
