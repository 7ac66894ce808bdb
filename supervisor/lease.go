package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// Lease is the proxy's hold on an instance for one request, stream or
// upgraded connection: while any lease is held the instance is not idle.
type Lease struct {
	in   *inst
	s    *Supervisor
	Addr string // host:port to forward to
	// Woke is how long the request waited for the instance to wake
	// (zero when it was already awake).
	Woke time.Duration
}

// Release ends the hold; the instance's idle time starts counting when the
// last lease is released. A zero Lease (with only Addr) holds nothing.
func (l Lease) Release() {
	in := l.in
	if in == nil {
		return
	}
	in.mu.Lock()
	in.inflight--
	in.lastActive = time.Now()
	in.mu.Unlock()
}

// Served reports the status of the answer the leased instance gave. The
// first 2xx of an instance that a request created marks it as served (one
// store write, in the background), so that it is kept when it sleeps.
func (l Lease) Served(status int) {
	in := l.in
	if in == nil || status < 200 || status > 299 {
		return
	}
	in.mu.Lock()
	mark := in.rec.ByRequest && !in.rec.Served && !in.marking
	in.marking = in.marking || mark
	in.mu.Unlock()
	if !mark {
		return
	}
	l.s.spawn(func() {
		if err := l.s.update(in, func(r *store.Instance) { r.Served = true }); err != nil {
			l.s.log.Error("record first answer", "instance", in.name.String(), "err", err)
		}
	})
}

// Acquire returns a lease on a running instance, waking it first if it is
// asleep (one start however many requests wait; each waits up to the
// service's wake_timeout). Unknown instances are ErrNotFound (a request
// creates one only through CreateForRequest); failed ones are
// ErrUnavailable.
func (s *Supervisor) Acquire(ctx context.Context, n names.Instance) (Lease, error) {
	in := s.lookup(n)
	if in == nil {
		return Lease{}, fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	var t0 time.Time
	for {
		in.mu.Lock()
		if in.state == StateRunning || (in.sockUp && in.state != StateFailed && in.state != StateStopping) {
			in.inflight++
			in.lastActive = time.Now()
			a := addr(in.port)
			in.mu.Unlock()
			var woke time.Duration
			if !t0.IsZero() {
				woke = time.Since(t0)
			}
			return Lease{in: in, s: s, Addr: a, Woke: woke}, nil
		}
		timeout := in.svc.WakeTimeout.D()
		in.mu.Unlock()
		if !t0.IsZero() {
			// Woke, yet not running: it went to sleep or failed
			// again at once. Try again within the same deadline.
			if time.Since(t0) > timeout {
				return Lease{}, fmt.Errorf("%w: %s did not stay awake", errdefs.ErrUnavailable, n)
			}
		} else {
			t0 = time.Now()
		}
		wctx, cancel := context.WithTimeout(ctx, timeout-time.Since(t0))
		err := s.awaitRunning(wctx, in, true)
		cancel()
		if err != nil {
			return Lease{}, err
		}
	}
}
