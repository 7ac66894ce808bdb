package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// accountingPause outlasts the daemon's accounting cache (2 s,
// daemon.accountingAge): every timed ten ps and scrape makes its own pass
// over the cgroup files, as one by a user or a Prometheus every 15 s does.
const accountingPause = 2100 * time.Millisecond

// register registers the small daemon's tenants in one call, the big
// daemon's through `ten create --from-file` in calls of batch, and the same
// number in one call to a third daemon.
func (r *scaleReport) register(ctx context.Context, big, small *daemon) error {
	p := r.p
	var ns []names.Instance
	for i := range p.small {
		ns = append(ns, tenant("small", i))
	}
	if _, err := small.api.Create(ctx, ns); err != nil {
		return err
	}
	log.Printf("registration: %d through ten create in calls of %d", p.registered, p.batch)
	var files []string
	for from := 0; from < p.registered; from += p.batch {
		f, err := writeTenants(p.work, "t", from, min(from+p.batch, p.registered))
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	t0 := time.Now()
	for _, f := range files {
		if err := createFrom(big, f); err != nil {
			return err
		}
	}
	r.regBatches = time.Since(t0)

	log.Printf("registration: %d through one ten create", p.registered)
	dir := filepath.Join(p.work, "once")
	once, err := scaleDaemon(p, dir, "once", "23100-23199", "")
	if err != nil {
		return fmt.Errorf("once daemon: %w", err)
	}
	defer os.RemoveAll(dir)
	defer once.stop()
	f, err := writeTenants(p.work, "once", 0, p.registered)
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := createFrom(once, f); err != nil {
		return err
	}
	r.regOne = time.Since(t0)
	return nil
}

// writeTenants writes the names of service's tenants [from, to), one a
// line, and returns the file.
func writeTenants(dir, service string, from, to int) (string, error) {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(tenant(service, i).String())
		b.WriteByte('\n')
	}
	f := filepath.Join(dir, fmt.Sprintf("tenants-%s-%d", service, from))
	return f, os.WriteFile(f, []byte(b.String()), 0o644)
}

// createFrom runs `ten create --from-file f` and checks that every line
// was new.
func createFrom(d *daemon, f string) error {
	out, err := d.tenCLI("create", "--json", "--from-file", f)
	if err != nil {
		return err
	}
	var resp apitype.CreateResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("ten create --json: %w: %s", err, out)
	}
	if resp.Known != 0 || resp.Created == 0 {
		return fmt.Errorf("ten create --from-file %s: %+v, want all new", f, resp)
	}
	return nil
}

// tenCLI runs the ten CLI against the daemon and returns its stdout.
func (d *daemon) tenCLI(args ...string) ([]byte, error) {
	cmd := exec.Command(d.ten, append([]string{"--server", "unix:" + d.cfg.Settings.APISocket}, args...)...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("ten %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out, nil
}

// timePS times one `ten ps` (the table, written to a pipe).
func timePS(d *daemon) (time.Duration, error) {
	t0 := time.Now()
	_, err := d.tenCLI("ps")
	return time.Since(t0), err
}

// scrapeMetrics fetches /metrics on the local socket (admin) on a new
// connection, as a scraper does, and returns how long it took and its
// size.
func scrapeMetrics(d *daemon) (time.Duration, int, error) {
	t0 := time.Now()
	b, err := getSocket(d, "/metrics")
	return time.Since(t0), len(b), err
}

// timeAPIList times GET /api/instances, what `ten ps` asks, alone.
func timeAPIList(d *daemon) (time.Duration, int, error) {
	t0 := time.Now()
	b, err := getSocket(d, "/api/instances")
	return time.Since(t0), len(b), err
}

// getSocket GETs path on the daemon's local socket (admin) on a new
// connection and returns the body.
func getSocket(d *daemon, path string) ([]byte, error) {
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.cfg.Settings.APISocket)
		},
	}}
	resp, err := c.Get("http://tenement" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, err
}

// scrapeCalls returns the daemon's tenement_systemd_calls_total by method.
func scrapeCalls(d *daemon) map[string]uint64 {
	b, err := getSocket(d, "/metrics")
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, `tenement_systemd_calls_total{method="`)
		if !ok {
			continue
		}
		method, v, _ := strings.Cut(rest, `"} `)
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[method] = uint64(f)
		}
	}
	return out
}

// goMem is where a daemon's memory goes, from its own go_* metrics.
type goMem struct {
	heapInuse  uint64 // spans in use: live objects and garbage not yet swept
	heapKept   uint64 // free heap the runtime has not returned to the kernel
	stacks     uint64
	goroutines int
}

// readGoMem reads the daemon's go_memstats (after its RSS was read: the
// scrape allocates).
func readGoMem(d *daemon) (goMem, error) {
	b, err := getSocket(d, "/metrics")
	if err != nil {
		return goMem{}, err
	}
	v := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			v[name] = f
		}
	}
	return goMem{
		heapInuse:  uint64(v["go_memstats_heap_inuse_bytes"]),
		heapKept:   uint64(v["go_memstats_heap_idle_bytes"] - v["go_memstats_heap_released_bytes"]),
		stacks:     uint64(v["go_memstats_stack_inuse_bytes"]),
		goroutines: int(v["go_goroutines"]),
	}, nil
}

// running returns the instances of list that are running.
func running(list []apitype.Instance) []apitype.Instance {
	var out []apitype.Instance
	for _, i := range list {
		if i.State == apitype.StateRunning {
			out = append(out, i)
		}
	}
	return out
}

// procRSS returns a process's resident memory (VmRSS), in bytes.
func procRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// procThreads returns a process's thread count.
func procThreads(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no Threads in /proc/%d/status", pid)
}

// userHZ is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

// procCPU returns a process's CPU time so far (utime + stime).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// Fields 14 and 15 of stat; f starts at field 3.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// kill9 kills the daemon without warning; its tenants keep running.
func (d *daemon) kill9() {
	_ = d.cmd.Process.Kill()
	<-d.done
}
