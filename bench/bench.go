package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
)

// The bench's instances: w is woken again and again, l serves the load
// runs (always awake), b takes the bursts.
var (
	heldWake  = mustName("held", "w")
	sockWake  = mustName("sock", "w")
	heldLoad  = mustName("held", "l")
	heldBurst = mustName("held", "b")
	sockBurst = mustName("sock", "b")
)

func mustName(service, id string) names.Instance {
	n, err := names.New(service, id)
	if err != nil {
		panic(err)
	}
	return n
}

// run does the whole benchmark inside the manager.
func run(ctx context.Context, p params) (*report, error) {
	begin := time.Now()
	rep := &report{p: p, env: environment(), burst: map[string]*burstResult{}, loadStart: loadAvg()}
	sd, err := dbusapi.Dial(ctx, dbusapi.Options{})
	if err != nil {
		return nil, err
	}
	defer sd.Close()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(p.work, p.ten, p.app, port, p.pprofDaemon, p.levels)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	insts := []names.Instance{heldWake, sockWake, heldLoad, heldBurst, sockBurst}
	for _, l := range p.levels {
		insts = append(insts, levelInstance(l))
	}
	for _, n := range insts {
		if _, err := d.spawn(ctx, n); err != nil {
			return nil, err
		}
		defer func() { _ = d.api.Delete(context.WithoutCancel(ctx), n, true) }()
	}

	log.Printf("(a) wake latency: %d wakes per path (+%d warm-up)", p.wakes, p.warm)
	if rep.wake, err = measureWakes(ctx, p, d, sd); err != nil {
		return nil, err
	}

	if len(p.levels) > 0 {
		log.Printf("(b) wake latency by isolation level (%v): %d wakes per path (+%d warm-up)", p.levels, p.isoWakes, p.warm)
		t0 := time.Now()
		if rep.levels, err = measureLevels(ctx, p, d, sd); err != nil {
			return nil, err
		}
		rep.levelsTook = time.Since(t0)
	}

	log.Printf("(c) proxy overhead: %d sequential requests, %s at each of c=%v per target", p.load.seq, p.load.dur, p.load.conc)
	if err := measureLoad(ctx, p, d, rep); err != nil {
		return nil, err
	}

	log.Printf("(d) %d concurrent requests to an asleep instance, %d rounds per mode", p.burstConc, p.burstRounds)
	stopHeld := func(ctx context.Context) error { return d.api.Stop(ctx, heldBurst) }
	if rep.burst["proxy-held"], err = burst(ctx, d, heldBurst, stopHeld, p.burstConc, p.burstRounds); err != nil {
		return nil, fmt.Errorf("burst, proxy-held: %w", err)
	}
	stopSock := func(ctx context.Context) error { return sleepService(ctx, sd, sockBurst.Unit()) }
	if rep.burst["socket"], err = burst(ctx, d, sockBurst, stopSock, p.burstConc, p.burstRounds); err != nil {
		return nil, fmt.Errorf("burst, socket: %w", err)
	}
	rep.took, rep.loadEnd = time.Since(begin), loadAvg()
	return rep, nil
}

func measureWakes(ctx context.Context, p params, d *daemon, sd *dbusapi.Conn) (*wakeResults, error) {
	sp, err := freePort()
	if err != nil {
		return nil, err
	}
	su, err := floorUnits(d.cfg, "held", p.app, p.ten, sp)
	if err != nil {
		return nil, err
	}
	kp, err := freePort()
	if err != nil {
		return nil, err
	}
	ku, err := floorUnits(d.cfg, "sock", p.app, p.ten, kp)
	if err != nil {
		return nil, err
	}
	sf, err := newSocketFloor(ctx, sd, ku, kp)
	if err != nil {
		return nil, fmt.Errorf("floor socket: %w", err)
	}
	defer sf.close(context.WithoutCancel(ctx))
	w := &waker{
		d: d, sd: sd, held: heldWake, sock: sockWake, socket: sf,
		start: &startFloor{sd: sd, props: su.Service, addr: su.ListenAddress},
	}
	return w.run(ctx, p.warm, p.wakes)
}

func measureLoad(ctx context.Context, p params, d *daemon, rep *report) error {
	info, err := d.api.Instance(ctx, heldLoad)
	if err != nil {
		return err
	}
	app := info.Port
	cp, err := freePort()
	if err != nil {
		return err
	}
	caddy, err := startCaddy(p.work, cp, app)
	if err != nil {
		return err
	}
	defer caddy.stop()
	np, err := freePort()
	if err != nil {
		return err
	}
	nginx, err := startNginx(p.work, np, app)
	if err != nil {
		return err
	}
	defer nginx.stop()
	h := host(heldLoad)
	rep.targets = []target{
		{name: "app direct", addr: info.Listen, host: h},
		{name: "tenement", addr: d.listen, host: h},
		{name: "Caddy " + caddy.version, addr: caddy.addr, host: h},
		{name: "nginx " + nginx.version, addr: nginx.addr, host: h},
	}
	cfg := p.load
	if d.pprof != "" && p.profileOutDir != "" {
		// A CPU profile samples only while the daemon runs: over all
		// targets it holds tenement's rounds.
		cfg.around = func(conc int, dur time.Duration) func() {
			path := filepath.Join(p.profileOutDir, fmt.Sprintf("tenement-c%d.cpu.pprof", conc))
			wait := d.cpuProfile(dur, path)
			return func() {
				if err := wait(); err != nil {
					log.Printf("profile: %v", err)
					return
				}
				rep.profiles = append(rep.profiles, path)
			}
		}
	}
	rep.load, err = runLoad(rep.targets, cfg)
	return err
}
