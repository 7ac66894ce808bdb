package main

import (
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
	"syscall"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

// domain is the bench daemon's root domain.
const domain = "bench.local"

// benchConfig is the daemon's config: one proxy-held and one
// socket-activated service of the same static app, process isolation,
// readiness by TCP connect, never idle-stopped by the daemon itself (the
// bench puts instances to sleep). A proxy-held service per further
// isolation level follows it (levelServiceConfig).
const benchConfig = `[settings]
data_dir = %q
api_socket = %q
listen = %q
domain = %q
port_range = "21000-21999"
# The bench stops instances through the API hundreds of times a minute.
api_writes_per_minute = 0

[service.held]
command = %q
isolation = "process"
activation = "proxy"
ready = "tcp"
wake_timeout = "10s"

[service.sock]
command = %q
isolation = "process"
activation = "socket"
ready = "tcp"
wake_timeout = "10s"
`

// daemon is the `ten serve` under test.
type daemon struct {
	cmd    *exec.Cmd
	done   chan struct{}
	api    *client.Client
	cfg    *config.Config
	listen string
	log    string
	pprof  string // the daemon's profiler address, or ""
	ten    string
}

func startDaemon(dir, ten, app string, port int, pprofAddr string, levels []string) (*daemon, error) {
	sock := "/run/tenement-bench-api.sock"
	listen := "127.0.0.1:" + strconv.Itoa(port)
	data := filepath.Join(dir, "data")
	text := fmt.Sprintf(benchConfig, data, sock, listen, domain, app, app)
	for _, l := range levels {
		text += fmt.Sprintf(levelServiceConfig, levelServices[l], app, l)
	}
	return launchDaemon(dir, ten, text, pprofAddr)
}

// launchDaemon writes the config text to dir/tenement.toml (its data_dir
// is emptied first), starts `ten serve` on it with its log in
// dir/daemon.log, and waits until its API answers.
func launchDaemon(dir, ten, text, pprofAddr string) (*daemon, error) {
	cfgPath := filepath.Join(dir, "tenement.toml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	_ = os.RemoveAll(cfg.Settings.DataDir)
	d := &daemon{cfg: cfg, listen: cfg.Settings.Listen, log: filepath.Join(dir, "daemon.log"), pprof: pprofAddr, ten: ten}
	if err := d.startProcess(); err != nil {
		return nil, err
	}
	if err := d.waitAPI(20 * time.Second); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// startProcess starts `ten serve` on the daemon's config, appending to its
// log, and returns without waiting for it.
func (d *daemon) startProcess() error {
	logf, err := os.OpenFile(d.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(d.ten, "serve", "--config", d.cfg.Path)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Only the daemon asked to serves the profiler: another one started
	// first with the bench's own TENEMENT_PPROF would take its address.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TENEMENT_PPROF=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if d.pprof != "" {
		cmd.Env = append(cmd.Env, "TENEMENT_PPROF="+d.pprof)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.cmd, d.done = cmd, done
	if d.api, err = client.New("unix:"+d.cfg.Settings.APISocket, ""); err != nil {
		return err
	}
	return nil
}

// waitAPI waits until the daemon's API answers.
func (d *daemon) waitAPI(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.api.Instances(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("ten serve exited: %s", d.tail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ten serve's API did not come up: %w: %s", err, d.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the end of the daemon's log.
func (d *daemon) tail() string {
	b, _ := os.ReadFile(d.log)
	s := string(b)
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// host is the Host header that reaches an instance.
func host(n names.Instance) string { return n.ID + "." + n.Service + "." + domain }

func (d *daemon) spawn(ctx context.Context, n names.Instance) (apitype.Instance, error) {
	if _, err := d.api.Spawn(ctx, n); err != nil {
		return apitype.Instance{}, fmt.Errorf("spawn %s: %w", n, err)
	}
	return d.api.Instance(ctx, n)
}

// awaitState waits until the daemon reports the instance in state.
func (d *daemon) awaitState(ctx context.Context, n names.Instance, want apitype.State) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		i, err := d.api.Instance(ctx, n)
		if err == nil && i.State == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: state %s, want %s (%v)", n, i.State, want, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// readyTook returns the "took" values of the daemon's "instance ready" log
// lines for n from offset on: launch + readiness, as the supervisor saw it.
func (d *daemon) readyTook(n names.Instance, offset int64) (sample, int64) {
	b, err := os.ReadFile(d.log)
	if err != nil || int64(len(b)) < offset {
		return nil, offset
	}
	var out sample
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		if !strings.Contains(line, `msg="instance ready"`) || !strings.Contains(line, "instance="+n.String()+" ") {
			continue
		}
		_, v, ok := strings.Cut(line, " took=")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, " ")
		if dur, err := time.ParseDuration(v); err == nil {
			out = append(out, dur)
		}
	}
	return out, int64(len(b))
}

// freePort returns a port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cpuProfile fetches a CPU profile of the daemon over d and writes it to
// path; it returns a func that waits for it.
func (d *daemon) cpuProfile(dur time.Duration, path string) func() error {
	if d.pprof == "" {
		return func() error { return nil }
	}
	errc := make(chan error, 1)
	go func() {
		secs := max(1, int(dur/time.Second))
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", d.pprof, secs))
		if err != nil {
			errc <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			errc <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		errc <- err
	}()
	return func() error { return <-errc }
}
