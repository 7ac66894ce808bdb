package isolation

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

func TestUserName(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"notes:alice", "notes:bob", "blog:alice", "a:b", "notes:" + strings.Repeat("x", 63)} {
		n, err := names.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		u := UserName(n)
		if len(u) > 31 || !strings.HasPrefix(u, "tn-") || len(u) != 19 {
			t.Errorf("UserName(%s) = %q: want tn- and 16 hex digits", s, u)
		}
		if u != UserName(n) {
			t.Errorf("UserName(%s) is not stable", s)
		}
		if other, ok := seen[u]; ok {
			t.Errorf("%s and %s share user %s", s, other, u)
		}
		seen[u] = s
	}
}

func TestArgsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"namespace", Options{Mode: ModeNamespace, User: "tn-0123456789abcdef", DataDir: "/var/lib/tenement/a/b", Argv: []string{"/usr/bin/node", "server.js", "--", "--port", "1"}}},
		{"sandbox", Options{Mode: ModeSandbox, User: "tn-0123456789abcdef", DataDir: "/d", ID: "tenement-a-b", Argv: []string{"/app"}}},
		{"init", Options{Mode: ModeInit, UID: 61234, GID: 61234, StatusFD: 4, Argv: []string{"/app", "x y"}}},
		{"exec", Options{Mode: ModeExec, Argv: []string{"/app"}}},
		{"guard", Options{Mode: ModeGuard, Port: 20001, PortLow: 20000, PortHigh: 29999}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.o.Args()
			if args[0] != Command {
				t.Fatalf("args %q do not start with %s", args, Command)
			}
			got, err := Parse(args[1:])
			if err != nil {
				t.Fatalf("Parse(%q): %v", args, err)
			}
			if !slices.Equal(got.Argv, tt.o.Argv) {
				t.Errorf("argv %q, want %q", got.Argv, tt.o.Argv)
			}
			got.Argv, tt.o.Argv = nil, nil
			if got.Mode != tt.o.Mode || got.User != tt.o.User || got.DataDir != tt.o.DataDir || got.ID != tt.o.ID ||
				got.UID != tt.o.UID || got.GID != tt.o.GID || got.StatusFD != tt.o.StatusFD ||
				got.Port != tt.o.Port || got.PortLow != tt.o.PortLow || got.PortHigh != tt.o.PortHigh {
				t.Errorf("Parse(Args()) = %+v, want %+v", got, tt.o)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no mode", nil, "want a mode"},
		{"unknown mode", []string{"vm", "--", "/a"}, `unknown mode "vm"`},
		{"no separator", []string{ModeNamespace, "--user", "u", "--data", "/d"}, `want "--"`},
		{"relative app", []string{ModeNamespace, "--user", "u", "--data", "/d", "--", "app"}, "absolute path"},
		{"no app", []string{ModeNamespace, "--user", "u", "--data", "/d", "--"}, "absolute path"},
		{"no user", []string{ModeNamespace, "--data", "/d", "--", "/a"}, "--user is required"},
		{"relative data", []string{ModeSandbox, "--user", "u", "--data", "d", "--id", "x", "--", "/a"}, "--data must be"},
		{"sandbox without id", []string{ModeSandbox, "--user", "u", "--data", "/d", "--", "/a"}, "--id is required"},
		{"init as root", []string{ModeInit, "--uid", "0", "--gid", "0", "--", "/a"}, "unprivileged"},
		{"bad number", []string{ModeInit, "--uid", "x", "--", "/a"}, "not a number"},
		{"unknown flag", []string{ModeNamespace, "--root", "/", "--", "/a"}, "unknown flag --root"},
		{"flag without value", []string{ModeNamespace, "--user"}, "needs a value"},
		{"guard without port", []string{ModeGuard, "--range", "20000-29999"}, "--port must be"},
		{"guard without range", []string{ModeGuard, "--port", "20001"}, "--range must be"},
		{"guard reversed range", []string{ModeGuard, "--port", "20001", "--range", "29999-20000"}, "--range must be"},
		{"guard bad range", []string{ModeGuard, "--port", "20001", "--range", "20000"}, "not a number"},
		{"guard with an app", []string{ModeGuard, "--port", "20001", "--range", "20000-29999", "--", "/a"}, "runs no app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args)
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want an invalid-argument error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		in   string
		want status
		code int
		ok   bool
	}{
		{"exit 0", status{}, 0, true},
		{"exit 3\n", status{code: 3}, 3, true},
		{"signal 9", status{signal: syscall.SIGKILL}, 137, true},
		{"signal 15", status{signal: syscall.SIGTERM}, 143, true},
		{"", status{}, 0, false},
		{"signal 0", status{}, 0, false},
		{"exit 300", status{}, 0, false},
		{"crashed", status{}, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseStatus(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseStatus(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
			continue
		}
		if ok {
			if got.exitCode() != tt.code {
				t.Errorf("%q exit code %d, want %d", tt.in, got.exitCode(), tt.code)
			}
			if back, _ := parseStatus(got.String()); back != got {
				t.Errorf("%q does not survive String: %q", tt.in, got.String())
			}
		}
	}
}

func TestRunscStatus(t *testing.T) {
	for _, tt := range []struct{ in, want status }{
		{status{code: 0}, status{code: 0}},
		{status{code: 1}, status{code: 1}},
		{status{code: 128}, status{code: 128}}, // runsc's own failure
		{status{code: 143}, status{signal: syscall.SIGTERM}},
		{status{code: 137}, status{signal: syscall.SIGKILL}},
		{status{code: 200}, status{code: 200}},
		{status{signal: syscall.SIGKILL}, status{signal: syscall.SIGKILL}},
	} {
		if got := runscStatus(tt.in); got != tt.want {
			t.Errorf("runscStatus(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// fakeUserDB serves one varlink connection on a real unix socket and
// answers with reply; it records the call it got.
func fakeUserDB(t *testing.T, reply string) (path string, got chan map[string]any) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "io.systemd.DynamicUser")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got = make(chan map[string]any, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		msg, err := bufio.NewReader(c).ReadBytes(0)
		if err != nil {
			return
		}
		var call map[string]any
		json.Unmarshal(msg[:len(msg)-1], &call)
		got <- call
		c.Write(append([]byte(reply), 0))
	}()
	return path, got
}

func TestLookupUser(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    User
		wantErr error
	}{
		{"record", `{"parameters":{"record":{"userName":"tn-x","uid":61234,"gid":61235,"disposition":"dynamic"},"incomplete":false}}`, User{"tn-x", 61234, 61235}, nil},
		{"no gid", `{"parameters":{"record":{"userName":"tn-x","uid":61234}}}`, User{"tn-x", 61234, 61234}, nil},
		{"not found", `{"error":"io.systemd.UserDatabase.NoRecordFound","parameters":{}}`, User{}, errdefs.ErrNotFound},
		{"other error", `{"error":"io.systemd.UserDatabase.ServiceNotAvailable","parameters":{}}`, User{}, errdefs.ErrUnavailable},
		{"root", `{"parameters":{"record":{"userName":"tn-x","uid":0,"gid":0}}}`, User{}, errdefs.ErrInvalid},
		{"another user", `{"parameters":{"record":{"userName":"tn-y","uid":61234}}}`, User{}, errdefs.ErrUnavailable},
		{"garbage", `{"parameters":`, User{}, errdefs.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock, calls := fakeUserDB(t, tt.reply)
			u, err := LookupUser(context.Background(), sock, "tn-x")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LookupUser: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || u != tt.want {
				t.Fatalf("LookupUser = %+v %v, want %+v", u, err, tt.want)
			}
			call := <-calls
			params, _ := call["parameters"].(map[string]any)
			if call["method"] != "io.systemd.UserDatabase.GetUserRecord" || params["userName"] != "tn-x" || params["service"] != "io.systemd.DynamicUser" {
				t.Errorf("call %v", call)
			}
		})
	}
	if _, err := LookupUser(context.Background(), filepath.Join(t.TempDir(), "none"), "tn-x"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("no socket: %v", err)
	}
}

func TestBundleSpec(t *testing.T) {
	o := Options{Mode: ModeSandbox, User: "tn-x", DataDir: "/var/lib/tenement/box/a", ID: "tenement-box-a", Argv: []string{"/usr/bin/python3", "app.py"}}
	env := []string{"PATH=/usr/bin", "PORT=20001", "NOTIFY_SOCKET=/run/systemd/notify", "LISTEN_FDS=1", "JOURNAL_STREAM=8:1", "DATA_DIR=/var/lib/tenement/box/a"}
	b, err := BundleSpec(o, User{"tn-x", 61234, 61234}, env, "/srv/app")
	if err != nil {
		t.Fatal(err)
	}
	var spec ociSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	p := spec.Process
	if p.User.UID != 61234 || p.User.GID != 61234 || !p.NoNewPrivileges || p.Terminal || p.Cwd != "/srv/app" {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Args, o.Argv) {
		t.Errorf("args %q", p.Args)
	}
	if want := []string{"PATH=/usr/bin", "PORT=20001", "DATA_DIR=/var/lib/tenement/box/a"}; !slices.Equal(p.Env, want) {
		t.Errorf("env %q, want %q", p.Env, want)
	}
	if spec.Root.Path != "/" || !spec.Root.Readonly {
		t.Errorf("root %+v, want / read-only", spec.Root)
	}
	var data *ociMount
	for i, m := range spec.Mounts {
		if m.Destination == o.DataDir {
			data = &spec.Mounts[i]
		}
		if m.Destination == "/tmp" && m.Type != "tmpfs" {
			t.Errorf("/tmp is %s: the unit's /tmp holds the bundle", m.Type)
		}
	}
	if data == nil || data.Source != o.DataDir || data.Type != "bind" || !slices.Contains(data.Options, "rw") {
		t.Errorf("data dir mount %+v", data)
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == "network" {
			t.Errorf("a network namespace: the app must listen on the unit's network")
		}
	}
	if slices.ContainsFunc(spec.Mounts, func(m ociMount) bool { return strings.HasPrefix(m.Destination, "/run/") }) {
		t.Errorf("a mount under /run without credentials: %+v", spec.Mounts)
	}
	const creds = "/run/credentials/tenement@box-a.service"
	b, err = BundleSpec(o, User{"tn-x", 61234, 61234}, append(env, "CREDENTIALS_DIRECTORY="+creds), "/srv/app")
	if err != nil {
		t.Fatal(err)
	}
	spec = ociSpec{}
	json.Unmarshal(b, &spec)
	if i := slices.IndexFunc(spec.Mounts, func(m ociMount) bool { return m.Destination == creds }); i < 0 ||
		spec.Mounts[i].Source != creds || !slices.Contains(spec.Mounts[i].Options, "ro") || spec.Mounts[i].Type != "bind" {
		t.Errorf("credentials are not bound read-only at %s: %+v", creds, spec.Mounts)
	} else if runAt := slices.IndexFunc(spec.Mounts, func(m ociMount) bool { return m.Destination == "/run" }); runAt > i {
		t.Errorf("the credentials are mounted before /run, which hides them")
	}
	if !slices.Contains(spec.Process.Env, "CREDENTIALS_DIRECTORY="+creds) {
		t.Errorf("the app is not told where its credentials are: %q", spec.Process.Env)
	}
	if b, _ := BundleSpec(o, User{"tn-x", 1, 1}, nil, "relative"); !strings.Contains(string(b), `"cwd": "/"`) {
		t.Errorf("a relative cwd is not replaced by /")
	}
}

func TestRunscArgs(t *testing.T) {
	got := RunscArgs("/usr/local/bin/runsc", "/tmp/tenement-sandbox", "tenement-box-a")
	want := []string{"/usr/local/bin/runsc", "--root=/tmp/tenement-sandbox/state", "--platform=systrap", "--network=host",
		"--ignore-cgroups", "--overlay2=none", "run", "--bundle", "/tmp/tenement-sandbox/bundle",
		"--pid-file", "/tmp/tenement-sandbox/sandbox.pid", "tenement-box-a"}
	if !slices.Equal(got, want) {
		t.Errorf("RunscArgs:\n got  %q\n want %q", got, want)
	}
}

func TestEnvWithout(t *testing.T) {
	got := envWithout([]string{"A=1", "LISTEN_PID=3", "B=", "LISTEN_PIDX=4", "C"}, "LISTEN_PID", "C")
	if want := []string{"A=1", "B=", "LISTEN_PIDX=4"}; !slices.Equal(got, want) {
		t.Errorf("envWithout = %q, want %q", got, want)
	}
	if getenv([]string{"A=1", "LISTEN_FDS=2"}, "LISTEN_FDS") != "2" || getenv(nil, "X") != "" {
		t.Error("getenv")
	}
}

// scripts/deps installs the runsc this package names.
func TestDepsInstallsPinnedRunsc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "scripts", "deps"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "RUNSC_VERSION="+RunscVersion+"\n") {
		t.Errorf("scripts/deps does not install runsc %s", RunscVersion)
	}
}

func TestWrapperPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "ten")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(WrapperDir, WrapperName)); err == nil {
		t.Skip("a packaged wrapper is installed on this machine")
	}
	if got := WrapperPath(exe); got != exe {
		t.Errorf("without ten-isolate: %s, want ten itself", got)
	}
	sibling := filepath.Join(dir, WrapperName)
	if err := os.WriteFile(sibling, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := WrapperPath(exe); got != exe {
		t.Errorf("with a non-executable ten-isolate: %s, want ten itself", got)
	}
	os.Chmod(sibling, 0o755)
	if got := WrapperPath(exe); got != sibling {
		t.Errorf("with ten-isolate next to ten: %s, want %s", got, sibling)
	}
}
