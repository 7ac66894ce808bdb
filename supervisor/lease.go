package supervisor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tenement/tenement/config"
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
	l.s.bg.Go(func() {
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
		if in.state == StateRunning || (in.socketUp && in.state != StateFailed && in.state != StateStopping) {
			in.inflight++
			in.lastActive = time.Now()
			a := addr(in.rec.Port)
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

// Pick chooses an instance of service for a weighted request: smooth
// weighted round robin over the instances with weight > 0 that have not
// failed (an asleep one may be chosen, and is then woken). Weight 0 never
// receives weighted traffic.
func (s *Supervisor) Pick(service string) (names.Instance, error) {
	if s.cfg.Services[service] == nil {
		return names.Instance{}, fmt.Errorf("%w: service %q", errdefs.ErrNotFound, service)
	}
	// Weights are read under the supervisor's lock, which Route holds
	// while it changes two weights, so a pick never sees half a route.
	s.mu.RLock()
	rr := s.rr[service]
	var weights []weighted
	for _, in := range s.insts {
		if in.name.Service != service {
			continue
		}
		in.mu.Lock()
		w, failed := in.rec.Weight, in.state == StateFailed
		in.mu.Unlock()
		if w > 0 && !failed {
			weights = append(weights, weighted{in.name, w})
		}
	}
	s.mu.RUnlock()
	if rr == nil {
		s.mu.Lock()
		if rr = s.rr[service]; rr == nil {
			rr = &roundRobin{current: map[names.Instance]int{}}
			s.rr[service] = rr
		}
		s.mu.Unlock()
	}
	n, ok := rr.next(weights)
	if !ok {
		// Nothing is woken: new instances have weight 0 and belong to
		// one customer each; only ten weight, deploy or route pool them.
		return names.Instance{}, fmt.Errorf("%w: service %q has no instance with weight > 0", errdefs.ErrNotFound, service)
	}
	return n, nil
}

type weighted struct {
	name   names.Instance
	weight int
}

// roundRobin is nginx's smooth weighted round robin: exact proportions
// over every window of sum(weights) picks, and no bursts.
type roundRobin struct {
	mu      sync.Mutex
	current map[names.Instance]int
}

func (r *roundRobin) next(ws []weighted) (names.Instance, bool) {
	if len(ws) == 0 {
		return names.Instance{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	total, best, bestW := 0, -1, 0
	for i, w := range ws {
		r.current[w.name] += w.weight
		total += w.weight
		if c := r.current[w.name]; best < 0 || c > bestW || (c == bestW && w.name.String() < ws[best].name.String()) {
			best, bestW = i, c
		}
	}
	r.current[ws[best].name] -= total
	// Forget instances that are no longer candidates.
	if len(r.current) > len(ws) {
		keep := make(map[names.Instance]bool, len(ws))
		for _, w := range ws {
			keep[w.name] = true
		}
		for n := range r.current {
			if !keep[n] {
				delete(r.current, n)
			}
		}
	}
	return ws[best].name, true
}

// Route moves all weighted traffic of service from one instance to another
// in one transaction: from gets weight 0, to gets 100.
func (s *Supervisor) Route(service, from, to string) (fromW, toW int, err error) {
	a, err := names.New(service, from)
	if err != nil {
		return 0, 0, err
	}
	b, err := names.New(service, to)
	if err != nil {
		return 0, 0, err
	}
	ia, err := s.known(a)
	if err != nil {
		return 0, 0, err
	}
	ib, err := s.known(b)
	if err != nil {
		return 0, 0, err
	}
	// Lock both records in a fixed order so concurrent routes cannot
	// deadlock, then commit both weights at once.
	first, second := ia, ib
	if b.String() < a.String() {
		first, second = ib, ia
	}
	first.recMu.Lock()
	defer first.recMu.Unlock()
	if first != second {
		second.recMu.Lock()
		defer second.recMu.Unlock()
	}
	var recs []*store.Instance
	err = s.store.UpdateInstances([]names.Instance{a, b}, func(rs []*store.Instance) error {
		rs[0].Weight, rs[1].Weight = 0, 100
		recs = rs
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	// Both in-memory weights change under the supervisor's lock, which
	// Pick also takes, so no pick sees one without the other.
	s.mu.Lock()
	ia.mu.Lock()
	ia.rec = *recs[0]
	ia.mu.Unlock()
	ib.mu.Lock()
	ib.rec = *recs[1]
	ib.mu.Unlock()
	s.mu.Unlock()
	return 0, 100, nil
}

// WakeTimeout returns a service's wake_timeout (for Retry-After).
func (s *Supervisor) WakeTimeout(service string) time.Duration {
	if svc := s.cfg.Services[service]; svc != nil {
		return svc.WakeTimeout.D()
	}
	return 0
}

// ServiceConfig returns a service's config, or nil.
func (s *Supervisor) ServiceConfig(service string) *config.Service { return s.cfg.Services[service] }
