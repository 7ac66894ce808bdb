package units

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const goldenConfig = `
[settings]
data_dir = "/var/lib/tenement"
max_restarts = 3
restart_window = 300

[service.notes]
command = "/usr/bin/python3 app.py --port {port}"
isolation = "process"
health = "/health"

[service.limited]
command = "/srv/app/server"
args = ["--db", "{data_dir}/{name}/{id}/db.sqlite", "--socket", "{socket}"]
isolation = "process"
ready = "notify"
restart = "never"
memory_limit_mb = 128
cpu_shares = 50
tasks_max = 32
stop_timeout = "3s"
startup_timeout = "20s"
workdir = "/srv/app"
user = "www-data"
env = { TENANT = "{id}", MODE = "production" }

[service.sock]
command = "/usr/local/bin/app"
isolation = "process"
activation = "socket"
network = "private"
tasks_max = 0

[service.ns]
command = "/usr/bin/node server.js"
workdir = "/srv/ns"
ready = "notify"
memory_limit_mb = 256
cpu_shares = 200

[service.nssock]
command = "/srv/app/server"
activation = "socket"
network = "private"

[service.box]
command = "/usr/bin/python3 -m http.server {port} --bind 127.0.0.1"
isolation = "sandbox"
memory_limit_mb = 512
tasks_max = 256
`

func loadGolden(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse("/etc/tenement/tenement.toml", []byte(goldenConfig))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRenderGolden(t *testing.T) {
	c := loadGolden(t)
	creds := []Credential{
		{"db_password", "/etc/tenement/credentials/ns/db_password"},
		{"api-key", "/etc/tenement/credentials/ns/grace/api-key"},
	}
	tests := []struct {
		name     string
		instance string
		port     int
		creds    []Credential
	}{
		{"process", "notes:alice", 20001, nil},
		{"limits-notify-user", "limited:bob", 20002, nil},
		{"socket-activation", "sock:carol-smith", 20003, nil},
		{"namespace", "ns:dave", 20004, nil},
		{"namespace-socket-private", "nssock:erin", 20005, nil},
		{"sandbox", "box:frank", 20006, nil},
		{"namespace-credentials", "ns:grace", 20007, creds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := names.Parse(tt.instance)
			if err != nil {
				t.Fatal(err)
			}
			svc := c.Services[n.Service]
			v := svc.InstanceVars(n.Service, n.ID, c.Settings.DataDir, tt.port)
			argv, err := svc.Argv(v)
			if err != nil {
				t.Fatal(err)
			}
			u, err := Render(Spec{Instance: n, Service: svc, Settings: &c.Settings, Port: tt.port,
				Argv: argv, Marker: "/var/lib/tenement", Wrapper: "/usr/lib/tenement/ten-isolate",
				ConfigPath: c.Path, Credentials: tt.creds})
			if err != nil {
				t.Fatal(err)
			}
			got := "# " + u.ServiceName + "\n" + Format(u.Service)
			if u.Socket != nil {
				got += "# " + u.SocketName + "\n" + Format(u.Socket)
			}
			got += "# " + u.ServiceName + ".d/" + DropInName + "\n" + u.ExecDropIn
			golden(t, filepath.Join("testdata", tt.name+".golden"), got)
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./units -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./units -update after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestRenderRejects(t *testing.T) {
	c := loadGolden(t)
	n, _ := names.Parse("notes:alice")
	svc := c.Services["notes"]
	boxNotify := *svc
	boxNotify.Isolation, boxNotify.Ready = config.IsolationSandbox, config.ReadyNotify
	boxSocket := *svc
	boxSocket.Isolation, boxSocket.Activation = config.IsolationSandbox, config.ActivationSocket
	nsNoWrapper := *svc
	nsNoWrapper.Isolation = config.IsolationNamespace
	unvalidated := config.Settings{DataDir: "/var/lib/tenement"}
	tests := []struct {
		name string
		spec Spec
		want error
	}{
		{"relative program", Spec{Instance: n, Service: svc, Settings: &c.Settings, Port: 1, Argv: []string{"python3"}}, errdefs.ErrInvalid},
		{"no argv", Spec{Instance: n, Service: svc, Settings: &c.Settings, Port: 1}, errdefs.ErrInvalid},
		{"bad port", Spec{Instance: n, Service: svc, Settings: &c.Settings, Port: 0, Argv: []string{"/bin/true"}}, errdefs.ErrInvalid},
		{"no service", Spec{Instance: n, Settings: &c.Settings, Port: 1, Argv: []string{"/bin/true"}}, errdefs.ErrInvalid},
		{"sandbox with notify", Spec{Instance: n, Service: &boxNotify, Settings: &c.Settings, Port: 1, Argv: []string{"/bin/true"}, Wrapper: "/usr/bin/ten"}, errdefs.ErrInvalid},
		{"sandbox with socket", Spec{Instance: n, Service: &boxSocket, Settings: &c.Settings, Port: 1, Argv: []string{"/bin/true"}, Wrapper: "/usr/bin/ten"}, errdefs.ErrInvalid},
		{"namespace without wrapper", Spec{Instance: n, Service: &nsNoWrapper, Settings: &c.Settings, Port: 1, Argv: []string{"/bin/true"}}, errdefs.ErrInvalid},
		{"process without wrapper", Spec{Instance: n, Service: svc, Settings: &c.Settings, Port: 1, Argv: []string{"/bin/true"}}, errdefs.ErrInvalid},
		{"no port range", Spec{Instance: n, Service: svc, Settings: &unvalidated, Port: 1, Argv: []string{"/bin/true"}, Wrapper: "/usr/bin/ten"}, errdefs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.spec)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Render: %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "notes:alice") {
				t.Errorf("error does not name the instance: %v", err)
			}
		})
	}
}

func TestQuoteArg(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       `"plain"`,
		"a b":         `"a b"`,
		`say "hi"\n`:  `"say \"hi\"\\n"`,
		"$HOME 100%":  `"$$HOME 100%%"`,
		"line\nbreak": `"line\nbreak"`,
		"\x01":        `"\x01"`,
	} {
		if got := quoteArg(in); got != want {
			t.Errorf("quoteArg(%q) = %s, want %s", in, got, want)
		}
	}
}
