package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/tenement/tenement/metrics/metricstest"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// fakeInstances is the supervisor as the registry sees it.
type fakeInstances struct {
	mu    sync.Mutex
	list  []supervisor.Info
	calls int
	acct  []bool // the accounting argument of each call
}

func (f *fakeInstances) List(opts supervisor.ListOptions) ([]supervisor.Info, names.Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.acct = append(f.acct, opts.Accounting)
	var out []supervisor.Info
	for _, i := range f.list {
		if !opts.SkipAsleep || i.State != supervisor.StateAsleep {
			out = append(out, i)
		}
	}
	return out, names.Instance{}
}

func (f *fakeInstances) StateCounts() map[supervisor.State]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[supervisor.State]int{}
	for _, i := range f.list {
		out[i.State]++
	}
	return out
}

func (f *fakeInstances) Known(n names.Instance) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, i := range f.list {
		if i.Instance == n {
			return true
		}
	}
	return false
}

func (f *fakeInstances) set(infos ...supervisor.Info) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = infos
}

func inst(s string) names.Instance {
	n, err := names.Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

func u64(v uint64) *uint64 { return &v }
func i64(v int64) *int64   { return &v }

func info(name string, state supervisor.State) supervisor.Info {
	n := inst(name)
	return supervisor.Info{Instance: n, State: state, Health: supervisor.HealthUnknown, Weight: 100}
}

// clock is a settable time for the registry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestRegistry(t *testing.T, infos ...supervisor.Info) (*Registry, *fakeInstances, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	r := New(Options{Now: clk.now})
	src := &fakeInstances{}
	src.set(infos...)
	r.Watch(src)
	return r, src, clk
}

// scrape serves /metrics with scope and parses the answer with the
// Prometheus text parser.
func scrape(t *testing.T, r *Registry, scope func(names.Instance) bool) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	r.ServeMetrics(rec, httptest.NewRequest("GET", "/metrics", nil), scope)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	return metricstest.Parse(t, rec.Body.String())
}

func one(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	s := metricstest.Series(mfs, name, want)
	if len(s) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(s))
	}
	return s[0]
}

func TestRequestsAndWakes(t *testing.T) {
	alice := inst("web:alice")
	r, _, _ := newTestRegistry(t, info("web:alice", supervisor.StateRunning))
	r.Woke(alice, supervisor.CauseRequest, 300*time.Millisecond, nil)
	r.Woke(alice, supervisor.CauseRequest, 2*time.Second, errors.New("did not start"))
	r.Request(alice, 200, 310*time.Millisecond)
	r.Request(alice, 204, 2*time.Millisecond)
	r.Request(alice, 503, 10*time.Second)
	r.Request(alice, 404, time.Millisecond) // the app's own 404: alice exists
	r.Restarted(alice, "crash")
	r.Restarted(alice, "user")
	r.Restarted(alice, "user")

	mfs := scrape(t, r, nil)
	a := map[string]string{"service": "web", "instance": "alice"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range a {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tenement_requests_total", with("code", "2xx"), 2},
		{"tenement_requests_total", with("code", "5xx"), 1},
		{"tenement_requests_total", with("code", "4xx"), 1},
		{"tenement_wakes_total", with("result", "ok"), 1},
		{"tenement_wakes_total", with("result", "error"), 1},
		{"tenement_restarts_total", with("reason", "crash"), 1},
		{"tenement_restarts_total", with("reason", "user"), 2},
	} {
		if got := one(t, mfs, tc.name, tc.labels).GetCounter().GetValue(); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	h := one(t, mfs, "tenement_request_duration_seconds", a).GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() < 10.3 || h.GetSampleSum() > 10.4 {
		t.Errorf("request histogram: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	w := one(t, mfs, "tenement_wake_duration_seconds", a).GetHistogram()
	if w.GetSampleCount() != 1 || w.GetSampleSum() != 0.3 {
		t.Errorf("wake histogram: count %d sum %v (a failed wake is not timed)", w.GetSampleCount(), w.GetSampleSum())
	}
	// The 300ms wake is in the 0.5s bucket, not in the 0.25s one.
	for _, b := range w.Bucket {
		want := uint64(0)
		if b.GetUpperBound() >= 0.5 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("wake bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}

func TestScrapeReadsInstances(t *testing.T) {
	running := info("web:alice", supervisor.StateRunning)
	running.Health = supervisor.HealthHealthy
	running.Weight = 40
	running.MemoryBytes = u64(12 << 20)
	running.CPUNanos = nil // not reported (cgroup v1)
	running.StorageBytes = i64(4096)
	running.StorageQuota = i64(100 << 20)
	running.Since = time.Unix(1700000000, 0)
	cpu := info("web:carol", supervisor.StateRunning)
	cpu.CPUNanos = u64(1_500_000_000)
	r, src, _ := newTestRegistry(t, running, cpu, info("web:bob", supervisor.StateAsleep), info("api:bob", supervisor.StateFailed))

	mfs := scrape(t, r, nil)
	if src.acct[len(src.acct)-1] != true {
		t.Errorf("the scrape listed instances without accounting")
	}
	a := map[string]string{"service": "web", "instance": "alice"}
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"tenement_instance_memory_bytes", 12 << 20},
		{"tenement_instance_weight", 40},
		{"tenement_instance_storage_bytes", 4096},
		{"tenement_instance_storage_quota_bytes", 100 << 20},
		{"tenement_instance_start_time_seconds", 1700000000},
	} {
		if got := one(t, mfs, tc.name, a).GetGauge().GetValue(); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if s := metricstest.Series(mfs, "tenement_instance_cpu_seconds_total", a); len(s) != 0 {
		t.Errorf("CPU series for an instance whose CPU systemd does not report: %v", s)
	}
	if got := one(t, mfs, "tenement_instance_cpu_seconds_total", map[string]string{"instance": "carol"}).GetCounter().GetValue(); got != 1.5 {
		t.Errorf("cpu of carol = %v, want 1.5", got)
	}
	if s := metricstest.Series(mfs, "tenement_instance_memory_bytes", map[string]string{"service": "web", "instance": "bob"}); len(s) != 0 {
		t.Errorf("memory series of an asleep instance: %v", s)
	}
	one(t, mfs, "tenement_instance_health", map[string]string{"instance": "alice", "health": "healthy"})
	one(t, mfs, "tenement_instance_state", map[string]string{"service": "api", "instance": "bob", "state": "failed"})
	for state, want := range map[string]float64{"running": 2, "asleep": 1, "failed": 1, "starting": 0, "stopping": 0} {
		if got := one(t, mfs, "tenement_instances", map[string]string{"state": state}).GetGauge().GetValue(); got != want {
			t.Errorf("tenement_instances{state=%q} = %v, want %v", state, got, want)
		}
	}
}

func TestTenantScope(t *testing.T) {
	r, _, _ := newTestRegistry(t, info("web:alice", supervisor.StateRunning), info("web:bob", supervisor.StateRunning), info("api:alice", supervisor.StateAsleep))
	r.Request(inst("web:alice"), 200, time.Millisecond)
	r.Request(inst("web:bob"), 200, time.Millisecond)
	r.Woke(inst("web:bob"), supervisor.CauseRequest, time.Second, nil)
	_ = r.Systemd(nil).(*countedSystemd).count("stop", errors.New("job failed"))

	all := scrape(t, r, nil)
	if len(metricstest.Series(all, "tenement_requests_total", map[string]string{"instance": "bob"})) != 1 || all["tenement_dbus_errors_total"] == nil {
		t.Fatalf("admin scrape misses series: %v", familyNames(all))
	}
	mine := scrape(t, r, func(n names.Instance) bool { return n.ID == "alice" })
	for name, mf := range mine {
		for _, m := range mf.Metric {
			n, ok := instanceOf(m)
			if !ok || n.ID != "alice" {
				t.Errorf("tenant alice sees %s %v", name, m.Label)
			}
		}
	}
	for _, name := range []string{"tenement_instances", "tenement_dbus_errors_total", "tenement_wakes_total"} {
		if mine[name] != nil {
			t.Errorf("tenant alice sees the family %s", name)
		}
	}
	if len(metricstest.Series(mine, "tenement_instance_state", map[string]string{"service": "web", "instance": "alice"})) != 1 {
		t.Errorf("tenant alice misses its own web:alice: %v", familyNames(mine))
	}
	// An asleep instance has no series of its own (at 10 000 mostly
	// asleep tenants a scrape stays small).
	if n := len(metricstest.Series(all, "tenement_instance_state", map[string]string{"service": "api", "instance": "alice"})); n != 0 {
		t.Errorf("asleep api:alice has %d state series", n)
	}
}

func familyNames(mfs map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range mfs {
		out = append(out, n)
	}
	return out
}

func TestDeletedRemovesSeries(t *testing.T) {
	alice, bob := inst("web:alice"), inst("web:bob")
	r, src, clk := newTestRegistry(t, info("web:alice", supervisor.StateRunning), info("web:bob", supervisor.StateRunning))
	for _, n := range []names.Instance{alice, bob} {
		r.Woke(n, supervisor.CauseRequest, time.Second, nil)
		r.Request(n, 200, time.Millisecond)
		r.Restarted(n, "user")
	}
	src.set(info("web:bob", supervisor.StateRunning))
	src.set(info("web:bob", supervisor.StateRunning))
	r.Deleted(alice)
	// A request that was in flight when alice was deleted ends now.
	clk.add(time.Second)
	r.Request(alice, 200, time.Millisecond)

	mfs := scrape(t, r, nil)
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			if n, ok := instanceOf(m); ok && n == alice {
				t.Errorf("deleted alice still has %s %v", name, m.Label)
			}
		}
	}
	one(t, mfs, "tenement_requests_total", map[string]string{"instance": "bob"})
	if _, ok := r.Activity()[alice]; ok {
		t.Errorf("deleted alice still has activity")
	}

	// Created again, it counts again.
	src.set(info("web:alice", supervisor.StateRunning), info("web:bob", supervisor.StateRunning))
	clk.add(time.Second)
	r.Request(alice, 200, time.Millisecond)
	one(t, scrape(t, r, nil), "tenement_requests_total", map[string]string{"instance": "alice"})
}

func TestUnknownInstancesMakeNoSeries(t *testing.T) {
	r, src, clk := newTestRegistry(t, info("web:alice", supervisor.StateRunning))
	// Made-up ids answered 404 by the proxy, many in a burst: no series.
	for i := range 100 {
		r.Request(inst(fmt.Sprintf("web:x%d", i)), 404, time.Millisecond)
	}
	clk.add(time.Second)
	r.Request(inst("web:nobody"), 404, time.Millisecond)
	mfs := scrape(t, r, nil)
	if mf := mfs["tenement_requests_total"]; mf != nil {
		t.Errorf("series for unknown instances: %v", mf.Metric)
	}
	// An instance created since the last listing is found by the next.
	src.set(info("web:alice", supervisor.StateRunning), info("web:new", supervisor.StateRunning))
	clk.add(time.Second)
	r.Request(inst("web:new"), 404, time.Millisecond)
	one(t, scrape(t, r, nil), "tenement_requests_total", map[string]string{"instance": "new", "code": "4xx"})
}

func TestActivityWindow(t *testing.T) {
	alice := inst("web:alice")
	r, _, clk := newTestRegistry(t, info("web:alice", supervisor.StateRunning))
	r.Woke(alice, supervisor.CauseRequest, time.Second, nil)
	clk.add(45 * time.Second)
	r.Woke(alice, supervisor.CauseSchedule, time.Second, errors.New("no"))
	r.Request(alice, 200, time.Millisecond)
	r.Slept(alice, time.Hour)
	r.Probe(alice, "probe_path")
	r.Probe(inst("web:ghost"), "probe_path") // not an instance: not counted
	got := r.Activity()[alice]
	want := Activity{Requests: 1, Wakes: 2, WakeErrors: 1, WakesByCause: [4]uint64{1, 0, 0, 1},
		WakeTime: time.Second, Asleep: time.Hour, Probes: 1, RecentWakes: 2}
	if got != want {
		t.Errorf("activity %+v, want %+v", got, want)
	}
	clk.add(30 * time.Second)
	if _, ok := r.Activity()[inst("web:ghost")]; ok {
		t.Error("a probe for an unknown instance made activity")
	}
	if got := r.Activity()[alice]; got.RecentWakes != 1 || got.Wakes != 2 {
		t.Errorf("after 75s: %+v, want 1 recent of 2", got)
	}
}

func TestDBusErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"ok", nil, ""},
		{"cancelled by the caller", fmt.Errorf("%w: stop x: %w", errdefs.ErrTimeout, context.Canceled), ""},
		{"method error", fmt.Errorf("start x: %w", godbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit"}), "method"},
		{"no connection", fmt.Errorf("%w: not connected to systemd", errdefs.ErrUnavailable), "connection"},
		{"deadline", fmt.Errorf("%w: stop x: %w", errdefs.ErrTimeout, context.DeadlineExceeded), "timeout"},
		{"job failed", errors.New("start x: job failed"), "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dbusKind(tc.err); got != tc.want {
				t.Errorf("dbusKind = %q, want %q", got, tc.want)
			}
		})
	}
}

// failingStore fails every call with err.
type failingStore struct{ err error }

func (f failingStore) Instances() ([]store.Instance, error)   { return nil, f.err }
func (f failingStore) CreateInstance(store.Instance) error    { return f.err }
func (f failingStore) CreateInstances([]store.Instance) error { return f.err }
func (f failingStore) DeleteInstance(names.Instance) error    { return f.err }
func (f failingStore) UpdateInstances([]names.Instance, func([]*store.Instance) error) error {
	return f.err
}
func (f failingStore) UpdateInstance(names.Instance, func(*store.Instance) error) (store.Instance, error) {
	return store.Instance{}, f.err
}

func TestStoreErrors(t *testing.T) {
	r, _, _ := newTestRegistry(t)
	broken := r.Store(failingStore{errors.New("store: decode instance: unexpected EOF")})
	missing := r.Store(failingStore{fmt.Errorf("%w: instance web:x", errdefs.ErrNotFound)})
	for _, st := range []supervisor.Store{broken, missing} {
		_, _ = st.Instances()
		_ = st.DeleteInstance(inst("web:x"))
	}
	mfs := scrape(t, r, nil)
	for _, op := range []string{"instances", "delete_instance"} {
		if got := one(t, mfs, "tenement_store_errors_total", map[string]string{"op": op}).GetCounter().GetValue(); got != 1 {
			t.Errorf("store errors of %s = %v, want 1 (a missing record is no error)", op, got)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{{200, "2xx"}, {204, "2xx"}, {301, "3xx"}, {404, "4xx"}, {503, "5xx"}, {101, "1xx"}, {0, "other"}, {600, "other"}} {
		if got := statusClass(tc.status); got != tc.want {
			t.Errorf("statusClass(%d) = %q, want %q", tc.status, got, tc.want)
		}
	}
}

func TestServiceWakePolicySeries(t *testing.T) {
	alice, bob := inst("web:alice"), inst("web:bob")
	r, _, _ := newTestRegistry(t, info("web:alice", supervisor.StateRunning), info("web:bob", supervisor.StateAsleep))
	r.Woke(alice, supervisor.CauseRequest, 200*time.Millisecond, nil)
	r.Woke(bob, supervisor.CauseRequest, 400*time.Millisecond, nil)
	r.Woke(alice, supervisor.CauseSchedule, time.Second, nil)
	r.Woke(bob, supervisor.CauseDeploy, time.Second, errors.New("did not start"))
	r.Slept(alice, 90*time.Second)
	r.Slept(bob, 30*time.Second)
	for range 3 {
		r.Probe(bob, "probe_path")
	}
	r.Probe(bob, "user_agent")

	mfs := scrape(t, r, nil)
	svc := func(kv ...string) map[string]string {
		m := map[string]string{"service": "web"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tenement_service_wakes_total", svc("cause", "request", "result", "ok"), 2},
		{"tenement_service_wakes_total", svc("cause", "schedule", "result", "ok"), 1},
		{"tenement_service_wakes_total", svc("cause", "deploy", "result", "error"), 1},
		{"tenement_asleep_seconds_total", svc(), 120},
		{"tenement_probes_answered_total", svc("kind", "probe_path"), 3},
		{"tenement_probes_answered_total", svc("kind", "user_agent"), 1},
	} {
		if got := one(t, mfs, tc.name, tc.labels).GetCounter().GetValue(); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	h := one(t, mfs, "tenement_service_wake_duration_seconds", svc("cause", "request")).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.59 || h.GetSampleSum() > 0.61 {
		t.Errorf("request wakes histogram: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if n := len(metricstest.Series(mfs, "tenement_service_wake_duration_seconds", svc("cause", "deploy"))); n != 0 {
		t.Errorf("a failed deploy start is timed: %d series", n)
	}
	// Starts not caused by a request stay out of the per-instance series
	// (which the failed-wake alerts read).
	if got := one(t, mfs, "tenement_wakes_total", map[string]string{"service": "web", "instance": "alice", "result": "ok"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("alice's request wakes = %v, want 1", got)
	}
	if n := len(metricstest.Series(mfs, "tenement_wakes_total", map[string]string{"instance": "bob", "result": "error"})); n != 0 {
		t.Errorf("bob's failed deploy start counts as a failed wake")
	}
	// A tenant sees none of the service's series: they sum its neighbours.
	mine := scrape(t, r, func(n names.Instance) bool { return n == bob })
	for _, name := range []string{"tenement_service_wakes_total", "tenement_service_wake_duration_seconds", "tenement_asleep_seconds_total", "tenement_probes_answered_total"} {
		if mine[name] != nil {
			t.Errorf("tenant bob sees %s", name)
		}
	}
}

// TestAsleepDropsSeries: an instance that sleeps loses its own series at
// the next scrape (memory and scrapes do not grow with every tenant that
// ever woke); the service's series and the activity keep the history.
func TestAsleepDropsSeries(t *testing.T) {
	alice := inst("web:alice")
	r, src, _ := newTestRegistry(t, info("web:alice", supervisor.StateRunning))
	r.Woke(alice, supervisor.CauseRequest, time.Second, nil)
	r.Woke(alice, supervisor.CauseRequest, time.Second, errors.New("no"))
	// every label value the series can have: each is dropped by its name
	for _, code := range []int{101, 200, 302, 404, 503, 0} {
		r.Request(alice, code, time.Millisecond)
	}
	for _, why := range []string{"crash", "unhealthy", "user"} {
		r.Restarted(alice, why)
	}
	a := map[string]string{"service": "web", "instance": "alice"}
	for _, name := range []string{"tenement_requests_total", "tenement_wakes_total", "tenement_restarts_total", "tenement_request_duration_seconds"} {
		if len(metricstest.Series(scrape(t, r, nil), name, a)) == 0 {
			t.Fatalf("awake: no %s", name)
		}
	}
	src.set(info("web:alice", supervisor.StateAsleep))
	scrape(t, r, nil) // the scrape that sees it asleep drops them
	mfs := scrape(t, r, nil)
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			if n, ok := instanceOf(m); ok && n == alice {
				t.Errorf("asleep alice still has %s", name)
			}
		}
	}
	one(t, mfs, "tenement_service_wakes_total", map[string]string{"service": "web", "cause": "request", "result": "ok"})
	if got := r.Activity()[alice]; got.Requests != 6 || got.Wakes != 2 {
		t.Errorf("activity after sleep: %+v", got)
	}
	// Awake again, its series start from 0.
	src.set(info("web:alice", supervisor.StateRunning))
	r.Request(alice, 200, time.Millisecond)
	if got := one(t, scrape(t, r, nil), "tenement_requests_total", map[string]string{"service": "web", "instance": "alice", "code": "2xx"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("requests after the wake = %v, want 1", got)
	}
}
