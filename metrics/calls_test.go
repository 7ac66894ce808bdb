package metrics

import (
	"maps"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/tenement/tenement/names"
)

// fakeCalls is a connection's call counter.
type fakeCalls struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (f *fakeCalls) Calls() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.n)
}

func (f *fakeCalls) add(method string, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]uint64{}
	}
	f.n[method] += n
}

func TestSystemdCallsAreReadAtScrapeTime(t *testing.T) {
	calls := &fakeCalls{}
	r := New(Options{Calls: calls})
	r.Watch(&fakeInstances{})

	// No call yet (a connection counts from its dial): no series.
	if mf := scrape(t, r, nil)["tenement_systemd_calls_total"]; mf != nil {
		t.Errorf("series before any call: %v", mf.Metric)
	}

	calls.add("StartTransientUnit", 3)
	calls.add("GetAll", 1)
	first := scrape(t, r, nil)
	calls.add("StartTransientUnit", 2)
	calls.add("StopUnit", 1)
	second := scrape(t, r, nil)

	for _, tc := range []struct {
		name   string
		mfs    map[string]*dto.MetricFamily
		method string
		want   float64
	}{
		{"first scrape", first, "StartTransientUnit", 3},
		{"first scrape", first, "GetAll", 1},
		{"later scrape sees the calls since", second, "StartTransientUnit", 5},
		{"later scrape, a method new since", second, "StopUnit", 1},
		{"later scrape, an unchanged method", second, "GetAll", 1},
	} {
		t.Run(tc.name+" "+tc.method, func(t *testing.T) {
			m := one(t, tc.mfs, "tenement_systemd_calls_total", map[string]string{"method": tc.method})
			if got := m.GetCounter().GetValue(); got != tc.want {
				t.Errorf("tenement_systemd_calls_total{method=%q} = %v, want %v", tc.method, got, tc.want)
			}
		})
	}
	if got := len(second["tenement_systemd_calls_total"].GetMetric()); got != 3 {
		t.Errorf("%d series, want one per method (3)", got)
	}
}

func TestSystemdCallsAreAdminsOnly(t *testing.T) {
	calls := &fakeCalls{}
	calls.add("StartTransientUnit", 1)
	r := New(Options{Calls: calls})
	r.Watch(&fakeInstances{})
	if mf := scrape(t, r, func(names.Instance) bool { return true })["tenement_systemd_calls_total"]; mf != nil {
		t.Errorf("a tenant sees the daemon's calls to systemd: %v", mf.Metric)
	}
}

func TestNoCallCounterNoSeries(t *testing.T) {
	r, _, _ := newTestRegistry(t)
	if mf := scrape(t, r, nil)["tenement_systemd_calls_total"]; mf != nil {
		t.Errorf("series without a call counter: %v", mf.Metric)
	}
}
