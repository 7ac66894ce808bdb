package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
)

// settle is the pause before each timed wake, so the previous stop's
// aftermath (journal writes, unit collection) is over, as it is when a
// tenant wakes after an idle period.
const settle = 30 * time.Millisecond

// wakeResults are the four wake paths, measured alternately in one loop.
type wakeResults struct {
	held, sock           sample // tenement: request → 200
	heldTook             sample // the daemon's own "instance ready took="
	floorStart, floorJob sample // bare StartTransientUnit → first 200 / → job done
	floorSock            sample // bare socket activation: connect → first byte
	pollGaps             sample
}

type waker struct {
	d          *daemon
	sd         *dbusapi.Conn
	held, sock names.Instance
	start      *startFloor
	socket     *socketFloor
	heldConn   *conn
	sockConn   *conn
}

// run measures iters wakes of each path after warm wakes that are not
// counted.
func (w *waker) run(ctx context.Context, warm, iters int) (*wakeResults, error) {
	r := &wakeResults{}
	w.heldConn = newConn(w.d.listen, host(w.held), "/")
	w.heldConn.keep = true
	w.sockConn = newConn(w.d.listen, host(w.sock), "/")
	w.sockConn.keep = true
	defer w.heldConn.close()
	defer w.sockConn.close()
	var logOffset int64
	for i := -warm; i < iters; i++ {
		count := i >= 0
		if i == 0 {
			_, logOffset = w.d.readyTook(w.held, 0)
		}
		d, err := w.wakeHeld(ctx)
		if err != nil {
			return nil, fmt.Errorf("proxy-held wake %d: %w", i, err)
		}
		fs, err := w.floorStart(ctx)
		if err != nil {
			return nil, fmt.Errorf("bare start %d: %w", i, err)
		}
		ds, err := w.wakeSock(ctx)
		if err != nil {
			return nil, fmt.Errorf("socket wake %d: %w", i, err)
		}
		fk, err := w.floorSocket(ctx)
		if err != nil {
			return nil, fmt.Errorf("bare socket activation %d: %w", i, err)
		}
		if count {
			r.held = append(r.held, d)
			r.sock = append(r.sock, ds)
			r.floorStart = append(r.floorStart, fs.first)
			r.floorJob = append(r.floorJob, fs.job)
			r.pollGaps = append(r.pollGaps, fs.gaps...)
			r.floorSock = append(r.floorSock, fk)
		}
		if count && (i+1)%25 == 0 {
			log.Printf("wake: %d/%d", i+1, iters)
		}
	}
	r.heldTook, _ = w.d.readyTook(w.held, logOffset)
	return r, nil
}

// wakeHeld stops the proxy-held instance (as an idle stop does), waits
// until systemd has forgotten its unit, then times one request through
// the proxy.
func (w *waker) wakeHeld(ctx context.Context) (time.Duration, error) {
	return wakeProxyHeld(ctx, w.d, w.sd, w.held, w.heldConn)
}

// wakeProxyHeld stops a proxy-held instance n (as an idle stop does), waits
// until systemd has forgotten its unit, then times one request through
// the proxy on c.
func wakeProxyHeld(ctx context.Context, d *daemon, sd *dbusapi.Conn, n names.Instance, c *conn) (time.Duration, error) {
	if err := d.api.Stop(ctx, n); err != nil {
		return 0, err
	}
	if err := d.awaitState(ctx, n, apitype.StateAsleep); err != nil {
		return 0, err
	}
	if err := sd.WaitUnloaded(ctx, n.Unit()); err != nil {
		return 0, err
	}
	time.Sleep(settle)
	return timeRequest(ctx, d, c, n)
}

// wakeSock stops only the service of the socket-activated instance (the
// socket keeps listening, as after an idle stop), waits until the daemon
// sees it asleep, then times one request through the proxy.
func (w *waker) wakeSock(ctx context.Context) (time.Duration, error) {
	if err := sleepService(ctx, w.sd, w.sock.Unit()); err != nil {
		return 0, err
	}
	if err := w.d.awaitState(ctx, w.sock, apitype.StateAsleep); err != nil {
		return 0, err
	}
	st, err := w.sd.State(ctx, w.sock.SocketUnit())
	if err != nil {
		return 0, err
	}
	if st.ActiveState != "active" {
		return 0, fmt.Errorf("%s is %s, want active", w.sock.SocketUnit(), st.ActiveState)
	}
	time.Sleep(settle)
	return w.timeRequest(ctx, w.sockConn, w.sock)
}

func (w *waker) timeRequest(ctx context.Context, c *conn, n names.Instance) (time.Duration, error) {
	return timeRequest(ctx, w.d, c, n)
}

// timeRequest times one GET through the proxy, checks that the instance
// answered, and waits until the daemon has it running again.
func timeRequest(ctx context.Context, d *daemon, c *conn, n names.Instance) (time.Duration, error) {
	t0 := time.Now()
	code, err := c.get()
	took := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if want := "hello from " + n.String(); code != 200 || !strings.HasPrefix(string(c.body), want) {
		return 0, fmt.Errorf("status %d, body %q; want 200 %q", code, c.body, want)
	}
	return took, d.awaitState(ctx, n, apitype.StateRunning)
}

func (w *waker) floorStart(ctx context.Context) (startSample, error) {
	time.Sleep(settle)
	s, err := w.start.once(ctx)
	if rerr := w.start.reset(ctx); err == nil {
		err = rerr
	}
	return s, err
}

func (w *waker) floorSocket(ctx context.Context) (time.Duration, error) {
	if err := w.socket.reset(ctx); err != nil {
		return 0, err
	}
	time.Sleep(settle)
	return w.socket.once()
}

// sleepService puts a socket-activated service to sleep as tenement's idle
// stop does: stop it and reset its start rate limit. The service unit
// outlives its stops (the socket keeps it loaded), so without the reset
// its StartLimitBurst (max_restarts + 1 in restart_window) would count
// every wake, and the 5th wake within 300 s would fail with
// start-limit-hit, failing the socket too.
func sleepService(ctx context.Context, sd *dbusapi.Conn, unit string) error {
	if err := sd.Stop(ctx, unit); err != nil {
		return err
	}
	return sd.ResetFailed(ctx, unit)
}
