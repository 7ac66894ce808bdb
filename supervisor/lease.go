package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// Lease is the proxy's hold on an instance for one request, stream or
// upgraded connection: while any lease is held the instance is not idle
// (but see Stream). Copies of a Lease share its hold.
type Lease struct {
	h    *hold
	Addr string // host:port to forward to
	// Woke is how long the request waited for the instance to wake
	// (zero when it was already awake).
	Woke time.Duration
}

// hold is what a Lease holds.
type hold struct {
	in       *inst
	s        *Supervisor
	passive  bool // a probe: holds the instance awake, is no activity
	stream   *streamRef
	released atomic.Bool
}

// streamRef is one open stream (a WebSocket, server-sent events): with
// stream_idle_timeout it keeps its instance awake only while bytes flow.
type streamRef struct {
	last atomic.Int64 // UnixNano of the last bytes
}

// Release ends the hold; the instance's idle time starts counting when the
// last lease is released. A zero Lease (with only Addr) holds nothing;
// releasing twice is once.
func (l Lease) Release() {
	h := l.h
	if h == nil || h.released.Swap(true) {
		return
	}
	in := h.in
	in.mu.Lock()
	if h.stream != nil {
		delete(in.streams, h.stream)
		if last := time.Unix(0, h.stream.last.Load()); last.After(in.lastActive) {
			in.lastActive = last
		}
	} else {
		in.inflight--
		if !h.passive {
			in.lastActive = time.Now()
		}
	}
	in.mu.Unlock()
}

// Stream says the lease now holds a long-lived stream: with the service's
// stream_idle_timeout it keeps the instance awake only while Touch says
// bytes flowed within that time (without one, as long as it is open).
func (l Lease) Stream() {
	h := l.h
	if h == nil || h.passive || h.stream != nil || h.released.Load() {
		return
	}
	ref := &streamRef{}
	ref.last.Store(time.Now().UnixNano())
	h.in.mu.Lock()
	h.stream = ref
	h.in.inflight--
	h.in.streams[ref] = struct{}{}
	h.in.mu.Unlock()
}

// Touch records that bytes flowed on the lease's stream.
func (l Lease) Touch() {
	if h := l.h; h != nil && h.stream != nil {
		h.stream.last.Store(time.Now().UnixNano())
	}
}

// Served reports the status of the answer the leased instance gave. The
// first 2xx of an instance that a request created marks it as served (one
// store write, in the background), so that it is kept when it sleeps.
func (l Lease) Served(status int) {
	if l.h == nil || status < 200 || status > 299 {
		return
	}
	in, s := l.h.in, l.h.s
	in.mu.Lock()
	mark := in.rec.ByRequest && !in.rec.Served && !in.marking
	in.marking = in.marking || mark
	in.mu.Unlock()
	if !mark {
		return
	}
	s.spawn(func() {
		if err := s.update(in, func(r *store.Instance) { r.Served = true }); err != nil {
			s.log.Error("record first answer", "instance", in.name.String(), "err", err)
		}
	})
}

// Acquire returns a lease on a running instance, waking it first if it is
// asleep (one start however many requests wait; each waits up to the
// service's wake_timeout) and lifting a throttle. Unknown instances are
// ErrNotFound (a request creates one only through CreateForRequest);
// failed ones are ErrUnavailable.
func (s *Supervisor) Acquire(ctx context.Context, n names.Instance) (Lease, error) {
	in := s.lookup(n)
	if in == nil {
		if in = s.registerPlaced(n); in == nil { // in a fleet, placed here a moment ago
			return Lease{}, fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
		}
	}
	var t0 time.Time
	for {
		in.mu.Lock()
		if in.state == StateRunning || (in.sockUp && in.state != StateFailed && in.state != StateStopping) {
			l := s.lease(in, false)
			throttled := in.throttled
			in.mu.Unlock()
			if throttled {
				s.unthrottle(ctx, in)
			}
			if !t0.IsZero() {
				l.Woke = time.Since(t0)
			}
			return l, nil
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
		err := s.awaitRunning(wctx, in, CauseRequest)
		cancel()
		if err != nil {
			return Lease{}, err
		}
	}
}

// AcquireAwake returns a passive lease (no activity: a probe, a monitor)
// on an instance that is running, and false when it is not: it never
// wakes anything and lifts no throttle. Unknown instances are ErrNotFound.
func (s *Supervisor) AcquireAwake(n names.Instance) (Lease, bool, error) {
	in := s.lookup(n)
	if in == nil {
		return Lease{}, false, fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state != StateRunning {
		return Lease{}, false, nil
	}
	return s.lease(in, true), true, nil
}

// lease makes a lease on a running instance. The caller holds in.mu.
func (s *Supervisor) lease(in *inst, passive bool) Lease {
	in.inflight++
	if !passive {
		in.lastActive = time.Now()
	}
	return Lease{h: &hold{in: in, s: s, passive: passive}, Addr: addr(in.port)}
}

// Wake starts an asleep instance without waiting for it (wake =
// "background" or "page"); an instance starting or running is left as it
// is. A failed one is ErrUnavailable, an unknown one ErrNotFound.
func (s *Supervisor) Wake(n names.Instance, cause Cause) error {
	in, err := s.known(n)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.orphaned:
		return fmt.Errorf("%w: %s: service %q is no longer configured", errdefs.ErrNotFound, n, n.Service)
	case in.state == StateFailed:
		return fmt.Errorf("%w: %s has failed: %s", errdefs.ErrUnavailable, n, in.reason)
	case in.fenced && in.state == StateAsleep:
		return errFenced(n)
	case in.state == StateAsleep:
		s.beginStart(in, true, cause)
	}
	return nil
}

// Awake reports whether an instance is running now (it asks nobody).
func (s *Supervisor) Awake(n names.Instance) bool {
	in := s.lookup(n)
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state == StateRunning
}
