package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/isolation"
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
		{"runsc", runscVersion()},
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

	if len(r.levels) > 0 {
		r.levelsMarkdown(&b)
	}

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

	b.WriteString("\n### Targets (issues 4 and 6)\n\n")
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
	for _, l := range r.levels {
		if l.level == config.IsolationNamespace {
			fmt.Fprintf(&b, "- namespace: own share of a wake (wrapper included) ≤ 12 ms p50: %s ms, paired median %s ms (%s)\n",
				signedMS(l.own()), signedMS(l.paired()), check(l.own() <= nsOwnTarget))
		}
	}

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
	fmt.Fprintf(&b, "\nReproduce: `bench/run` as root on Debian 12 (`N=200 bench/run` for more wakes, `ISO_N=100` for more wakes per isolation level, "+
		"`LEVELS=process` to skip the isolation levels, `QUICK=1 bench/run` for a short run). This run took %s%s.\n",
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

// nsOwnTarget is issue 6's bound on tenement's own share of a wake at the
// namespace level, the wrapper included.
const nsOwnTarget = 12 * time.Millisecond

// own is tenement's own share of the level's wake: the difference of the
// medians.
func (l *levelResult) own() time.Duration { return l.ten.p50() - l.floor.p50() }

// paired is the median of the wake-by-wake differences.
func (l *levelResult) paired() time.Duration { return pairedDiff(l.ten, l.floor).p50() }

func (r *report) levelsMarkdown(b *strings.Builder) {
	w := r.wake
	fmt.Fprintf(b, "### Wake latency by isolation level: proxy-held, `ready = \"tcp\"`, request → 200 (ms)\n\n")
	t := &table{head: []string{"level", "wakes", "tenement p50", "tenement p99", "floor p50", "floor p99",
		"tenement's own share (p50)", "own share, paired median"}}
	t.add("`process`", fmt.Sprint(len(w.held)), ms(w.held.p50()), ms(w.held.p99()), ms(w.floorStart.p50()), ms(w.floorStart.p99()),
		signedMS(w.held.p50()-w.floorStart.p50()), signedMS(pairedDiff(w.held, w.floorStart).p50()))
	for _, l := range r.levels {
		t.add("`"+l.level+"`", fmt.Sprint(len(l.ten)), ms(l.ten.p50()), ms(l.ten.p99()), ms(l.floor.p50()), ms(l.floor.p99()),
			signedMS(l.own()), signedMS(l.paired()))
	}
	b.WriteString(t.String())
	fmt.Fprintf(b, "\nTenement: a request through the proxy to the level's asleep instance (its unit stopped and unloaded), "+
		"the daemon starting the unit with the level's wrapper. Floor: a bare `StartTransientUnit` with the properties "+
		"`units.Render` gives an instance of the same service (its own dynamic `User=`, the mount sandboxing with "+
		"`TemporaryFileSystem=` + `BindPaths=`, the kernel protections, for `namespace` the system call filter, "+
		"for `sandbox` `KillMode=mixed`), timed from the call to the app's first 200 (the poller above); "+
		"only the command differs, so the wrapper is in tenement's own share:\n\n")
	fmt.Fprintf(b, "- `process`: the app (the wake table above, measured before these levels).\n")
	for _, l := range r.levels {
		fmt.Fprintf(b, "- `%s`: %s", l.level, l.floorIs)
		switch l.level {
		case config.IsolationNamespace:
			b.WriteString(". Its data dir exists before the start, root's and `0755` (tenement's wrapper gives the dir to " +
				"the dynamic user, one `lstat` once it has: that is part of tenement's share).")
		case config.IsolationSandbox:
			fmt.Fprintf(b, ": as root (`!`, as the wrapper starts it), the wrapper's runsc flags (`isolation.RunscArgs`), state "+
				"and pid file in the unit's private `/tmp` as the wrapper's; the bundle is `isolation.BundleSpec`'s, written "+
				"before the start with the unit's environment and the floor's dynamic UID (%d, learned in an untimed start). "+
				"`runsc run` rather than `runsc do`: the wrapper runs `run` on a bundle, and `do` builds a different container "+
				"(a writable overlay over the host root; with `--network=host` a network namespace, a veth, iptables rules and "+
				"`ip_forward`, which inside a unit needs `--rootless`). What the floor leaves out is exactly the wrapper: "+
				"the start of the wrapper (`ten-isolate`), its userdb lookup and data dir check, writing the bundle, and waiting as runsc's parent.",
				l.dynamicUser.UID)
		}
		fmt.Fprintf(b, " Floor's job done at p50 %s ms; the daemon's launch-to-ready (`took`) p50 %s ms, p99 %s ms.\n",
			ms(l.floorJob.p50()), ms(l.took.p50()), ms(l.took.p99()))
	}
	fmt.Fprintf(b, "\nWhere tenement's own share goes: a third path starts the unit exactly as tenement renders it, "+
		"wrapper included, bare (`StartTransientUnit`, another instance of the same service: its own data dir and dynamic user). "+
		"Its difference to the floor is the wrapper's cost; tenement's wake minus it is the daemon's and the proxy's.\n\n")
	t = &table{head: []string{"level", "bare start with the wrapper p50", "p99", "wrapper (p50 − p50)", "wrapper, paired median",
		"daemon + proxy (p50 − p50)", "daemon + proxy, paired median"}}
	for _, l := range r.levels {
		t.add("`"+l.level+"`", ms(l.wrapped.p50()), ms(l.wrapped.p99()),
			signedMS(l.wrapped.p50()-l.floor.p50()), signedMS(pairedDiff(l.wrapped, l.floor).p50()),
			signedMS(l.ten.p50()-l.wrapped.p50()), signedMS(pairedDiff(l.ten, l.wrapped).p50()))
	}
	b.WriteString(t.String())
	fmt.Fprintf(b, "\nThe paths alternate wake by wake: for each level tenement, floor, bare start with the wrapper, "+
		"then the next level (%d warm-up rounds, not counted; %s in all).\n\n", r.p.warm, r.levelsTook.Round(time.Second))
}

// runscVersion names the runsc the sandbox level uses; the pinned build
// reports no version of its own.
func runscVersion() string {
	path, err := exec.LookPath("runsc")
	if err != nil {
		return "not installed"
	}
	v := version(path, "--version")
	if strings.Contains(v, "VERSION_MISSING") {
		v = "reports no version (scripts/deps installs gvisor.dev/gvisor/runsc@" + isolation.RunscVersion + ")"
	}
	return path + ": " + v + ", platform " + isolation.RunscPlatform
}
