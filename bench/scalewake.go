package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// massResult is one size of mass wake: rounds of n distinct asleep
// tenants at once through tenement, alternating with its floor, n bare
// starts at once (one floor run more than tenement rounds, before, between
// and after them). The samples are pooled over the runs.
type massResult struct {
	n, rounds          int
	ten, floor         sample // each request's / unit's time to its first 200, from the common start
	tenFail, floorFail int
	tenP95, floorP95   []time.Duration // of each run
}

// massFloorPorts is where the floor's units listen: outside both
// daemons' port_range.
const massFloorPorts = 24000

// massWakes measures mass wake i (p.mass[i] tenants, p.massRounds[i]
// rounds). Each round wakes tenants that never ran; those of the last
// round stay awake, the others are put to sleep again.
func (r *scaleReport) massWakes(ctx context.Context, sd *dbusapi.Conn, big *daemon, i int) error {
	n := r.p.mass[i]
	res := &massResult{n: n, rounds: r.p.massRounds[i]}
	floor := func() error {
		log.Printf("mass wake of %d: floor (%d bare starts at once)", n, n)
		lat, failed, err := massFloor(ctx, sd, big, r.p, n)
		if err != nil {
			return err
		}
		res.floor, res.floorFail = append(res.floor, lat...), res.floorFail+failed
		res.floorP95 = append(res.floorP95, lat.q(0.95))
		return nil
	}
	if err := floor(); err != nil {
		return err
	}
	for round := range res.rounds {
		ns := r.freshTenants(n)
		log.Printf("mass wake of %d: tenement, round %d (tenants %s–%s, one request each, at once)", n, round+1, ns[0], ns[n-1])
		lat, failed, err := massTenement(big, ns)
		if err != nil {
			return err
		}
		res.ten, res.tenFail = append(res.ten, lat...), res.tenFail+failed
		res.tenP95 = append(res.tenP95, lat.q(0.95))
		if round < res.rounds-1 {
			if err := stopAll(ctx, big, ns); err != nil {
				return err
			}
		}
		if err := floor(); err != nil {
			return err
		}
	}
	r.mass = append(r.mass, res)
	return nil
}

// freshTenants returns the next n of the big daemon's tenants that never
// ran.
func (r *scaleReport) freshTenants(n int) []names.Instance {
	ns := make([]names.Instance, n)
	for k := range ns {
		ns[k] = tenant("t", r.next+k)
	}
	r.next += n
	return ns
}

// stopAll puts instances to sleep through the API, 32 at a time.
func stopAll(ctx context.Context, d *daemon, ns []names.Instance) error {
	return each32(ns, func(n names.Instance) error { return d.api.Stop(ctx, n) })
}

// each32 calls f for every instance of ns, 32 at a time, and returns the
// first error.
func each32(ns []names.Instance, f func(n names.Instance) error) error {
	work := make(chan names.Instance)
	errs := make(chan error, len(ns))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for n := range work {
				if err := f(n); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, n := range ns {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// massTenement sends one request to each instance at once, each on its
// own connection (all connected before the clock starts), and returns
// each one's time to its whole 200 and the failures.
func massTenement(d *daemon, ns []names.Instance) (sample, int, error) {
	conns := make([]*conn, len(ns))
	for i, n := range ns {
		conns[i] = newConn(d.listen, host(n), "/")
		conns[i].keep = true
		if err := conns[i].dial(); err != nil {
			return nil, 0, err
		}
	}
	lat := make(sample, len(ns))
	fails := make([]bool, len(ns))
	var t0 time.Time // written before the gate opens, read after
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			defer c.close()
			<-gate
			code, err := c.get()
			lat[i] = time.Since(t0)
			fails[i] = err != nil || code != 200 || !strings.HasPrefix(string(c.body), "hello from "+ns[i].String())
		})
	}
	time.Sleep(10 * time.Millisecond) // every worker waits at the gate
	t0 = time.Now()
	close(gate)
	wg.Wait()
	ok, failed := okOnly(lat, fails)
	return ok, failed, nil
}

// okOnly returns the latencies that did not fail and the count of those
// that did.
func okOnly(lat sample, fails []bool) (sample, int) {
	var out sample
	n := 0
	for i, f := range fails {
		if f {
			n++
			continue
		}
		out = append(out, lat[i])
	}
	return out, n
}

// massFloor starts n bare units of the big daemon's service at once from
// this process's one D-Bus connection (the properties units.Render gives
// its instances, each on its own port, under names the daemons ignore),
// each polled to its first 200 after its start call returned, on the
// schedule tenement's readiness uses (every 1 ms, after 1 s backing off
// to 10 ms): polling 500 units from the start instant would take the two
// cores from systemd. Then it stops them again.
func massFloor(ctx context.Context, sd *dbusapi.Conn, big *daemon, p scaleParams, n int) (sample, int, error) {
	type floorUnit struct {
		name  string
		props []units.Property
		addr  string
	}
	us := make([]floorUnit, n)
	for i := range us {
		u, err := instanceUnits(big.cfg, "t", fmt.Sprintf("floor%d", i), p.app, p.ten, massFloorPorts+i)
		if err != nil {
			return nil, 0, err
		}
		us[i] = floorUnit{fmt.Sprintf("tenement-bench-mass-%d.service", i), u.Service, u.ListenAddress}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	lat := make(sample, n)
	fails := make([]bool, n)
	var t0 time.Time
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range us {
		wg.Go(func() {
			<-gate
			if err := sd.StartTransient(ctx, u.name, u.props); err != nil {
				fails[i] = true
				return
			}
			fails[i] = pollLikeReadiness(ctx, u.addr) != nil
			lat[i] = time.Since(t0)
		})
	}
	time.Sleep(10 * time.Millisecond)
	t0 = time.Now()
	close(gate)
	wg.Wait()
	lat, failed := okOnly(lat, fails)
	names := make([]string, n)
	for i, u := range us {
		names[i] = u.name
	}
	return lat, failed, stopUnits(context.WithoutCancel(ctx), sd, names)
}

// pollLikeReadiness GETs / until a 200 on supervisor.waitReady's schedule.
func pollLikeReadiness(ctx context.Context, addr string) error {
	start, delay := time.Now(), time.Millisecond
	for {
		if code, err := getOnce(addr, "floor"); err == nil && code == 200 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no 200 from %s: %w", addr, ctx.Err())
		case <-time.After(delay):
		}
		if time.Since(start) > time.Second && delay < 10*time.Millisecond {
			delay += delay / 4
		}
	}
}

// stopUnits stops units, 32 at a time, and waits until systemd has
// forgotten them.
func stopUnits(ctx context.Context, sd *dbusapi.Conn, names []string) error {
	work := make(chan string)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for name := range work {
				err := sd.Stop(ctx, name)
				if err == nil {
					err = sd.WaitUnloaded(ctx, name)
				}
				if err != nil {
					_ = sd.ResetFailed(ctx, name)
					errs <- err
				}
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}

// wakeRest wakes tenants that never ran until the larger awake count is
// reached, 32 requests at a time.
func (r *scaleReport) wakeRest(ctx context.Context, big *daemon) error {
	list, err := big.api.Instances(ctx)
	if err != nil {
		return err
	}
	ns := r.freshTenants(r.p.awake[len(r.p.awake)-1] - len(running(list)))
	if len(ns) == 0 {
		return nil
	}
	log.Printf("waking tenants %s–%s, 32 at a time", ns[0], ns[len(ns)-1])
	return each32(ns, func(n names.Instance) error {
		c := newConn(big.listen, host(n), "/")
		c.keep = true
		code, err := c.get()
		c.close()
		if err == nil && (code != 200 || !strings.HasPrefix(string(c.body), "hello from "+n.String())) {
			err = fmt.Errorf("%s: %d %q", n, code, c.body)
		}
		return err
	})
}
