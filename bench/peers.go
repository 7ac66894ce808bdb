package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// peer is a reverse proxy we compare with, run as a child process.
type peer struct {
	name    string
	version string
	addr    string
	cmd     *exec.Cmd
}

func (p *peer) stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// caddyfile is Caddy's config: reverse_proxy with its defaults (upstream
// keep-alive on), no admin endpoint, no access log, runtime log discarded.
const caddyfile = `{
	admin off
	auto_https off
	log {
		output discard
	}
}

http://:%d {
	reverse_proxy 127.0.0.1:%d
}
`

// startCaddy runs Caddy in front of the app on port.
func startCaddy(dir string, port, app int) (*peer, error) {
	dir = filepath.Join(dir, "caddy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(caddyfile, port, app)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("caddy", "run", "--adapter", "caddyfile", "--config", cfg)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Dir = dir
	return startPeer("Caddy", version("caddy", "version"), cmd, dir, port)
}

// nginxConf follows nginx's documented keep-alive setup for upstreams.
const nginxConf = `worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
daemon off;
user root;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	keepalive_requests 1000000;
	upstream app {
		server 127.0.0.1:%[3]d;
		keepalive 128;
	}
	server {
		listen 127.0.0.1:%[2]d;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
		}
	}
}
`

// startNginx runs nginx in front of the app on port.
func startNginx(dir string, port, app int) (*peer, error) {
	dir = filepath.Join(dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(nginxConf, dir, port, app)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", cfg, "-e", filepath.Join(dir, "error.log"))
	v := strings.TrimPrefix(version("nginx", "-v"), "nginx version: nginx/")
	return startPeer("nginx", v, cmd, dir, port)
}

func startPeer(name, ver string, cmd *exec.Cmd, dir string, port int) (*peer, error) {
	logf, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &peer{name: name, version: ver, addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	if err := waitListening(p.addr, 10*time.Second); err != nil {
		p.stop()
		out, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return p, nil
}

// waitListening waits until something accepts connections on addr.
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// version runs a command and returns the first line of its output.
func version(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
