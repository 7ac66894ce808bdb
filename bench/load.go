package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// target is an HTTP endpoint under load: the app itself or a proxy in
// front of it.
type target struct {
	name string
	addr string // host:port to connect to
	host string // Host header
}

// loadResult is what the load generator measured for one target.
type loadResult struct {
	lat    sample      // sequential requests on one keep-alive connection
	reqs   map[int]int // concurrency → requests answered 200
	took   map[int]time.Duration
	errors int
}

func (r *loadResult) rps(c int) float64 {
	if r.took[c] <= 0 {
		return 0
	}
	return float64(r.reqs[c]) / r.took[c].Seconds()
}

// loadConfig sizes the load runs.
type loadConfig struct {
	seq     int           // sequential requests per target at c=1
	dur     time.Duration // per concurrency level and target
	conc    []int         // concurrency levels for throughput
	rounds  int           // targets alternate this many times, against drift
	warmups int           // unmeasured requests per target first
	// around, if set, is called before the closed-loop runs at one
	// concurrency (all targets, all rounds, about d in all) and the func
	// it returns after them (profiling).
	around func(conc int, d time.Duration) func()
}

// runLoad measures every target with the same load generator, alternating
// between targets round by round so slow drift of the machine affects all
// alike.
func runLoad(ts []target, cfg loadConfig) (map[string]*loadResult, error) {
	res := map[string]*loadResult{}
	for _, t := range ts {
		res[t.name] = &loadResult{reqs: map[int]int{}, took: map[int]time.Duration{}}
		c := newConn(t.addr, t.host, "/")
		for range cfg.warmups {
			if code, err := c.get(); err != nil || code != 200 {
				c.close()
				return nil, fmt.Errorf("%s: warm-up request: status %d, %v", t.name, code, err)
			}
		}
		c.close()
	}
	per := max(1, cfg.seq/cfg.rounds)
	for range cfg.rounds {
		for _, t := range ts {
			r := res[t.name]
			lat, errs := sequential(t, per)
			r.lat = append(r.lat, lat...)
			r.errors += errs
		}
	}
	for _, conc := range cfg.conc {
		d := cfg.dur / time.Duration(cfg.rounds)
		after := func() {}
		if cfg.around != nil {
			after = cfg.around(conc, cfg.dur*time.Duration(len(ts)))
		}
		for range cfg.rounds {
			for _, t := range ts {
				r := res[t.name]
				n, errs, took := closedLoop(t, conc, d)
				r.reqs[conc] += n
				r.took[conc] += took
				r.errors += errs
			}
		}
		after()
	}
	return res, nil
}

// sequential sends n requests one after another on one keep-alive
// connection and returns each one's latency.
func sequential(t target, n int) (sample, int) {
	c := newConn(t.addr, t.host, "/")
	defer c.close()
	lat := make(sample, 0, n)
	errs := 0
	for range n {
		t0 := time.Now()
		code, err := c.get()
		d := time.Since(t0)
		if err != nil || code != 200 {
			errs++
			continue
		}
		lat = append(lat, d)
	}
	return lat, errs
}

// closedLoop runs conc workers, each with its own keep-alive connection
// sending requests back to back, for d. It returns the requests answered
// 200, the failures and the time it really ran.
func closedLoop(t target, conc int, d time.Duration) (int, int, time.Duration) {
	var stop atomic.Bool
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*conn, conc)
	for i := range conns {
		conns[i] = newConn(t.addr, t.host, "/")
		if err := conns[i].dial(); err != nil {
			bad.Add(1)
		}
	}
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			var n, e int64
			for !stop.Load() {
				if code, err := c.get(); err != nil || code != 200 {
					e++
					continue
				}
				n++
			}
			ok.Add(n)
			bad.Add(e)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return int(ok.Load()), int(bad.Load()), time.Since(start)
}
