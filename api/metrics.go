package api

import (
	"math"
	"net/http"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/metrics"
	"github.com/tenement/tenement/names"
)

// Metrics serves /metrics and the activity counts of /api/summary;
// *metrics.Registry is one.
type Metrics interface {
	// ServeMetrics writes the series of the instances scope allows, or
	// every series when scope is nil.
	ServeMetrics(w http.ResponseWriter, r *http.Request, scope func(names.Instance) bool)
	// Activity returns what was seen of each instance since the daemon
	// started.
	Activity() map[names.Instance]metrics.Activity
}

var _ Metrics = (*metrics.Registry)(nil)

func (s *Server) metricsRoutes() {
	s.handle("GET /metrics", s.metrics)
	s.handle("GET /api/summary", s.summary)
}

// metrics serves Prometheus metrics: all of them to an admin, only the
// series of its own instances to a tenant.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request, id Identity) error {
	if s.Metrics == nil {
		return errNotServed("metrics")
	}
	var scope func(names.Instance) bool
	if !id.Admin {
		scope = id.CanRead
	}
	s.Metrics.ServeMetrics(w, r, scope)
	return nil
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request, id Identity) error {
	out := apitype.Summary{Scope: "admin", Time: time.Now().UTC(), States: map[apitype.State]int{}}
	if !id.Admin {
		out.Scope, out.Tenant = "tenant", id.Tenant
	}
	for _, st := range apitype.States {
		out.States[st] = 0
	}
	var acts map[names.Instance]metrics.Activity
	if s.Metrics != nil {
		acts = s.Metrics.Activity()
	}
	var byCause [len(metrics.Causes)]uint64
	var wakeTime, asleep time.Duration
	for _, i := range s.readable(r.Context(), id, false) {
		out.Instances++
		out.States[i.State]++
		out.Restarts += i.Restarts
		a := acts[i.Instance]
		out.WakesLastMinute += a.RecentWakes
		out.Wakes += a.Wakes
		out.WakeErrors += a.WakeErrors
		out.Requests += a.Requests
		out.Probes += a.Probes
		for k, c := range a.WakesByCause {
			byCause[k] += c
		}
		wakeTime += a.WakeTime
		asleep += a.Asleep
	}
	out.WakesByCause = make(map[string]uint64, len(byCause))
	for k, c := range byCause {
		out.WakesByCause[string(metrics.Causes[k])] = c
	}
	if ok := out.Wakes - out.WakeErrors; ok > 0 {
		out.WakeAvgMS = math.Round(float64(wakeTime.Microseconds())/100/float64(ok)) / 10
	}
	out.AsleepSecs = asleep.Seconds()
	writeJSON(w, http.StatusOK, out)
	return nil
}
