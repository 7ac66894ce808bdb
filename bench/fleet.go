package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenement/tenement/internal/fleettest"
)

// The fleet benchmark (FLEET=1 bench/run): what the forwarding hop of a
// fleet (SPEC §12) adds to a request. Two tenement hosts, each its own
// systemd manager in its own network namespace on a bridge, with etcd
// (internal/fleettest, as the fleet's integration tests); one instance
// awake on h2. The same load generator sends the same requests for it to
// h2 (its owner: the direct path) and to h1 (which forwards them to h2 in
// one hop), alternating round by round. The load generator reaches both
// hosts through the bridge's hub, as a load balancer in front of them
// would. It runs on the machine, not inside a manager.

const fleetDomain = "fleet.bench"

// fleetParams size the fleet benchmark.
type fleetParams struct {
	bin, work string
	load      loadConfig
}

func getFleetParams() fleetParams {
	p := fleetParams{bin: os.Getenv("BENCH_BIN"), work: os.Getenv("BENCH_WORK"),
		load: loadConfig{seq: 10000, dur: 6 * time.Second, conc: []int{16}, rounds: 5, warmups: 500}}
	if os.Getenv("QUICK") == "1" {
		p.load.seq, p.load.dur, p.load.rounds = 2000, 2*time.Second, 2
	}
	return p
}

func mainFleet() {
	p := getFleetParams()
	if p.bin == "" || p.work == "" {
		log.Fatal("BENCH_BIN and BENCH_WORK must be set; run FLEET=1 bench/run")
	}
	rep, err := runFleet(context.Background(), p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rep)
}

func runFleet(ctx context.Context, p fleetParams) (string, error) {
	t0 := time.Now()
	f, err := fleettest.Start(ctx, fleettest.Options{Hosts: 2, Share: []string{p.work}})
	if err != nil {
		return "", err
	}
	defer f.Stop()
	secret := filepath.Join(p.work, "fleet.secret")
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if err := os.WriteFile(secret, []byte(base64.RawURLEncoding.EncodeToString(b)), 0o600); err != nil {
		return "", err
	}
	for _, h := range f.Hosts {
		if err := startFleetHost(ctx, p, f, h, secret); err != nil {
			return "", err
		}
	}
	h1, h2 := f.Hosts[0], f.Hosts[1]
	if out, err := fleetTen(ctx, p, h1, "create", "--host", "h2", "notes:bench"); err != nil {
		return "", fmt.Errorf("ten create: %v: %s", err, out)
	}
	dialTCP = func(addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return f.DialContext(ctx, "tcp", addr)
	}
	host := "bench.notes." + fleetDomain
	targets := []target{
		{name: "direct: to its owner (h2)", addr: h2.IP + ":8080", host: host},
		{name: "forwarded: to h1, one hop to h2", addr: h1.IP + ":8080", host: host},
	}
	booted := time.Since(t0)
	res, err := runLoad(targets, p.load)
	if err != nil {
		return "", err
	}
	return fleetMarkdown(p, targets, res, booted, time.Since(t0)), nil
}

// startFleetHost writes a host's config and runs ten serve inside it as
// a unit, as tenement.service runs.
func startFleetHost(ctx context.Context, p fleetParams, f *fleettest.Fleet, h *fleettest.Host, secret string) error {
	dir := filepath.Join(p.work, h.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "tenement.toml")
	toml := fmt.Sprintf(`[settings]
data_dir = %q
api_socket = "/run/ten-api.sock"
listen = "%s:8080"
domain = %q
log_level = "warn"

[fleet]
endpoints = [%q]
host = %q
secret_file = %q

[service.notes]
command = %q
isolation = "process"
idle_timeout = "2h"
`, filepath.Join(dir, "data"), h.IP, fleetDomain, f.EtcdEndpoint(), h.Name, secret, filepath.Join(p.bin, "testapp"))
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		return err
	}
	if out, err := h.Command(ctx, "systemd-run", "--unit=ten-serve.service", "--service-type=exec",
		filepath.Join(p.bin, "ten"), "serve", "--config", cfg).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: ten serve: %v: %s", h.Name, err, out)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := fleetTen(ctx, p, h, "--config", cfg, "ps"); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: ten serve did not answer", h.Name)
}

// fleetTen runs the CLI inside a host (on its daemon's socket).
func fleetTen(ctx context.Context, p fleetParams, h *fleettest.Host, args ...string) (string, error) {
	if len(args) == 0 || args[0] != "--config" {
		args = append([]string{"--config", filepath.Join(p.work, h.Name, "tenement.toml")}, args...)
	}
	out, err := h.Command(ctx, filepath.Join(p.bin, "ten"), args...).CombinedOutput()
	return string(out), err
}

func fleetMarkdown(p fleetParams, ts []target, res map[string]*loadResult, booted, took time.Duration) string {
	var b strings.Builder
	b.WriteString("# tenement fleet benchmark: the forwarding hop\n\n")
	env := &table{head: []string{"", ""}, left: true}
	for _, e := range environment() {
		if e.name == "Caddy" || e.name == "nginx" || e.name == "runsc" {
			continue
		}
		env.add(e.name, e.value)
	}
	env.add("etcd", version("etcd", "--version"))
	env.add("load (1 min)", loadAvg())
	b.WriteString(env.String())
	fmt.Fprintf(&b, "\nTwo hosts (two systemd managers, each in its own network namespace on one bridge, with etcd), "+
		"booted in %v; one instance (the static test app, isolation \"process\") awake on h2. "+
		"The load generator reaches both hosts through the bridge, like a load balancer in front of them. "+
		"%d sequential requests per path on one keep-alive connection, then 16 connections in a closed loop for %v per path; "+
		"the paths alternate in %d rounds. Run in %v.\n\n",
		booted.Round(100*time.Millisecond), p.load.seq, p.load.dur, p.load.rounds, took.Round(time.Second))
	t := &table{head: []string{"path", "p50 ms", "p99 ms", "mean ms", "added p50 ms", "added p99 ms", "req/s at 16", "errors"}}
	direct := res[ts[0].name]
	for _, tg := range ts {
		r := res[tg.name]
		addP50, addP99 := "", ""
		if r != direct {
			addP50, addP99 = signedMS(r.lat.p50()-direct.lat.p50()), signedMS(r.lat.p99()-direct.lat.p99())
		}
		t.add(tg.name, ms(r.lat.p50()), ms(r.lat.p99()), ms(r.lat.mean()), addP50, addP99, fmt.Sprintf("%.0f", r.rps(16)), fmt.Sprint(r.errors))
	}
	b.WriteString(t.String())
	b.WriteString("\nThe added latency is one more proxy in the path (h1's, with the owner looked up in its etcd cache) " +
		"and one more TCP hop over the bridge; both hosts share the machine's cores with the load generator.\n")
	return b.String()
}
