package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// The scrape-time series, read from the supervisor at every scrape.
var (
	instLabels = []string{"service", "instance"}

	descInstances = prometheus.NewDesc("tenement_instances",
		"Known instances by state (asleep, starting, running, stopping, failed).",
		[]string{"state"}, nil)
	descState = prometheus.NewDesc("tenement_instance_state",
		"1 for an instance's current state (asleep, starting, running, stopping, failed); one series per instance.",
		append(instLabels, "state"), nil)
	descHealth = prometheus.NewDesc("tenement_instance_health",
		"1 for a running instance's health (healthy, degraded, unhealthy, unknown).",
		append(instLabels, "health"), nil)
	descWeight = prometheus.NewDesc("tenement_instance_weight",
		"Routing weight (0–100) of an instance in its service's weighted traffic.",
		instLabels, nil)
	descStart = prometheus.NewDesc("tenement_instance_start_time_seconds",
		"When a running instance became ready, in seconds since the Unix epoch.",
		instLabels, nil)
	descMemory = prometheus.NewDesc("tenement_instance_memory_bytes",
		"Memory of a running instance's unit as systemd accounts it (MemoryCurrent); absent when systemd does not report it.",
		instLabels, nil)
	descCPU = prometheus.NewDesc("tenement_instance_cpu_seconds_total",
		"CPU time of the current run of an instance's unit as systemd accounts it (CPUUsageNSec); absent when systemd does not report it.",
		instLabels, nil)
	descStorage = prometheus.NewDesc("tenement_instance_storage_bytes",
		"Size of an instance's data directory when last measured.",
		instLabels, nil)
	descQuota = prometheus.NewDesc("tenement_instance_storage_quota_bytes",
		"The service's storage_quota_mb in bytes (reported, not enforced); absent without a quota.",
		instLabels, nil)
)

var states = []supervisor.State{supervisor.StateAsleep, supervisor.StateStarting, supervisor.StateRunning, supervisor.StateStopping, supervisor.StateFailed}

// collector reads the instances at scrape time, so that the series of an
// instance exist exactly while the supervisor knows it.
type collector struct{ r *Registry }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInstances, descState, descHealth, descWeight, descStart, descMemory, descCPU, descStorage, descQuota} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	src := c.r.src
	c.r.mu.Unlock()
	if src == nil {
		return
	}
	// An asleep instance has no series of its own: at 10 000 mostly
	// asleep tenants the scrape stays small, and lists only the awake.
	count := src.StateCounts()
	list, _ := src.List(supervisor.ListOptions{Accounting: true, SkipAsleep: true})
	awake := make(map[names.Instance]bool, len(list))
	for _, i := range list {
		awake[i.Instance] = true
		collectInstance(ch, i)
	}
	c.r.dropAsleep(awake)
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(count[s]), string(s))
	}
}

func collectInstance(ch chan<- prometheus.Metric, i supervisor.Info) {
	svc, id := i.Instance.Service, i.Instance.ID
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{svc, id}, extra...)...)
	}
	gauge(descState, 1, string(i.State))
	gauge(descWeight, float64(i.Weight))
	if i.State == supervisor.StateRunning {
		gauge(descHealth, 1, string(i.Health))
		if !i.Since.IsZero() {
			gauge(descStart, float64(i.Since.UnixNano())/1e9)
		}
	}
	if i.MemoryBytes != nil {
		gauge(descMemory, float64(*i.MemoryBytes))
	}
	if i.CPUNanos != nil {
		ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, float64(*i.CPUNanos)/1e9, svc, id)
	}
	if i.StorageBytes != nil {
		gauge(descStorage, float64(*i.StorageBytes))
	}
	if i.StorageQuota != nil {
		gauge(descQuota, float64(*i.StorageQuota))
	}
}
