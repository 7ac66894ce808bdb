// Command bench measures tenement against its floors and its peers and
// prints a markdown table. bench/run builds it and runs it inside a private
// systemd manager (internal/testbed); it is not meant to be run by hand.
//
// It measures, in one run: (a) the wake latency of a static Go app through
// tenement's proxy, proxy-held and socket-activated, next to the bare
// systemd floors (a StartTransientUnit of the same unit properties to the
// app's first 200; a socket-activated first byte); (b) the proxy-held wake
// at the namespace and sandbox isolation levels, each next to a bare
// StartTransientUnit of the level's properties without tenement's wrapper
// (levels.go); (c) the latency a proxy adds at concurrency 1 and its
// throughput at 16 and 64, for the app directly, tenement, Caddy and nginx,
// with one load generator (httpc.go); (d) 100 concurrent requests to an
// asleep instance.
//
// Environment: BENCH_BIN (dir with ten and testapp), BENCH_WORK (work dir),
// N (wakes per path, default 100), LEVELS (isolation levels, default
// "process,namespace,sandbox"; "process" skips (b)), ISO_N (wakes per path
// in (b), default 50), QUICK=1 (a short run), TENEMENT_PPROF
// and BENCH_PROFILE_DIR (bench/run sets them with PROFILE=1: the daemon
// serves its profiler, see daemon/pprof.go, and a CPU profile of it is taken
// over each throughput level).
//
// SCALE=1 runs the scale benchmark instead (scale.go): the control plane
// with 10 000 registered tenants and up to 1 000 awake. FLEET=1 runs the
// fleet benchmark (fleet.go): the forwarding hop between two hosts.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tenement/tenement/config"
)

// params size a run.
type params struct {
	wakes, warm   int
	levels        []string // isolation levels of (b): namespace, sandbox
	isoWakes      int
	burstRounds   int
	burstConc     int
	load          loadConfig
	quick         bool
	bin, work     string
	ten, app      string
	pprofDaemon   string
	profileOutDir string
}

func getParams() (params, error) {
	p := params{
		wakes: 100, warm: 3, isoWakes: 50, burstRounds: 5, burstConc: 100,
		load: loadConfig{seq: 5000, dur: 5 * time.Second, conc: []int{16, 64}, rounds: 5, warmups: 500},
		bin:  os.Getenv("BENCH_BIN"), work: os.Getenv("BENCH_WORK"),
	}
	if os.Getenv("QUICK") == "1" {
		p.quick = true
		p.wakes, p.isoWakes, p.burstRounds = 20, 10, 2
		p.load.seq, p.load.dur, p.load.rounds = 2000, 2*time.Second, 2
	}
	if n, err := strconv.Atoi(os.Getenv("N")); err == nil && n > 0 {
		p.wakes = n
	}
	if n, err := strconv.Atoi(os.Getenv("ISO_N")); err == nil && n > 0 {
		p.isoWakes = n
	}
	p.ten, p.app = filepath.Join(p.bin, "ten"), filepath.Join(p.bin, "testapp")
	p.pprofDaemon = os.Getenv("TENEMENT_PPROF")
	p.profileOutDir = os.Getenv("BENCH_PROFILE_DIR")
	var err error
	if p.levels, err = parseLevels(os.Getenv("LEVELS")); err != nil {
		return p, err
	}
	if slices.Contains(p.levels, config.IsolationSandbox) {
		if _, err := exec.LookPath("runsc"); err != nil {
			return p, fmt.Errorf("isolation sandbox needs gVisor's runsc (scripts/deps installs it; LEVELS=process,namespace skips it): %w", err)
		}
	}
	return p, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if os.Getenv("SCALE") == "1" {
		mainScale()
		return
	}
	if os.Getenv("FLEET") == "1" {
		mainFleet()
		return
	}
	p, err := getParams()
	if err != nil {
		log.Fatal(err)
	}
	if p.bin == "" || p.work == "" {
		log.Fatal("BENCH_BIN and BENCH_WORK must be set; run bench/run")
	}
	ctx := context.Background()
	rep, err := run(ctx, p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rep.markdown())
}

func mainScale() {
	p := getScaleParams()
	if p.bin == "" || p.work == "" {
		log.Fatal("BENCH_BIN and BENCH_WORK must be set; run SCALE=1 bench/run")
	}
	rep, err := runScale(context.Background(), p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rep.markdown())
}

// report is everything a run measured.
type report struct {
	p        params
	env      []envFact
	wake     *wakeResults
	load     map[string]*loadResult
	targets  []target
	burst    map[string]*burstResult // "proxy-held", "socket"
	took     time.Duration
	profiles []string

	loadStart, loadEnd string

	// levels are the wakes by isolation level (namespace, sandbox, as
	// LEVELS asks); levelsTook is how long they took.
	levels     []*levelResult
	levelsTook time.Duration
}
