package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/store"
)

// storeFloor times n instance records written to a fresh bbolt store on
// the daemons' filesystem, as the daemon's store writes them: in one
// transaction, and in transactions of batch. Each is the median of 3.
func storeFloor(dir string, n, batch int) (one, batches time.Duration, err error) {
	recs := make([]store.Instance, n)
	now := time.Now().UTC()
	for i := range recs {
		t := tenant("t", i)
		recs[i] = store.Instance{Service: t.Service, ID: t.ID, CreatedAt: now}
	}
	var ones, bs sample
	for range 3 {
		d, err := timedCreate(dir, recs, n)
		if err != nil {
			return 0, 0, err
		}
		ones = append(ones, d)
		if d, err = timedCreate(dir, recs, batch); err != nil {
			return 0, 0, err
		}
		bs = append(bs, d)
	}
	return ones.p50(), bs.p50(), nil
}

func timedCreate(dir string, recs []store.Instance, batch int) (time.Duration, error) {
	_ = os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	st, err := store.Open(dir, time.Second)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	t0 := time.Now()
	for from := 0; from < len(recs); from += batch {
		if err := st.CreateInstances(recs[from:min(from+batch, len(recs))]); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// sizes reads both daemons' RSS with their tenants registered, none awake.
func (r *scaleReport) sizes(big, small *daemon) error {
	time.Sleep(time.Second)
	var err error
	if r.rssRegistered, err = procRSS(big.pid()); err != nil {
		return err
	}
	if r.rssSmallRegistered, err = procRSS(small.pid()); err != nil {
		return err
	}
	if r.memRegistered, err = readGoMem(big); err != nil {
		return err
	}
	if r.liveRegistered, err = r.liveHeap(big); err != nil {
		return err
	}
	if r.pid1Registered, err = procRSS(1); err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(big.cfg.Settings.DataDir, store.FileName))
	if err != nil {
		return err
	}
	r.storeBytes = st.Size()
	return nil
}

// The proxy runs' targets, by role.
const (
	loadDirect = "app direct"
	loadSmall  = "tenement, small"
	loadBig    = "tenement, big"
)

// proxyLoad wakes one tenant of each daemon and runs the load generator
// against the app directly and through both daemons, the targets
// alternating, one round at a time (the rounds' spread is the noise), the
// two daemons in turn first.
func (r *scaleReport) proxyLoad(ctx context.Context, big, small *daemon) error {
	bt, st := tenant("t", 0), tenant("small", 0)
	if _, err := small.spawn(ctx, st); err != nil {
		return err
	}
	info, err := big.spawn(ctx, bt)
	if err != nil {
		return err
	}
	targets := []target{
		{name: loadDirect, addr: info.Listen, host: host(bt)},
		{name: loadSmall, addr: small.listen, host: host(st)},
		{name: loadBig, addr: big.listen, host: host(bt)},
	}
	cfg := r.p.load
	per := cfg
	per.rounds, per.seq, per.dur = 1, cfg.seq/cfg.rounds, cfg.dur/time.Duration(cfg.rounds)
	log.Printf("proxy: %d rounds of %d sequential requests and %s at each of c=%v per target", cfg.rounds, per.seq, per.dur, cfg.conc)
	for k := range cfg.rounds {
		// The daemons swap places every round: whichever goes second
		// inherits what the first left behind (the load generator's
		// garbage, the kernel's TIME_WAIT sockets, a warmer cache).
		order := targets
		if k%2 == 1 {
			order = []target{targets[0], targets[2], targets[1]}
		}
		res, err := runLoad(order, per)
		if err != nil {
			return err
		}
		r.load = append(r.load, res)
	}
	return nil
}

// atAwake measures ten ps (both daemons), /metrics (both) and the RSS
// (both) with p.awake[i] of the big daemon's tenants awake.
func (r *scaleReport) atAwake(ctx context.Context, big, small *daemon, i int) error {
	want := r.p.awake[i]
	list, err := big.api.Instances(ctx)
	if err != nil {
		return err
	}
	run := running(list)
	if len(run) != want {
		return fmt.Errorf("big daemon: %d running, want %d", len(run), want)
	}
	f := &awakeFigures{awake: want, registered: len(list)}
	var sum uint64
	for _, in := range run {
		if in.MemoryBytes != nil {
			sum += *in.MemoryBytes
			f.appMemN++
		}
	}
	if f.appMemN > 0 {
		f.appMem = sum / uint64(f.appMemN)
	}
	log.Printf("at %d awake: ten ps, /metrics and the API's list, %d times each, %s apart", want, r.p.reps, accountingPause)
	wait := func() error { return nil }
	if i == len(r.p.awake)-1 {
		wait = r.profile(big, fmt.Sprintf("scale-ps-metrics-%d.cpu.pprof", want), time.Duration(r.p.reps)*3*accountingPause)
	}
	for range r.p.reps {
		time.Sleep(accountingPause)
		for _, x := range []struct {
			d   *daemon
			out *sample
		}{{big, &f.psBig}, {small, &f.psSmall}} {
			took, err := timePS(x.d)
			if err != nil {
				return err
			}
			*x.out = append(*x.out, took)
		}
		time.Sleep(accountingPause)
		for _, x := range []struct {
			d   *daemon
			out *sample
		}{{big, &f.metricsBig}, {small, &f.metricsSmall}} {
			took, size, err := scrapeMetrics(x.d)
			if err != nil {
				return err
			}
			*x.out = append(*x.out, took)
			if x.d == big {
				f.metricsBytes = size
			}
		}
		time.Sleep(accountingPause)
		took, size, err := timeAPIList(big)
		if err != nil {
			return err
		}
		f.apiBig, f.apiBytes = append(f.apiBig, took), size
	}
	if err := wait(); err != nil {
		log.Printf("profile: %v", err)
	}
	if f.rssBig, err = procRSS(big.pid()); err != nil {
		return err
	}
	if f.rssSmall, err = procRSS(small.pid()); err != nil {
		return err
	}
	if f.mem, err = readGoMem(big); err != nil {
		return err
	}
	if f.pid1RSS, err = procRSS(1); err != nil {
		return err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", big.pid()))
	if err != nil {
		return err
	}
	f.fds = len(fds)
	f.appThreads, _ = procThreads(int(run[0].MainPID))
	if f.live, err = r.liveHeap(big); err != nil {
		return err
	}
	r.at = append(r.at, f)
	return nil
}

// profile takes a CPU profile of d over dur into the profile dir, when the
// daemon serves its profiler; it returns a func that waits for it.
func (r *scaleReport) profile(d *daemon, file string, dur time.Duration) func() error {
	if d.pprof == "" || r.p.profileDir == "" {
		return func() error { return nil }
	}
	path := filepath.Join(r.p.profileDir, file)
	wait := d.cpuProfile(dur, path)
	return func() error {
		err := wait()
		if err == nil {
			r.profiles = append(r.profiles, path)
		}
		return err
	}
}

// liveHeap forces a garbage collection in d through its profiler and
// returns the live heap right after it (HeapAlloc of the runtime's
// MemStats, which the text heap profile ends with; a /metrics scrape
// would count its own allocations). Without the profiler (PROFILE=1) it
// returns 0.
func (r *scaleReport) liveHeap(d *daemon) (uint64, error) {
	if d.pprof == "" {
		return 0, nil
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/heap?gc=1&debug=1", d.pprof))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no HeapAlloc in the heap profile")
}

// idleCPU measures both daemons' CPU over p.idle with nothing but their
// health checks to do.
func (r *scaleReport) idleCPU(big, small *daemon) error {
	settle := 10 * time.Second
	if r.p.quick {
		settle = 2 * time.Second
	}
	log.Printf("idle CPU: %s to settle, then %s", settle, r.p.idle)
	time.Sleep(settle)
	b0, err := procCPU(big.pid())
	if err != nil {
		return err
	}
	s0, err := procCPU(small.pid())
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(r.p.idle)
	b1, err := procCPU(big.pid())
	if err != nil {
		return err
	}
	s1, err := procCPU(small.pid())
	if err != nil {
		return err
	}
	el := time.Since(t0)
	r.idleBig, r.idleSmall = 100*(b1-b0).Seconds()/el.Seconds(), 100*(s1-s0).Seconds()/el.Seconds()
	if err := r.profile(big, "scale-idle.cpu.pprof", r.p.idle)(); err != nil {
		log.Printf("profile: %v", err)
	}
	return nil
}

// readopt kills both daemons with SIGKILL and restarts them, timing each
// until its API lists all its awake tenants running, next to the D-Bus
// read adoption cannot avoid: one Snapshot of the big daemon's units with
// the fields the supervisor reads, from this process.
func (r *scaleReport) readopt(ctx context.Context, sd *dbusapi.Conn, big, small *daemon) error {
	var snaps sample
	for range 3 {
		t0 := time.Now()
		snap, err := sd.Snapshot(ctx, dbusapi.UnitFields|dbusapi.ServiceFields|dbusapi.FieldEnvironment, "tenement@t-*")
		if err != nil {
			return err
		}
		snaps = append(snaps, time.Since(t0))
		r.snapshotUnits = len(snap.Units)
	}
	r.snapshotFloor = snaps.p50()
	log.Printf("re-adoption: kill -9 and restart of both daemons")
	var err error
	if r.readoptSmall, _, err = restartTimed(ctx, small, 1); err != nil {
		return err
	}
	before, err := big.api.Instances(ctx)
	if err != nil {
		return err
	}
	awake := running(before)
	took, after, err := restartTimed(ctx, big, len(awake))
	if err != nil {
		return err
	}
	r.readoptBig, r.readoptAwake = took, len(awake)
	pids := map[string]uint32{}
	for _, i := range running(after) {
		pids[i.Name] = i.MainPID
	}
	for _, i := range awake {
		if pids[i.Name] == i.MainPID && i.MainPID != 0 {
			r.readoptKept++
		}
	}
	return nil
}

// restartTimed kills the daemon with SIGKILL, starts it again and returns
// the time from the start until its API lists want instances running.
func restartTimed(ctx context.Context, d *daemon, want int) (time.Duration, []apitype.Instance, error) {
	d.kill9()
	t0 := time.Now()
	if err := d.startProcess(); err != nil {
		return 0, nil, err
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		list, err := d.api.Instances(cctx)
		cancel()
		if err == nil && len(running(list)) >= want {
			return time.Since(t0), list, nil
		}
		select {
		case <-d.done:
			return 0, nil, fmt.Errorf("ten serve exited: %s", d.tail())
		default:
		}
		if time.Since(t0) > time.Minute {
			return 0, nil, fmt.Errorf("re-adoption: %d of %d running after a minute (%v)", len(running(list)), want, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
