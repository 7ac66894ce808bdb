package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// TestMain builds ten and the test app on the host and runs this package's
// tests inside a fresh systemd manager.
func TestMain(m *testing.M) { os.Exit(testbed.Main(m, build)) }

func build(share string) error { return testbed.BuildTools(share, raceEnabled) }

func binPath(name string) string { return filepath.Join(testbed.ShareDir(), "bin", name) }

// daemon is one `ten serve` under test, with its own config, data dir, API
// socket and HTTP port.
type daemon struct {
	t       *testing.T
	dir     string
	cfgPath string
	dataDir string
	sock    string
	port    int
	domain  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

// startDaemon writes a config (settings are filled in; services come from
// services, in which {app} is the test app's path) and starts the daemon.
func startDaemon(t *testing.T, settings, services string) *daemon {
	t.Helper()
	testbed.Require(t)
	dir := t.TempDir()
	// Unix socket paths must stay under 108 bytes: keep the socket in a
	// short directory of the manager's own /run.
	sockDir, err := os.MkdirTemp("/run", "ten-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	d := &daemon{t: t, dir: dir, dataDir: filepath.Join(dir, "data"), sock: filepath.Join(sockDir, "api.sock"),
		port: freePort(t), domain: "test.local", cfgPath: filepath.Join(dir, "tenement.toml")}
	cfg := fmt.Sprintf("[settings]\ndata_dir = %q\napi_socket = %q\nlisten = \"127.0.0.1:%d\"\ndomain = %q\n%s\n%s",
		d.dataDir, d.sock, d.port, d.domain, settings, strings.ReplaceAll(services, "{app}", binPath("testapp")))
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.cleanup)
	d.start()
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	d.mu.Lock()
	cmd := exec.Command(binPath("ten"), "serve", "--config", d.cfgPath)
	if d.logs == nil {
		d.logs = &bytes.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = syncWriter{&d.mu, d.logs}, syncWriter{&d.mu, d.logs}
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		d.t.Fatal(err)
	}
	d.cmd, d.done = cmd, make(chan struct{})
	done := d.done
	d.mu.Unlock()
	go func() { cmd.Wait(); close(done) }()
	d.waitAPI()
}

// waitAPI waits until the API answers.
func (d *daemon) waitAPI() {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			d.t.Fatalf("daemon exited:\n%s", d.Logs())
		default:
		}
		if _, err := d.tenErr("ps"); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("daemon API did not come up:\n%s", d.Logs())
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *daemon) stop() {
	d.t.Helper()
	d.signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.t.Fatalf("daemon did not exit after SIGTERM:\n%s", d.Logs())
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		d.t.Errorf("daemon exited with %d:\n%s", code, d.Logs())
	}
}

// kill9 kills the daemon without warning.
func (d *daemon) kill9() {
	d.t.Helper()
	d.signal(syscall.SIGKILL)
	<-d.done
}

func (d *daemon) signal(sig syscall.Signal) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(sig)
	}
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// cleanup stops the daemon and every unit with its marker.
func (d *daemon) cleanup() {
	if d.running() {
		d.signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			d.signal(syscall.SIGKILL)
			<-d.done
		}
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", d.Logs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		d.t.Errorf("cleanup: %v", err)
		return
	}
	defer c.Close()
	for _, u := range d.units(ctx, c) {
		c.Stop(ctx, u)
		c.ResetFailed(ctx, u)
	}
}

// units returns the units (service and socket) whose service carries this
// daemon's marker.
func (d *daemon) units(ctx context.Context, c *dbusapi.Conn) []string {
	list, err := c.List(ctx, names.UnitPattern)
	if err != nil {
		d.t.Errorf("list units: %v", err)
		return nil
	}
	var out []string
	for _, u := range list {
		n, err := names.FromUnit(u.Name)
		if err != nil {
			continue
		}
		st, err := c.State(ctx, n.Unit())
		if err != nil {
			continue
		}
		if units.HasMarker(st.Environment, d.dataDir) {
			out = append(out, u.Name)
		}
	}
	return out
}

// Logs returns what the daemon printed.
func (d *daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// ten runs the CLI against this daemon and fails the test on error.
func (d *daemon) ten(args ...string) string {
	d.t.Helper()
	out, err := d.tenErr(args...)
	if err != nil {
		d.t.Fatalf("ten %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (d *daemon) tenErr(args ...string) (string, error) {
	cmd := exec.Command(binPath("ten"), append([]string{"--config", d.cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "TENEMENT_SERVER=", "TENEMENT_TOKEN=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// request sends a GET through the daemon's HTTP listener with the given
// Host header.
func (d *daemon) request(host, path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", d.port, path), nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

var httpClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}

// crash makes the app on port exit, with a one-shot connection: on a
// reused keep-alive connection Go's client would resend the GET once the
// connection dies, crashing the restarted app a second time.
func crash(port int) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/crash", port)); err == nil {
		resp.Body.Close()
	}
}

// get fetches a path directly from an instance's port.
func get(t *testing.T, port int, path string) string {
	t.Helper()
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// systemctl runs systemctl inside the manager.
func systemctl(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := exec.Command("systemctl", args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// show returns one property of a unit.
func show(t *testing.T, unit, prop string) string {
	t.Helper()
	return strings.TrimPrefix(systemctl(t, "show", "-p", prop, "--value", unit), prop+"=")
}

func mainPID(t *testing.T, unit string) int {
	t.Helper()
	n, _ := strconv.Atoi(show(t, unit, "MainPID"))
	return n
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
