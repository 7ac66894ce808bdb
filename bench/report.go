package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type envFact struct{ name, value string }

// environment describes the machine the numbers come from.
func environment() []envFact {
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	cgroup := "v2 (unified)"
	if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
		cgroup = "hybrid (v1 controllers + v2 unified)"
	} else if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		cgroup = "v1"
	}
	commit := os.Getenv("BENCH_COMMIT")
	if commit == "" {
		commit = "?"
	}
	return []envFact{
		{"date", time.Now().UTC().Format("2006-01-02 15:04 UTC")},
		{"tenement", commit},
		{"kernel", charsToString(uts.Release[:])},
		{"CPU", fmt.Sprintf("%d × %s", runtime.NumCPU(), cpuModel())},
		{"systemd", version("systemctl", "--version") + ", cgroup " + cgroup + ", in the test manager (internal/testbed)"},
		{"Go", runtime.Version()},
		{"Caddy", version("caddy", "version")},
		{"nginx", strings.TrimPrefix(version("nginx", "-v"), "nginx version: ")},
	}
}

// loadAvg returns the 1-minute load average of the machine (the manager
// shares the host's kernel, so this counts every process on it).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func charsToString(cs []int8) string {
	b := make([]byte, 0, len(cs))
	for _, c := range cs {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func check(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *report) markdown() string {
	var b strings.Builder
	w := r.wake
	fmt.Fprintf(&b, "### Wake latency: an asleep tenant's first request (static Go app, %d wakes per path, ms)\n\n", len(w.held))
	ownHeld := w.held.p50() - w.floorStart.p50()
	ownSock := w.sock.p50() - w.floorSock.p50()
	t := &table{head: []string{"path", "p50", "p99", "tenement's own share (p50)"}}
	t.add("tenement, proxy-held (`activation = \"proxy\"`): request → 200", ms(w.held.p50()), ms(w.held.p99()), signedMS(ownHeld))
	t.add("floor: bare `StartTransientUnit` (same unit properties) → app's first 200", ms(w.floorStart.p50()), ms(w.floorStart.p99()), "")
	t.add("tenement, socket activation (`activation = \"socket\"`): request → 200", ms(w.sock.p50()), ms(w.sock.p99()), signedMS(ownSock))
	t.add("floor: bare socket activation, connect → first byte", ms(w.floorSock.p50()), ms(w.floorSock.p99()), "")
	b.WriteString(t.String())
	appAfterJob := pairedDiff(w.floorStart, w.floorJob)
	before := 0
	for _, d := range appAfterJob {
		if d < 0 {
			before++
		}
	}
	before = before * 100 / max(1, len(appAfterJob))
	fmt.Fprintf(&b, "\nThe paths alternate wake by wake, so each tenement wake has a floor measured next to it; "+
		"the median of those paired differences is %s ms (proxy-held) and %s ms (socket). "+
		"Bare start: the job's result (JobRemoved) arrives at p50 %s ms and the app's first 200 a median %s ms "+
		"after it (before it in %d%% of starts); the poller (new connection + GET, "+
		"sleeping %s between tries) tried every %s ms on average (p99 gap %s ms). "+
		"The daemon's own launch-to-ready time (its log's `took`) for the proxy-held wakes: p50 %s ms, p99 %s ms.\n\n",
		signedMS(pairedDiff(w.held, w.floorStart).p50()), signedMS(pairedDiff(w.sock, w.floorSock).p50()),
		ms(w.floorJob.p50()), signedMS(appAfterJob.p50()), before, pollInterval, ms(w.pollGaps.mean()), ms(w.pollGaps.p99()),
		ms(w.heldTook.p50()), ms(w.heldTook.p99()))

	fmt.Fprintf(&b, "### Proxy overhead: same app, keep-alive on both sides\n\n")
	direct := r.load[r.targets[0].name]
	t = &table{head: []string{"", "c=1 p50 ms", "c=1 p99 ms", "added p50 ms", "added p99 ms", "c=16 req/s", "c=64 req/s"}}
	for i, tg := range r.targets {
		l := r.load[tg.name]
		addP50, addP99 := "", ""
		if i > 0 {
			addP50, addP99 = signedMS(l.lat.p50()-direct.lat.p50()), signedMS(l.lat.p99()-direct.lat.p99())
		}
		t.add(tg.name, ms(l.lat.p50()), ms(l.lat.p99()), addP50, addP99,
			fmt.Sprintf("%.0f", l.rps(16)), fmt.Sprintf("%.0f", l.rps(64)))
	}
	b.WriteString(t.String())
	errs := 0
	for _, l := range r.load {
		errs += l.errors
	}
	fmt.Fprintf(&b, "\nc=1: %d sequential GETs per target on one connection; c=16/64: that many connections "+
		"sending back to back for %s per level and target; targets alternate in %d round(s). "+
		"Load generator: bench/httpc.go (Go, one keep-alive connection per worker, no allocation per request), "+
		"on the same 2 cores as the proxies and the app. Failed requests: %d.\n\n",
		r.p.load.seq, r.p.load.dur, r.p.load.rounds, errs)

	fmt.Fprintf(&b, "### %d concurrent requests to an asleep tenant (%d rounds per mode, ms)\n\n", r.p.burstConc, r.p.burstRounds)
	t = &table{head: []string{"mode", "all answered (median of rounds)", "p50", "p99", "unit starts per round", "failed"}}
	for _, mode := range []string{"proxy-held", "socket"} {
		br := r.burst[mode]
		t.add(mode, ms(br.all.p50()), ms(br.each.p50()), ms(br.each.p99()), joinInts(br.starts), fmt.Sprint(br.errors))
	}
	b.WriteString(t.String())

	b.WriteString("\n### Targets (issue 4)\n\n")
	ten, caddy := r.load["tenement"], r.load[r.targets[2].name]
	added := ten.lat.p50() - direct.lat.p50()
	fmt.Fprintf(&b, "- own share of a wake ≤ 3 ms p50: proxy-held %s ms (%s), socket %s ms (%s)\n",
		signedMS(ownHeld), check(ownHeld <= 3*time.Millisecond), signedMS(ownSock), check(ownSock <= 3*time.Millisecond))
	fmt.Fprintf(&b, "- added latency ≤ 0.25 ms p50 at c=1: %s ms (%s)\n", signedMS(added), check(added <= 250*time.Microsecond))
	for _, c := range r.p.load.conc {
		fmt.Fprintf(&b, "- throughput ≥ Caddy's at c=%d: %.0f vs %.0f req/s (%s)\n", c, ten.rps(c), caddy.rps(c), check(ten.rps(c) >= caddy.rps(c)))
	}
	startsOK := true
	for _, br := range r.burst {
		for _, s := range br.starts {
			startsOK = startsOK && s == 1
		}
	}
	fmt.Fprintf(&b, "- one unit start per burst of %d: %s\n", r.p.burstConc, check(startsOK))

	b.WriteString("\n### Environment\n\n")
	t = &table{head: []string{"", ""}, left: true}
	for _, f := range r.env {
		t.add(f.name, f.value)
	}
	t.add("load average (1 min)", r.loadStart+" at the start, "+r.loadEnd+" at the end (the whole machine; other work on it skews the numbers)")
	b.WriteString(t.String())
	quick := ""
	if r.p.quick {
		quick = " (QUICK=1: a short run)"
	}
	fmt.Fprintf(&b, "\nReproduce: `bench/run` as root on Debian 12 (`N=200 bench/run` for more wakes, `QUICK=1 bench/run` for a short run). This run took %s%s.\n",
		r.took.Round(time.Second), quick)
	for _, p := range r.profiles {
		fmt.Fprintf(&b, "\nDaemon CPU profile: `%s` (`go tool pprof -top %s`)\n", p, p)
	}
	return b.String()
}

// pairedDiff returns a[i] − b[i] for the samples taken side by side.
func pairedDiff(a, b sample) sample {
	out := make(sample, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i] - b[i]
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
