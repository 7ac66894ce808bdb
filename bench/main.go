// Command bench measures tenement against its floors and its peers and
// prints a markdown table. bench/run builds it and runs it inside a private
// systemd manager (internal/testbed); it is not meant to be run by hand.
//
// It measures, in one run: (a) the wake latency of a static Go app through
// tenement's proxy, proxy-held and socket-activated, next to the bare
// systemd floors (a StartTransientUnit of the same unit properties to the
// app's first 200; a socket-activated first byte); (b) the latency a proxy
// adds at concurrency 1 and its throughput at 16 and 64, for the app
// directly, tenement, Caddy and nginx, with one load generator (httpc.go);
// (c) 100 concurrent requests to an asleep instance.
//
// Environment: BENCH_BIN (dir with ten and testapp), BENCH_WORK (work dir),
// N (wakes per path, default 100), QUICK=1 (a short run), TENEMENT_PPROF
// and BENCH_PROFILE_DIR (bench/run sets them with PROFILE=1: the daemon
// serves its profiler, see daemon/pprof.go, and a CPU profile of it is taken
// over each throughput level).
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// params size a run.
type params struct {
	wakes, warm   int
	burstRounds   int
	burstConc     int
	load          loadConfig
	quick         bool
	bin, work     string
	ten, app      string
	pprofDaemon   string
	profileOutDir string
}

func getParams() params {
	p := params{
		wakes: 100, warm: 3, burstRounds: 5, burstConc: 100,
		load: loadConfig{seq: 5000, dur: 5 * time.Second, conc: []int{16, 64}, rounds: 5, warmups: 500},
		bin:  os.Getenv("BENCH_BIN"), work: os.Getenv("BENCH_WORK"),
	}
	if os.Getenv("QUICK") == "1" {
		p.quick = true
		p.wakes, p.burstRounds = 20, 2
		p.load.seq, p.load.dur, p.load.rounds = 2000, 2*time.Second, 2
	}
	if n, err := strconv.Atoi(os.Getenv("N")); err == nil && n > 0 {
		p.wakes = n
	}
	p.ten, p.app = filepath.Join(p.bin, "ten"), filepath.Join(p.bin, "testapp")
	p.pprofDaemon = os.Getenv("TENEMENT_PPROF")
	p.profileOutDir = os.Getenv("BENCH_PROFILE_DIR")
	return p
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	p := getParams()
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
}
