// Package metrics is tenement's Prometheus instrumentation: it observes the
// proxy's requests and the supervisor's wakes, restarts and deletions, counts
// the errors of systemd (over D-Bus) and of the store, exports the count of
// the calls made to systemd, and at scrape time reads every awake
// instance's state, memory and CPU (from the supervisor's memory and one
// pass over the cgroup files: no call to systemd) and storage use.
//
// A Registry has its own prometheus.Registry, never the global one. It
// serves the text format scoped to what a caller may read (ServeMetrics):
// a tenant sees only the series of its own instances. docs/metrics.md lists
// every metric.
package metrics

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/proxy"
	"github.com/tenement/tenement/supervisor"
)

// Instances is where the scrape-time collector reads the instances;
// *supervisor.Supervisor is one.
type Instances interface {
	List(opts supervisor.ListOptions) ([]supervisor.Info, names.Instance)
	StateCounts() map[supervisor.State]int
	Known(n names.Instance) bool
}

var (
	_ Instances           = (*supervisor.Supervisor)(nil)
	_ supervisor.Observer = (*Registry)(nil)
	_ proxy.Observer      = (*Registry)(nil)
	_ proxy.Prober        = (*Registry)(nil)
)

// Histogram buckets, in seconds. Requests include the wait for a wake, so
// their buckets reach as far as a slow start.
var (
	requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	wakeBuckets    = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
)

const (
	// wakeWindow is the window of Activity's recent wakes.
	wakeWindow = time.Minute
	// maxRecentWakes bounds the recent wakes kept per instance.
	maxRecentWakes = 1024
)

// Registry holds tenement's metrics. Its observer methods never block on
// anything but short locks.
type Registry struct {
	reg *prometheus.Registry
	log *slog.Logger
	now func() time.Time

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	wakes     *prometheus.CounterVec
	wakeTime  *prometheus.HistogramVec
	restarts  *prometheus.CounterVec
	dbusErrs  *prometheus.CounterVec
	storeErrs *prometheus.CounterVec

	// Per service, not per instance: their series do not grow with the
	// tenants, and only admins see them (a tenant's scope keeps series
	// with an instance label only).
	svcWakes *prometheus.CounterVec   // service, cause, result
	svcWake  *prometheus.HistogramVec // service, cause
	asleep   *prometheus.CounterVec   // service
	probes   *prometheus.CounterVec   // service, kind

	mu   sync.Mutex
	src  Instances
	acts map[names.Instance]*activity
}

// activity is what the registry has seen of one instance, for Activity.
type activity struct {
	requests, wakes, wakeErrors, wakeOK, probes uint64
	series                                      bool     // has per-instance event series
	reasons                                     []string // the restart reasons of its series
	byCause                                     [len(Causes)]uint64
	wakeTime                                    time.Duration // of the successful wakes
	asleep                                      time.Duration // reported at wakes
	recent                                      []time.Time   // wakes within wakeWindow, oldest first
}

// Causes are the causes of a wake, in the order of Activity.WakesByCause.
var Causes = [...]supervisor.Cause{supervisor.CauseRequest, supervisor.CauseSpawn, supervisor.CauseDeploy, supervisor.CauseSchedule}

func causeIndex(c supervisor.Cause) int {
	for i, k := range Causes {
		if k == c {
			return i
		}
	}
	return -1
}

// Options configure a Registry.
type Options struct {
	Log *slog.Logger
	// Runtime adds the Go runtime's and the daemon process's own metrics
	// (go_*, process_*), which only admins see.
	Runtime bool
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Calls, if set, is exported as tenement_systemd_calls_total, read at
	// every scrape (the daemon passes its *dbusapi.Conn). Default: none.
	Calls SystemdCalls
}

// New returns a Registry. Call Watch before serving scrapes.
func New(o Options) *Registry {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	inst := []string{"service", "instance"}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		log: o.Log.With("component", "metrics"),
		now: o.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_requests_total",
			Help: "Requests proxied to an instance, by status class (2xx, 4xx, ...), including the proxy's own 503s and 504s.",
		}, append(inst, "code")),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenement_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, including any wait for a wake.",
			Buckets: requestBuckets,
		}, inst),
		wakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_wakes_total",
			Help: "Starts of an asleep instance caused by a request or a connection to its socket, by result (ok, error).",
		}, append(inst, "result")),
		wakeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenement_wake_duration_seconds",
			Help:    "Time a successful wake took, from the start until the instance was ready.",
			Buckets: wakeBuckets,
		}, inst),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_restarts_total",
			Help: "Restarts of an instance, by reason: crash (by systemd), unhealthy (by the daemon), user (the API).",
		}, append(inst, "reason")),
		dbusErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_dbus_errors_total",
			Help: "Calls to systemd over D-Bus that failed, by operation and kind (method, connection, timeout, other).",
		}, []string{"op", "kind"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_store_errors_total",
			Help: "Store operations that failed for a reason other than a missing or conflicting record.",
		}, []string{"op"}),
		svcWakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_service_wakes_total",
			Help: "Starts of a service's instances, by cause (request, spawn, deploy, schedule) and result (ok, error).",
		}, []string{"service", "cause", "result"}),
		svcWake: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenement_service_wake_duration_seconds",
			Help:    "Time a successful start of a service's instance took, from the start until it was ready, by cause.",
			Buckets: wakeBuckets,
		}, []string{"service", "cause"}),
		asleep: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_asleep_seconds_total",
			Help: "Time the service's instances spent asleep, counted when each wakes.",
		}, []string{"service"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenement_probes_answered_total",
			Help: "Requests tenement answered itself for an asleep instance without waking it, by kind (probe_path, user_agent).",
		}, []string{"service", "kind"}),
		acts: map[names.Instance]*activity{},
	}
	r.reg.MustRegister(r.requests, r.latency, r.wakes, r.wakeTime, r.restarts, r.dbusErrs, r.storeErrs,
		r.svcWakes, r.svcWake, r.asleep, r.probes, &collector{r: r})
	if o.Calls != nil {
		r.reg.MustRegister(callsCollector{src: o.Calls})
	}
	if o.Runtime {
		r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return r
}

// Watch makes the registry read the instances from src at every scrape,
// and check against it that a requested instance exists.
func (r *Registry) Watch(src Instances) {
	r.mu.Lock()
	r.src = src
	r.mu.Unlock()
}

// Gatherer returns the registry's gatherer, unscoped (tests, tools).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Request records a proxied request (proxy.Observer). Requests for an
// instance that does not exist (a 404 for a made-up id) are not recorded:
// anyone can send them, and each would create series.
func (r *Registry) Request(n names.Instance, status int, d time.Duration) {
	if !r.admit(n) {
		return
	}
	r.requests.WithLabelValues(n.Service, n.ID, statusClass(status)).Inc()
	r.latency.WithLabelValues(n.Service, n.ID).Observe(d.Seconds())
	r.mu.Lock()
	a := r.activity(n)
	a.requests++
	a.series = true
	r.mu.Unlock()
}

// Woke records a wake (supervisor.Observer).
func (r *Registry) Woke(n names.Instance, cause supervisor.Cause, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		r.svcWake.WithLabelValues(n.Service, string(cause)).Observe(d.Seconds())
	}
	r.svcWakes.WithLabelValues(n.Service, string(cause), result).Inc()
	// The per-instance series count what requests woke (the documented
	// alerts on failed wakes); other starts are in the service's series.
	if cause == supervisor.CauseRequest {
		if err == nil {
			r.wakeTime.WithLabelValues(n.Service, n.ID).Observe(d.Seconds())
		}
		r.wakes.WithLabelValues(n.Service, n.ID, result).Inc()
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.activity(n)
	a.wakes++
	a.series = a.series || cause == supervisor.CauseRequest
	if i := causeIndex(cause); i >= 0 {
		a.byCause[i]++
	}
	if err != nil {
		a.wakeErrors++
	} else {
		a.wakeOK++
		a.wakeTime += d
	}
	a.recent = append(trimWakes(a.recent, now), now)
	if len(a.recent) > maxRecentWakes {
		a.recent = a.recent[len(a.recent)-maxRecentWakes:]
	}
}

// Slept records how long an instance was asleep (supervisor.Observer).
func (r *Registry) Slept(n names.Instance, d time.Duration) {
	r.asleep.WithLabelValues(n.Service).Add(d.Seconds())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.activity(n).asleep += d
}

// Probe records a request answered for an asleep instance without waking
// it (proxy.Prober).
func (r *Registry) Probe(n names.Instance, kind string) {
	if !r.admit(n) {
		return
	}
	r.probes.WithLabelValues(n.Service, kind).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.activity(n).probes++
}

// Restarted records a restart (supervisor.Observer).
func (r *Registry) Restarted(n names.Instance, reason string) {
	r.restarts.WithLabelValues(n.Service, n.ID, reason).Inc()
	r.mu.Lock()
	a := r.activity(n)
	a.series = true
	if !slices.Contains(a.reasons, reason) {
		a.reasons = append(a.reasons, reason)
	}
	r.mu.Unlock()
}

// Deleted removes every series of a forgotten instance
// (supervisor.Observer). Its scrape-time series go with it, since the
// supervisor no longer lists it.
func (r *Registry) Deleted(n names.Instance) {
	r.dropSeries(n)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.acts, n)
}

// dropSeries removes the series an instance's events made, by their exact
// labels: a lookup each, where a partial match would scan every series of
// every instance (at a scrape that finds thousands fallen asleep, that is
// the difference between microseconds and seconds).
func (r *Registry) dropSeries(n names.Instance) {
	r.mu.Lock()
	var reasons []string
	if a := r.acts[n]; a != nil {
		reasons = a.reasons
	}
	r.mu.Unlock()
	svc, id := n.Service, n.ID
	for _, c := range statusClasses {
		r.requests.DeleteLabelValues(svc, id, c)
	}
	r.latency.DeleteLabelValues(svc, id)
	r.wakes.DeleteLabelValues(svc, id, "ok")
	r.wakes.DeleteLabelValues(svc, id, "error")
	r.wakeTime.DeleteLabelValues(svc, id)
	for _, why := range reasons {
		r.restarts.DeleteLabelValues(svc, id, why)
	}
}

// dropAsleep removes the event series of the instances that have any and
// are not awake (the scrape's collector calls it with the awake ones it
// listed): an asleep instance has no series of its own, so that memory and
// scrapes do not grow with every tenant that ever woke. They start again
// from 0 at the next wake; the service's series (and the summary) keep the
// history.
func (r *Registry) dropAsleep(awake map[names.Instance]bool) {
	var drop []names.Instance
	r.mu.Lock()
	for n, a := range r.acts {
		if a.series && !awake[n] {
			a.series = false
			drop = append(drop, n)
		}
	}
	r.mu.Unlock()
	for _, n := range drop {
		r.dropSeries(n)
	}
}

// activity returns n's activity, creating it; the caller holds r.mu.
func (r *Registry) activity(n names.Instance) *activity {
	a := r.acts[n]
	if a == nil {
		a = &activity{}
		r.acts[n] = a
	}
	return a
}

// admit reports whether a request's observation may create or update n's
// series: only while n is a known instance. A made-up id (which the proxy
// answers 404) makes no series, and a request that was in flight when its
// instance was deleted does not bring the deleted series back.
func (r *Registry) admit(n names.Instance) bool {
	r.mu.Lock()
	src := r.src
	r.mu.Unlock()
	return src == nil || src.Known(n)
}

// Activity is what the registry has seen of one instance since the daemon
// started.
type Activity struct {
	Requests   uint64
	Wakes      uint64 // successful and failed, whatever their cause
	WakeErrors uint64
	// WakesByCause counts the wakes by cause, in the order of Causes.
	WakesByCause [len(Causes)]uint64
	// WakeTime is the time the successful wakes (Wakes - WakeErrors)
	// took, together.
	WakeTime time.Duration
	// Asleep is the time the instance spent asleep, counted at each wake.
	Asleep time.Duration
	// Probes counts the requests answered without waking it.
	Probes uint64
	// RecentWakes counts the wakes of the last minute.
	RecentWakes int
}

// Activity returns every instance's activity.
func (r *Registry) Activity() map[names.Instance]Activity {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[names.Instance]Activity, len(r.acts))
	for n, a := range r.acts {
		a.recent = trimWakes(a.recent, now)
		out[n] = Activity{Requests: a.requests, Wakes: a.wakes, WakeErrors: a.wakeErrors, WakesByCause: a.byCause,
			WakeTime: a.wakeTime, Asleep: a.asleep, Probes: a.probes, RecentWakes: len(a.recent)}
	}
	return out
}

// trimWakes drops the wakes older than wakeWindow.
func trimWakes(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > wakeWindow {
		i++
	}
	return ts[i:]
}

// statusClass returns "2xx" for 200–299 and so on; "other" outside 100–599.
// statusClasses are every value statusClass returns.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return string(rune('0'+status/100)) + "xx"
}
