package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// The floor units: the same properties tenement renders for its instances
// (units.Render of the same service), under names the daemon ignores.
const (
	floorService = "tenement-bench-floor.service"
	floorSocket  = "tenement-bench-sock.socket"
	floorSockSvc = "tenement-bench-sock.service"
	floorMarker  = "tenement-bench-floor"
	// pollInterval is the floor poller's sleep between tries; with the
	// try itself the gap is about 1 ms (the report shows it).
	pollInterval  = 500 * time.Microsecond
	probeDeadline = 2 * time.Second
)

// floorUnits renders the units of a service as tenement would for an
// instance named floor on port, creating its data dir.
func floorUnits(cfg *config.Config, service, app, wrapper string, port int) (units.Units, error) {
	return instanceUnits(cfg, service, "floor", app, wrapper, port)
}

// instanceUnits renders the units of instance service:id as tenement
// would on port, creating its data dir.
func instanceUnits(cfg *config.Config, service, id, app, wrapper string, port int) (units.Units, error) {
	n, err := names.New(service, id)
	if err != nil {
		return units.Units{}, err
	}
	u, err := units.Render(units.Spec{
		Instance: n, Service: cfg.Services[service], Settings: &cfg.Settings, Port: port,
		Argv: []string{app}, Marker: floorMarker, Wrapper: wrapper,
	})
	if err != nil {
		return units.Units{}, err
	}
	return u, os.MkdirAll(u.DataDir, 0o750)
}

// startFloor is one bare StartTransientUnit of the app until its first 200:
// a poller (connect + GET, pollInterval apart) runs from the moment the call
// is made, independent of the job.
type startFloor struct {
	sd    *dbusapi.Conn
	unit  string // the unit's name, floorService unless set
	props []units.Property
	addr  string
}

func (f *startFloor) name() string {
	if f.unit == "" {
		return floorService
	}
	return f.unit
}

type startSample struct {
	first time.Duration // start call → first 200
	job   time.Duration // start call → job done (D-Bus JobRemoved)
	gaps  sample        // time between poll attempts
}

func (f *startFloor) once(ctx context.Context) (startSample, error) {
	type polled struct {
		at   time.Duration
		gaps sample
		err  error
	}
	t0 := time.Now()
	pc := make(chan polled, 1)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	go func() {
		at, gaps, err := pollFirst200(pctx, f.addr, t0)
		pc <- polled{at, gaps, err}
	}()
	err := f.sd.StartTransient(ctx, f.name(), f.props)
	job := time.Since(t0)
	if err != nil {
		cancel()
		<-pc
		return startSample{}, err
	}
	p := <-pc
	if p.err != nil {
		return startSample{}, p.err
	}
	return startSample{first: p.at, job: job, gaps: p.gaps}, nil
}

// reset stops the floor unit and waits until systemd has forgotten it.
func (f *startFloor) reset(ctx context.Context) error {
	if err := f.sd.Stop(ctx, f.name()); err != nil {
		return err
	}
	return f.sd.WaitUnloaded(ctx, f.name())
}

// pollFirst200 connects and GETs / until a 200, pollInterval between tries, and
// returns when that 200 arrived (since t0) and the gaps between attempts.
func pollFirst200(ctx context.Context, addr string, t0 time.Time) (time.Duration, sample, error) {
	var gaps sample
	last := time.Now()
	for i := 0; ; i++ {
		now := time.Now()
		if i > 0 {
			gaps = append(gaps, now.Sub(last))
		}
		last = now
		if code, err := getOnce(addr, "floor"); err == nil && code == http.StatusOK {
			return time.Since(t0), gaps, nil
		}
		select {
		case <-ctx.Done():
			return 0, gaps, fmt.Errorf("no 200 from %s: %w", addr, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// getOnce GETs / on a new connection.
func getOnce(addr, hostHeader string) (int, error) {
	c := newConn(addr, hostHeader, "/")
	defer c.close()
	if err := c.dial(); err != nil {
		return 0, err
	}
	_ = c.c.SetDeadline(time.Now().Add(probeDeadline))
	return c.roundTrip()
}

// socketFloor is a bare socket-activated first byte: a transient .socket
// with its service (the properties tenement renders), the service stopped
// before each connection.
type socketFloor struct {
	sd   *dbusapi.Conn
	addr string
}

func newSocketFloor(ctx context.Context, sd *dbusapi.Conn, u units.Units, port int) (*socketFloor, error) {
	err := sd.StartTransient(ctx, floorSocket, u.Socket, dbusapi.Aux{Name: floorSockSvc, Properties: u.Service})
	if err != nil {
		return nil, err
	}
	return &socketFloor{sd: sd, addr: "127.0.0.1:" + strconv.Itoa(port)}, nil
}

// reset stops the service and waits until it is inactive, the socket
// listening.
func (f *socketFloor) reset(ctx context.Context) error {
	if err := sleepService(ctx, f.sd, floorSockSvc); err != nil {
		return err
	}
	for {
		st, err := f.sd.State(ctx, floorSockSvc)
		if err != nil {
			return err
		}
		sk, err := f.sd.State(ctx, floorSocket)
		if err != nil {
			return err
		}
		if (st.ActiveState == "inactive" || !st.Loaded()) && sk.ActiveState == "active" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("floor socket: service %s, socket %s: %w", st.ActiveState, sk.ActiveState, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// once times a connection from connect to the first response byte.
func (f *socketFloor) once() (time.Duration, error) {
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: floor\r\nConnection: close\r\n\r\n")); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	if _, err := br.Peek(1); err != nil {
		return 0, err
	}
	first := time.Since(t0)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("floor socket: status %s", resp.Status)
	}
	return first, nil
}

func (f *socketFloor) close(ctx context.Context) {
	_ = f.sd.Stop(ctx, floorSockSvc)
	_ = f.sd.Stop(ctx, floorSocket)
	_ = f.sd.WaitUnloaded(ctx, floorSocket)
}
