package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// scaleReport is everything a scale run measured.
type scaleReport struct {
	p                  scaleParams
	env                []envFact
	took               time.Duration
	loadStart, loadEnd string
	profiles           []string

	regFloorOne, regFloorBatches time.Duration // bbolt: one transaction; transactions of batch
	regBatches, regOne           time.Duration // ten create: calls of batch; one call

	rssRegistered, rssSmallRegistered uint64 // nothing awake
	memRegistered                     goMem
	pid1Registered                    uint64 // the manager's systemd, nothing awake
	liveRegistered                    uint64 // the live heap (PROFILE=1)
	storeBytes                        int64  // the big daemon's store file

	load []map[string]*loadResult // one per round
	mass []*massResult
	at   []*awakeFigures

	idleBig, idleSmall float64 // % of one core

	snapshotFloor time.Duration
	snapshotUnits int
	readoptSmall  time.Duration
	readoptBig    time.Duration
	readoptAwake  int
	readoptKept   int // MainPIDs unchanged

	calls map[string]uint64 // the big daemon's, before the kill

	next int // the big daemon's next tenant that never ran
}

// awakeFigures are measured with a number of the big daemon's tenants
// awake.
type awakeFigures struct {
	awake, registered        int
	psBig, psSmall           sample
	metricsBig, metricsSmall sample
	metricsBytes             int
	apiBig                   sample // GET /api/instances alone
	apiBytes                 int
	mem                      goMem  // the big daemon's
	pid1RSS                  uint64 // the manager's systemd
	live                     uint64 // the live heap (PROFILE=1)
	fds                      int    // the big daemon's open files
	appThreads               int    // threads of one awake tenant's app
	rssBig, rssSmall         uint64
	appMem                   uint64 // mean memory of an awake tenant (cgroup)
	appMemN                  int
}

// memPoint is the big daemon's memory with some tenants awake.
type memPoint struct {
	awake     int
	rss, live uint64
	mem       goMem
}

// memPoints lists the big daemon's memory at every RSS row.
func (r *scaleReport) memPoints() []memPoint {
	out := []memPoint{{0, r.rssRegistered, r.liveRegistered, r.memRegistered}}
	for _, a := range r.at {
		out = append(out, memPoint{a.awake, a.rssBig, a.live, a.mem})
	}
	return out
}

func durList(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return strings.Join(out, ", ")
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func perSec(n int, d time.Duration) string {
	return fmt.Sprintf("%s/s (%s s)", thousands(int(float64(n)/d.Seconds())), secs(d))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// thousands writes n with a thin space between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
}

// verdict is "met" or the distance to the target.
func verdict(ok bool, distance string) string {
	if ok {
		return "met"
	}
	return "**missed** (" + distance + ")"
}

func (r *scaleReport) markdown() string {
	var b strings.Builder
	p := r.p
	reg := thousands(p.registered)
	fmt.Fprintf(&b, "### Scale: %s registered tenants, up to %s awake (static Go app, `isolation = \"process\"`)\n\n", reg, thousands(p.awake[len(p.awake)-1]))
	t := &table{head: []string{"figure", "tenement", "floor or peer, same run", "", "target", ""}, left: true}
	rate := float64(p.registered) / r.regBatches.Seconds()
	t.add(fmt.Sprintf("registration: `ten create --from-file`, %d calls of %s", (p.registered+p.batch-1)/p.batch, thousands(p.batch)),
		perSec(p.registered, r.regBatches), fmt.Sprintf("bbolt: the same records, transactions of %s", thousands(p.batch)), perSec(p.registered, r.regFloorBatches),
		"≥ 1 000/s", verdict(rate >= 1000, fmt.Sprintf("%.0f/s", rate)))
	rate1 := float64(p.registered) / r.regOne.Seconds()
	t.add("registration: one `ten create` of "+reg, perSec(p.registered, r.regOne), "bbolt: one transaction", perSec(p.registered, r.regFloorOne),
		"≥ 1 000/s", verdict(rate1 >= 1000, fmt.Sprintf("%.0f/s", rate1)))
	for i, a := range r.at {
		target, v := "", ""
		if i == len(r.at)-1 {
			target, v = "≤ 100 ms", verdict(a.psBig.p50() <= 100*time.Millisecond, signedMS(a.psBig.p50()-100*time.Millisecond)+" ms")
		}
		t.add(fmt.Sprintf("`ten ps`, %s registered / %s awake (p50, max of %d), ms", reg, thousands(a.awake), len(a.psBig)),
			ms(a.psBig.p50())+", "+ms(a.psBig.q(1)), fmt.Sprintf("`ten ps` of the small daemon (%d / 1)", p.small), ms(a.psSmall.p50())+", "+ms(a.psSmall.q(1)), target, v)
	}
	for i, a := range r.at {
		target, v := "", ""
		if i == len(r.at)-1 {
			target, v = "≤ 150 ms", verdict(a.metricsBig.p50() <= 150*time.Millisecond, signedMS(a.metricsBig.p50()-150*time.Millisecond)+" ms")
		}
		t.add(fmt.Sprintf("`/metrics` scrape, %s awake (p50, max of %d), ms", thousands(a.awake), len(a.metricsBig)),
			ms(a.metricsBig.p50())+", "+ms(a.metricsBig.q(1)), "the small daemon's", ms(a.metricsSmall.p50())+", "+ms(a.metricsSmall.q(1)), target, v)
	}
	t.add(fmt.Sprintf("daemon RSS, %s registered / 0 awake", reg), mb(r.rssRegistered), fmt.Sprintf("the small daemon (%d / 0)", p.small), mb(r.rssSmallRegistered), "", "")
	for i, a := range r.at {
		target, v := "", ""
		if i == 0 {
			target, v = "≤ 80 MB", verdict(a.rssBig <= 80e6, "+"+mb(a.rssBig-min(a.rssBig, 80e6)))
		}
		t.add(fmt.Sprintf("daemon RSS, %s registered / %s awake", reg, thousands(a.awake)), mb(a.rssBig), fmt.Sprintf("the small daemon (%d / 1)", p.small), mb(a.rssSmall), target, v)
	}
	t.add(fmt.Sprintf("re-adoption after `kill -9`, %s registered / %s awake: start → API lists all running, ms", reg, thousands(r.readoptAwake)),
		ms(r.readoptBig), fmt.Sprintf("one Snapshot of the %s units from a Go client; the small daemon's re-adoption", thousands(r.snapshotUnits)),
		ms(r.snapshotFloor)+"; "+ms(r.readoptSmall), "≤ 1 s", verdict(r.readoptBig <= time.Second, "+"+ms(r.readoptBig-time.Second)+" ms"))
	for _, m := range r.mass {
		bound := time.Duration(1.2 * float64(m.floor.q(0.95)))
		t.add(fmt.Sprintf("mass wake of %d asleep tenants at once, %d rounds pooled: p50, p95 ms; failed", m.n, m.rounds),
			fmt.Sprintf("%s, %s; %d", ms(m.ten.p50()), ms(m.ten.q(0.95)), m.tenFail),
			fmt.Sprintf("%d bare `StartTransientUnit` at once, each to its first 200; %d runs pooled", m.n, len(m.floorP95)),
			fmt.Sprintf("%s, %s; %d", ms(m.floor.p50()), ms(m.floor.q(0.95)), m.floorFail),
			"p95 ≤ 1.2× floor, 0 failed",
			verdict(m.ten.q(0.95) <= bound && m.tenFail == 0, fmt.Sprintf("p95 %.2f× floor, %d failed", float64(m.ten.q(0.95))/float64(m.floor.q(0.95)), m.tenFail)))
	}
	r.loadRows(t)
	t.add(fmt.Sprintf("daemon CPU, idle, %s awake, health checks every 10 s (%s), %% of one core", thousands(r.at[len(r.at)-1].awake), r.p.idle),
		fmt.Sprintf("%.2f %%", r.idleBig), fmt.Sprintf("the small daemon (%d / 1)", p.small), fmt.Sprintf("%.2f %%", r.idleSmall),
		"< 2 %", verdict(r.idleBig < 2, fmt.Sprintf("%.2f %%", r.idleBig)))
	b.WriteString(t.String())
	r.notes(&b)
	return b.String()
}

// loadRows adds the proxy rows: the big daemon next to the small one, the
// medians of the rounds; "equal within noise" when their difference is no
// larger than the spread of either's rounds.
func (r *scaleReport) loadRows(t *table) {
	added := func(name string) sample {
		var s sample
		for _, round := range r.load {
			s = append(s, round[name].lat.p50()-round[loadDirect].lat.p50())
		}
		return s
	}
	big, small := added(loadBig), added(loadSmall)
	t.add(fmt.Sprintf("proxy added latency, c=1, p50 (median of %d rounds; spread), ms", len(r.load)),
		signedMS(big.p50())+" ("+ms(spread(big))+")", fmt.Sprintf("the small daemon (%d registered)", r.p.small), signedMS(small.p50())+" ("+ms(spread(small))+")",
		"equal within noise", verdict(absDur(big.p50()-small.p50()) <= max(spread(big), spread(small)), signedMS(big.p50()-small.p50())+" ms"))
	for _, c := range r.p.load.conc {
		rps := func(name string) []float64 {
			var v []float64
			for _, round := range r.load {
				v = append(v, round[name].rps(c))
			}
			return v
		}
		bv, sv := rps(loadBig), rps(loadSmall)
		diff := median(bv) - median(sv)
		noise := math.Max(fspread(bv), fspread(sv))
		t.add(fmt.Sprintf("proxy throughput, c=%d, req/s (median; spread)", c),
			fmt.Sprintf("%.0f (%.0f)", median(bv), fspread(bv)), "the small daemon", fmt.Sprintf("%.0f (%.0f)", median(sv), fspread(sv)),
			"equal within noise", verdict(math.Abs(diff) <= noise, fmt.Sprintf("%+.0f req/s", diff)))
	}
}

func spread(s sample) time.Duration { return s.q(1) - s.q(0) }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[(len(c)-1)/2]
}

func fspread(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v) - slices.Min(v)
}

// notes explains the table and adds what the capacity docs need.
func (r *scaleReport) notes(b *strings.Builder) {
	p := r.p
	last, first := r.at[len(r.at)-1], r.at[0]
	fmt.Fprintf(b, "\nTwo daemons run side by side in one systemd manager: the big one with %s tenants of one service "+
		"(`port_range` of 2 000 ports, `health = \"/health\"`, `health_check_interval = \"10s\"`, `isolation = \"process\"`), "+
		"the small one with %d of the same app; the small one is the peer of every per-daemon figure. "+
		"Registration: each `ten create` is a CLI process (its start included) sending one `POST /api/instances`; "+
		"the floor writes the same records with the daemon's own store code (`store.CreateInstances`) to a fresh bbolt file "+
		"on the same filesystem, median of 3. "+
		"`ten ps` is the CLI printing its table to a pipe, process start included (%d lines at %s awake); every `ten ps` and scrape "+
		"follows a %s pause, so that each pays its own pass over the cgroup files (the accounting cache lives 2 s), as one by a "+
		"person or a Prometheus every 15 s does. A scrape at %s awake is %s bytes (asleep tenants have no series of their own).\n\n",
		thousands(p.registered), p.small, last.registered, thousands(last.awake), accountingPause, thousands(last.awake), thousands(last.metricsBytes))

	var api []string
	for _, a := range r.at {
		api = append(api, fmt.Sprintf("%s ms at %s awake", ms(a.apiBig.p50()), thousands(a.awake)))
	}
	fmt.Fprintf(b, "Where `ten ps`'s time goes: the daemon's answer alone (`GET /api/instances`, %s bytes of JSON "+
		"for %s instances, after the same pause) takes p50 %s; the rest is the CLI: its start, decoding the JSON and writing "+
		"the table.\n\n", thousands(last.apiBytes), thousands(last.registered), strings.Join(api, ", "))

	perReg := (float64(r.rssRegistered) - float64(r.rssSmallRegistered)) / float64(p.registered-p.small)
	perAwake := (float64(last.rssBig) - float64(first.rssBig)) / float64(last.awake-first.awake)
	fmt.Fprintf(b, "Memory: the daemon's RSS grows by about %.1f KB per registered tenant (big minus small, nothing awake) "+
		"and by about %.1f KB per awake one (%s minus %s awake); RSS includes garbage the Go runtime has not returned, "+
		"so these are upper bounds. An awake tenant of this app uses %s on average (its cgroup's memory, %d tenants), "+
		"so %s awake tenants hold about %s.\n\n",
		perReg/1e3, perAwake/1e3, thousands(last.awake), thousands(first.awake), mb(last.appMem), last.appMemN,
		thousands(last.awake), mb(last.appMem*uint64(last.awake)))
	fmt.Fprintf(b, "The big daemon's Go memory at each RSS row (its go_memstats): ")
	var mems []string
	for _, m := range r.memPoints() {
		live := ""
		if m.live > 0 {
			live = ", live heap " + mb(m.live)
		}
		mems = append(mems, fmt.Sprintf("%s awake: RSS %s, heap in use %s%s, free heap kept from the kernel %s, stacks %s, %s goroutines",
			thousands(m.awake), mb(m.rss), mb(m.mem.heapInuse), live, mb(m.mem.heapKept), mb(m.mem.stacks), thousands(m.mem.goroutines)))
	}
	b.WriteString(strings.Join(mems, "; ") + ". Heap in use counts garbage not yet collected; the live heap is what is " +
		"allocated right after a collection forced through the profiler (PROFILE=1 only; read after the RSS and the other figures).\n\n")

	fmt.Fprintf(b, "Re-adoption: the daemon is killed with SIGKILL and started again; the time runs from its start until "+
		"`GET /api/instances` (what `ten ps` calls) lists all %s awake tenants running (the API serves only once the units are "+
		"adopted). %d of %d kept their MainPID. The floor is one `Snapshot` (a `ListUnitsByPatterns` and the same `Get`s of "+
		"the same properties the daemon's resync makes) from this benchmark's own connection.\n\n",
		thousands(r.readoptAwake), r.readoptKept, r.readoptAwake)

	fmt.Fprintf(b, "Mass wake: every request has its own connection, all connected before the clock starts, and the time runs to "+
		"the end of its 200 (the app's answer through the proxy). The floor starts as many units with the properties "+
		"`units.Render` gives the same service's instances, each on its own port, all at once from one D-Bus connection, and polls "+
		"each (new connection + `GET /`) once its start call returned, on the schedule of tenement's readiness check "+
		"(every 1 ms, backing off to 10 ms after 1 s); the floor's units are stopped again before tenement's turn. "+
		"Each round of tenement wakes tenants that never ran; those of the last round stay awake, the others are put to "+
		"sleep again (`ten stop`); then more are woken, 32 requests at a time (not timed), up to %s awake.\n\n",
		thousands(last.awake))

	fmt.Fprintf(b, "Capacity facts of this run: the store file holds %s registered tenants in %s (bbolt; %.0f bytes each); "+
		"systemd (the manager's PID 1) grew from %s to %s RSS with %s units loaded (%.0f KB a unit); the daemon had %s open "+
		"files at %s awake (a kept-alive proxy connection to each tenant woken by a request in the last 30 s, a health-check connection and the three cgroup files read for its memory, CPU and tasks for each awake one, the listeners, "+
		"the store, the D-Bus connection); an awake tenant's app runs %d threads, each taking a PID of the kernel's `pid_max`.\n\n",
		thousands(p.registered), mb(uint64(r.storeBytes)), float64(r.storeBytes)/float64(p.registered),
		mb(r.pid1Registered), mb(last.pid1RSS), thousands(last.awake), (float64(last.pid1RSS)-float64(r.pid1Registered))/float64(last.awake)/1e3,
		thousands(last.fds), thousands(last.awake), last.appThreads)

	var runs []string
	for _, m := range r.mass {
		runs = append(runs, fmt.Sprintf("%d: tenement %s, floor %s", m.n, durList(m.tenP95), durList(m.floorP95)))
	}
	fmt.Fprintf(b, "The p95 of each run, in ms (a floor run before, between and after tenement's rounds): %s.\n\n", strings.Join(runs, "; "))

	checks := float64(last.awake) / 10
	fmt.Fprintf(b, "Idle CPU: with %s awake and `health_check_interval = \"10s\"` the daemon makes %.0f health checks a second "+
		"(a `GET /health` each, on a connection kept from the previous check); at %.2f %% of a core that is at most %.0f µs of CPU per check, "+
		"if all of it goes to the checks. "+
		"The small daemon makes 0.1 a second.\n\n", thousands(last.awake), checks, r.idleBig, r.idleBig/100/checks*1e6)

	fmt.Fprintf(b, "Proxy: one awake tenant per daemon; the app directly, then the two daemons, take turns round by round (the small daemon second in even rounds, the big one in odd ones) "+
		"(%d rounds; c=1: %d sequential requests per target and round on one keep-alive connection; c=16/64: %s per level, "+
		"target and round), the load generator of the other benchmark (bench/httpc.go). The spread is max − min over the "+
		"rounds.\n\n", len(r.load), p.load.seq/p.load.rounds, p.load.dur/time.Duration(p.load.rounds))

	var calls []string
	for _, m := range slices.Sorted(maps.Keys(r.calls)) {
		calls = append(calls, fmt.Sprintf("%s %s", m, thousands(int(r.calls[m]))))
	}
	fmt.Fprintf(b, "The big daemon's D-Bus calls to systemd over the whole run until the kill (`tenement_systemd_calls_total`): %s.\n\n",
		strings.Join(calls, ", "))

	b.WriteString("### Environment\n\n")
	t := &table{head: []string{"", ""}, left: true}
	for _, f := range r.env {
		t.add(f.name, f.value)
	}
	t.add("load average (1 min)", r.loadStart+" at the start, "+r.loadEnd+" at the end (the whole machine; other work on it skews the numbers)")
	b.WriteString(t.String())
	quick := ""
	if p.quick {
		quick = " (QUICK=1: a smaller run)"
	}
	fmt.Fprintf(b, "\nReproduce: `SCALE=1 bench/run` as root on Debian 12 (`SCALE=1 QUICK=1 bench/run` for a smaller run, "+
		"`PROFILE=1` for the daemon's profiles). This run took %s%s.\n", r.took.Round(time.Second), quick)
	for _, pr := range r.profiles {
		fmt.Fprintf(b, "\nDaemon profile: `%s` (`go tool pprof -top %s`)\n", pr, pr)
	}
}
