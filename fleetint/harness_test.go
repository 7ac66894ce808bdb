//go:build linux

package fleetint

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/fleettest"
	"github.com/tenement/tenement/internal/testbed"
)

// TestMain runs the tests on the machine (each host is a manager of its
// own), and stops the shared fleet at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		shared.c.stop()
	}
	os.Exit(code)
}

// domain is the fleet's root domain: {id}.notes.fleet.test.
const domain = "fleet.test"

// capacities of h1, h2, h3: 30 instances spread 15, 10, 5.
var capacities = []int{25, 20, 15}

const leaseTTL = 4 * time.Second

// services is what every host runs: the test app.
const services = `
[service.notes]
command = "{app}"
isolation = "process"
health = "/health"
idle_timeout = "5m"
wake_timeout = "20s"
request_timeout = "10s"

[service.open]
command = "{app}"
isolation = "process"
spawn_on_request = true
`

// cluster is the fleet under test: three hosts, each running ten serve.
type cluster struct {
	f     *fleettest.Fleet
	hosts []*tenHost
	http  *http.Client
}

// tenHost is one host and its daemon.
type tenHost struct {
	*fleettest.Host
	c            *cluster
	dir, cfgPath string
}

var shared struct {
	once sync.Once
	c    *cluster
	err  error
}

// fleetOf returns the package's fleet, booted on first use.
func fleetOf(t *testing.T) *cluster {
	t.Helper()
	fleettest.Require(t)
	shared.once.Do(func() { shared.c, shared.err = startCluster() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range shared.c.hosts {
				t.Logf("%s's daemon log (tail):\n%s", h.Name, tail(h.Logs(), 60))
			}
		}
	})
	return shared.c
}

func startCluster() (*cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	f, err := fleettest.Start(ctx, fleettest.Options{Setup: build})
	if err != nil {
		return nil, err
	}
	c := &cluster{f: f, http: f.HTTPClient()}
	secret := filepath.Join(f.Share, "fleet.secret")
	b := make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(secret, []byte(base64.RawURLEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		c.stop()
		return nil, err
	}
	for i, h := range f.Hosts {
		th := &tenHost{Host: h, c: c, dir: filepath.Join(f.Share, h.Name)}
		if err := th.writeConfig(capacities[i], secret); err != nil {
			c.stop()
			return nil, err
		}
		c.hosts = append(c.hosts, th)
	}
	for _, h := range c.hosts {
		if err := h.start(); err != nil {
			c.stop()
			return nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "fleetint: %d hosts and etcd up, daemons serving, in %v\n", len(c.hosts), time.Since(t0).Round(10*time.Millisecond))
	return c, nil
}

// stop stops the daemons, then the hosts (their tenants go with their
// managers), etcd and the hub.
func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, h := range c.hosts {
		wg.Go(h.stopDaemon)
	}
	wg.Wait()
	c.f.Stop()
}

// build puts ten, ten-isolate and the test app into the share dir.
func build(share string) error {
	if err := testbed.BuildTools(share, raceEnabled); err != nil {
		return err
	}
	return os.Chmod(share, 0o755)
}

func (h *tenHost) bin(name string) string { return filepath.Join(h.c.f.Share, "bin", name) }

// addr is the host's listener on the fleet's network.
func (h *tenHost) addr() string { return h.IP + ":8080" }

func (h *tenHost) writeConfig(capacity int, secret string) error {
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return err
	}
	h.cfgPath = filepath.Join(h.dir, "tenement.toml")
	cfg := fmt.Sprintf(`[settings]
data_dir = %q
credentials_dir = %q
api_socket = "/run/ten-api.sock"
listen = %q
domain = %q
api_over_http = "any"
port_range = "21000-21999"

[fleet]
endpoints = [%q]
host = %q
capacity = %d
lease_ttl = "%ds"
secret_file = %q
%s`, filepath.Join(h.dir, "data"), filepath.Join(h.dir, "credentials"), h.addr(), domain,
		h.c.f.EtcdEndpoint(), h.Name, capacity, int(leaseTTL/time.Second), secret,
		strings.ReplaceAll(services, "{app}", h.bin("testapp")))
	return os.WriteFile(h.cfgPath, []byte(cfg), 0o644)
}

// daemonUnit is the unit ten serve runs as inside each host, as the
// packaged tenement.service does: a stop is systemd's, and the logs are
// in the host's journal.
const daemonUnit = "ten-serve.service"

// start runs ten serve inside the host and waits until its API answers.
func (h *tenHost) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := h.Command(ctx, "systemd-run", "--unit="+daemonUnit, "--service-type=exec",
		"--setenv=GORACE=halt_on_error=1", "--property=KillMode=mixed",
		h.bin("ten"), "serve", "--config", h.cfgPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: systemd-run ten serve: %v: %s", h.Name, err, out)
	}
	for ctx.Err() == nil {
		if _, err := h.ten("ps"); err == nil {
			return nil
		}
		if st, _ := h.Command(ctx, "systemctl", "is-active", daemonUnit).Output(); strings.TrimSpace(string(st)) == "failed" {
			return fmt.Errorf("%s: ten serve exited:\n%s", h.Name, h.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: ten serve did not answer:\n%s", h.Name, h.Logs())
}

// stopDaemon stops ten serve (its tenants keep running).
func (h *tenHost) stopDaemon() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.Command(ctx, "systemctl", "stop", daemonUnit).Run()
}

// Logs returns what the host's daemon printed (from its journal).
func (h *tenHost) Logs() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := h.Command(ctx, "journalctl", "--no-pager", "-o", "cat", "-u", daemonUnit).CombinedOutput()
	return string(out)
}

// ten runs the CLI inside the host, against its daemon's local socket.
func (h *tenHost) ten(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, h.bin("ten"), append([]string{"--config", h.cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), "TENEMENT_SERVER=", "TENEMENT_TOKEN=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustTen is ten, failing the test on error.
func (h *tenHost) mustTen(t *testing.T, args ...string) string {
	t.Helper()
	out, err := h.ten(args...)
	if err != nil {
		t.Fatalf("%s: ten %s: %v\n%s", h.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// ps returns the fleet's instances as the host lists them.
func (h *tenHost) ps(t *testing.T) map[string]apitype.Instance {
	t.Helper()
	var list []apitype.Instance
	if err := json.Unmarshal([]byte(h.mustTen(t, "ps", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]apitype.Instance{}
	for _, i := range list {
		out[i.Name] = i
	}
	return out
}

// get sends a GET for an instance's host name to this host's listener.
func (h *tenHost) get(id, service, path string, hdr ...string) (int, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+h.addr()+path, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Host = id + "." + service + "." + domain
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.c.http.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// units lists the tenement units loaded in the host's manager.
func (h *tenHost) units(t *testing.T) []string {
	t.Helper()
	out, err := h.Command(context.Background(), "systemctl", "list-units", "--all", "--plain", "--no-legend", "tenement@*").Output()
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			units = append(units, f[0])
		}
	}
	return units
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
