package main

// The scale benchmark (SCALE=1 bench/run): the control plane with 10 000
// registered tenants and up to 1 000 awake, every figure next to a floor
// or a peer measured in the same run (issue 13). Two daemons run side by
// side in the manager: "big" gets the 10 000 tenants (service t), "small"
// has 10 (service small) and is the peer of every per-daemon figure
// (ten ps, /metrics, RSS, idle CPU, re-adoption, the proxy). A third,
// "once", only takes the 10 000 of a single `ten create` call. The
// sequence is in runScale; scaleplane.go measures the control plane
// (registration and its floor, ten ps, /metrics, memory, idle CPU,
// re-adoption, the proxy), scalewake.go the mass wakes and their floor,
// scalemeasure.go has the probes, scalereport.go the table.

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
)

// scaleConfig is a scale daemon's config: one service of the static app,
// process isolation (as the table), health checks on.
const scaleConfig = `[settings]
data_dir = %q
api_socket = %q
listen = %q
domain = %q
port_range = %q
# The bench stops instances through the API.
api_writes_per_minute = 0
# The mass wakes send 500 requests at once from one address.
max_conns_per_client = 0
health_check_interval = "10s"

[service.%s]
command = %q
isolation = "process"
activation = "proxy"
health = "/health"
startup_timeout = "60s"
`

// scaleParams size a scale run.
type scaleParams struct {
	registered int           // tenants of the big daemon
	batch      int           // instances per `ten create` call
	small      int           // tenants of the small daemon
	awake      []int         // awake counts of the ten ps and RSS rows: 100, 1 000
	mass       []int         // mass wakes: 100, 500
	massRounds []int         // tenement's rounds of each
	reps       int           // repetitions of ten ps and /metrics
	idle       time.Duration // the idle CPU window
	load       loadConfig
	quick      bool
	bin, work  string
	ten, app   string
	pprof      string // the big daemon's profiler address, or ""
	profileDir string
}

func getScaleParams() scaleParams {
	p := scaleParams{
		registered: 10000, batch: 1000, small: 10,
		awake: []int{100, 1000}, mass: []int{100, 500}, massRounds: []int{3, 2}, reps: 5, idle: 30 * time.Second,
		load: loadConfig{seq: 6000, dur: 12 * time.Second, conc: []int{16, 64}, rounds: 6, warmups: 300},
		bin:  os.Getenv("BENCH_BIN"), work: os.Getenv("BENCH_WORK"),
	}
	if os.Getenv("QUICK") == "1" {
		p.quick = true
		p.registered, p.awake, p.mass, p.massRounds, p.reps, p.idle = 2000, []int{20, 100}, []int{20, 50}, []int{2, 2}, 2, 5*time.Second
		p.load.seq, p.load.dur, p.load.rounds = 1000, 2*time.Second, 2
	}
	p.ten, p.app = filepath.Join(p.bin, "ten"), filepath.Join(p.bin, "testapp")
	p.pprof, p.profileDir = os.Getenv("TENEMENT_PPROF"), os.Getenv("BENCH_PROFILE_DIR")
	return p
}

// scaleDaemon starts a scale daemon of one service in dir.
func scaleDaemon(p scaleParams, dir, service, ports, pprofAddr string) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sock := "/run/tenement-bench-" + service + ".sock"
	text := fmt.Sprintf(scaleConfig, filepath.Join(dir, "data"), sock, "127.0.0.1:"+strconv.Itoa(port), domain, ports, service, p.app)
	return launchDaemon(dir, p.ten, text, pprofAddr)
}

// tenant is the big daemon's i-th tenant (t:t00000 ...).
func tenant(service string, i int) names.Instance {
	return mustName(service, fmt.Sprintf("%s%05d", service, i))
}

// runScale does the whole scale benchmark inside the manager. The big
// daemon's tenant 0 serves the proxy runs and is then put to sleep; the
// mass wakes take the next tenants (the last round of each stays awake),
// more are woken 32 at a time up to the larger awake count; the rest stay
// asleep.
func runScale(ctx context.Context, p scaleParams) (*scaleReport, error) {
	begin := time.Now()
	r := &scaleReport{p: p, env: scaleEnvironment(), loadStart: loadAvg(), next: 1}
	sd, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		return nil, err
	}
	defer sd.Close()

	log.Printf("registration floor: %d records in bbolt, in one transaction and in transactions of %d", p.registered, p.batch)
	if r.regFloorOne, r.regFloorBatches, err = storeFloor(filepath.Join(p.work, "storefloor"), p.registered, p.batch); err != nil {
		return nil, err
	}
	small, err := scaleDaemon(p, filepath.Join(p.work, "small"), "small", "23000-23099", "")
	if err != nil {
		return nil, fmt.Errorf("small daemon: %w", err)
	}
	defer small.stop()
	big, err := scaleDaemon(p, p.work, "t", "21000-22999", p.pprof)
	if err != nil {
		return nil, fmt.Errorf("big daemon: %w", err)
	}
	defer big.stop()
	if err := r.register(ctx, big, small); err != nil {
		return nil, err
	}
	if err := r.sizes(big, small); err != nil {
		return nil, err
	}
	if err := r.proxyLoad(ctx, big, small); err != nil {
		return nil, err
	}
	if err := r.massWakes(ctx, sd, big, 0); err != nil {
		return nil, err
	}
	// Tenant 0 served the proxy runs: asleep again, 100 stay awake.
	if err := big.api.Stop(ctx, tenant("t", 0)); err != nil {
		return nil, err
	}
	if err := r.atAwake(ctx, big, small, 0); err != nil {
		return nil, err
	}
	if err := r.massWakes(ctx, sd, big, 1); err != nil {
		return nil, err
	}
	if err := r.wakeRest(ctx, big); err != nil {
		return nil, err
	}
	if err := r.atAwake(ctx, big, small, 1); err != nil {
		return nil, err
	}
	if err := r.idleCPU(big, small); err != nil {
		return nil, err
	}
	r.calls = scrapeCalls(big)
	if err := r.readopt(ctx, sd, big, small); err != nil {
		return nil, err
	}
	r.took, r.loadEnd = time.Since(begin), loadAvg()
	return r, nil
}

// scaleEnvironment is environment() without the peers of the other
// benchmark.
func scaleEnvironment() []envFact {
	var out []envFact
	for _, f := range environment() {
		switch f.name {
		case "Caddy", "nginx", "runsc":
			continue
		}
		out = append(out, f)
	}
	return out
}
