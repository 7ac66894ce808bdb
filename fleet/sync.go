package fleet

import (
	"context"
	"errors"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Consumer is the local side the agent keeps in step with the placements
// of this host: the daemon's supervisor, whose CreateMany and Delete have
// these signatures. An instance placed here is registered asleep (it
// wakes on its first request); one that is no longer placed here
// (unplaced, or moved to another host) is forgotten, never purged: its
// data dir stays (a move copies it first, and a placement lost by mistake
// loses no data).
type Consumer interface {
	// CreateMany registers instances asleep, all or none; known ones are
	// left as they are.
	CreateMany(ns []names.Instance) (int, error)
	// Delete stops an instance and forgets it; the agent passes
	// purge=false. ErrNotFound for an unknown instance is fine.
	Delete(ctx context.Context, n names.Instance, purge bool) error
	// Instances lists the instances known locally.
	Instances() []names.Instance
}

// syncLoop keeps the Consumer in step, level-triggered: on every change of
// the placements it compares what is placed here with what it gave the
// Consumer, and in full (asking the Consumer what it has) at the start,
// after every resync of the cache and every ReconcileEvery, so that what
// failed once is retried. It starts only once the cache holds a full
// snapshot: an empty cache must not read as "nothing is placed here".
func (a *Agent) syncLoop() {
	select {
	case <-a.synced:
	case <-a.life.Done():
		return
	}
	s := &syncer{a: a, c: a.opts.Consumer, loads: a.loads.Load()}
	s.reconcile(true)
	tick := time.NewTicker(a.opts.ReconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-a.life.Done():
			return
		case <-a.kickSync:
			// after a resync (a full read of etcd), in full
			loads := a.loads.Load()
			s.reconcile(loads != s.loads)
			s.loads = loads
		case <-tick.C:
			s.reconcile(true)
		}
	}
}

type syncer struct {
	a *Agent
	c Consumer
	// given is what the Consumer has, as far as the syncer knows.
	given map[names.Instance]bool
	loads int64 // a.loads at the last full reconcile
}

// reconcile registers what is placed here and not given, and forgets what
// is given and not placed here; with full, it first asks the Consumer.
func (s *syncer) reconcile(full bool) {
	want := s.a.placedHere()
	if full || s.given == nil {
		s.given = map[names.Instance]bool{}
		for _, n := range s.c.Instances() {
			s.given[n] = true
		}
	}
	var add []names.Instance
	for n := range want {
		if !s.given[n] {
			add = append(add, n)
		}
	}
	s.create(add)
	for n := range s.given {
		if want[n] {
			continue
		}
		err := s.c.Delete(s.a.life, n, false)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			if s.a.life.Err() == nil {
				s.a.log.Error("cannot forget an instance placed elsewhere; will retry", "instance", n.String(), "err", err)
			}
			continue
		}
		s.a.log.Info("forgot an instance no longer placed here", "instance", n.String())
		delete(s.given, n)
	}
}

// create registers ns at once, or one by one when that fails, so that one
// instance the Consumer refuses (a service this host lacks) holds back no
// other.
func (s *syncer) create(ns []names.Instance) {
	if len(ns) == 0 {
		return
	}
	if _, err := s.c.CreateMany(ns); err == nil {
		for _, n := range ns {
			s.given[n] = true
		}
		s.a.log.Info("registered instances placed here", "count", len(ns))
		return
	}
	for _, n := range ns {
		if _, err := s.c.CreateMany([]names.Instance{n}); err != nil {
			s.a.log.Error("cannot register an instance placed here; will retry", "instance", n.String(), "err", err)
			continue
		}
		s.given[n] = true
	}
}

// placedHere returns the instances placed on this host, from the cache.
func (a *Agent) placedHere() map[names.Instance]bool {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	out := make(map[names.Instance]bool, a.cache.perHost[a.opts.Host])
	for n, p := range a.cache.places {
		if p.Host == a.opts.Host {
			out[n] = true
		}
	}
	return out
}
