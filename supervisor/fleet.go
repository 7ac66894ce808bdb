package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// In a fleet (SPEC §12) every instance is placed on one host in etcd, and
// the daemon's fleet mode keeps the supervisor in step with the placements
// of this host (package fleetops: it registers what is placed here with
// CreateMany and forgets what is not with Delete; those two change this
// host only). Three paths of the supervisor's own need the fleet too, and
// ask it through a Placer: an instance a request creates
// (spawn_on_request) is placed here before it is stored, and unplaced
// when it is forgotten unserved; and an instance placed here that the
// sync has not registered yet is registered by its first request.

// Placer is the fleet's side of an instance's life on this host.
type Placer interface {
	// PlaceHere places n on this host unless it is placed already;
	// created says this call placed it. An error of kind
	// errdefs.ErrUnavailable when n is placed on another host or the
	// fleet cannot be reached.
	PlaceHere(ctx context.Context, n names.Instance) (created bool, err error)
	// Unplace removes n's placement; ErrNotFound when there is none.
	Unplace(ctx context.Context, n names.Instance) error
	// PlacedHere reports, from memory, whether n is placed on this host.
	PlacedHere(n names.Instance) bool
}

// placeTimeout bounds the fleet's calls the supervisor makes on its own.
const placeTimeout = 10 * time.Second

// SetPlacer puts the supervisor into a fleet (nil: out of it). Set it
// before Run.
func (s *Supervisor) SetPlacer(p Placer) {
	if p == nil {
		s.placer.Store(nil)
		return
	}
	s.placer.Store(&p)
}

func (s *Supervisor) fleet() Placer {
	if p := s.placer.Load(); p != nil {
		return *p
	}
	return nil
}

// Instances returns the names of the known instances, unordered: what the
// fleet's sync compares with the placements of this host.
func (s *Supervisor) Instances() []names.Instance {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]names.Instance, 0, len(s.insts))
	for n := range s.insts {
		out = append(out, n)
	}
	return out
}

// AwakeCount returns how many instances run now (the fleet reports it in
// this host's key, once a second at most).
func (s *Supervisor) AwakeCount() int {
	n := 0
	for _, in := range s.all() {
		in.mu.Lock()
		if in.state == StateRunning {
			n++
		}
		in.mu.Unlock()
	}
	return n
}

// DataDir returns the data dir of n on this host.
func (s *Supervisor) DataDir(n names.Instance) string { return s.dataDir(n) }

// Fence keeps n from waking (a request, spawn or restart gets an
// ErrUnavailable error, which the proxy answers with 503 and Retry-After)
// and stops it, its requests drained first (up to stop_timeout): the start
// of a move to another host, whose data must not change while it is
// copied. Unfence lets it wake again, if the move did not happen.
func (s *Supervisor) Fence(ctx context.Context, n names.Instance) error {
	in, err := s.known(n)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.fenced = true
	in.mu.Unlock()
	if err := s.stopInst(ctx, in, true, true); err != nil {
		s.Unfence(n)
		return err
	}
	return nil
}

// Unfence lets a fenced instance wake again.
func (s *Supervisor) Unfence(n names.Instance) {
	if in := s.lookup(n); in != nil {
		in.mu.Lock()
		in.fenced = false
		in.mu.Unlock()
	}
}

// errFenced is the error of a wake of a fenced instance.
func errFenced(n names.Instance) error {
	return fmt.Errorf("%w: %s is moving to another host", errdefs.ErrUnavailable, n)
}

// placeForRequest places an instance that a request creates on this host,
// first (etcd decides who owns a name), within the service's
// max_instances here. It returns an undo for when storing it fails.
func (s *Supervisor) placeForRequest(n names.Instance, limit int) (undo func(), err error) {
	p := s.fleet()
	if p == nil {
		return func() {}, nil
	}
	if limit > 0 {
		s.mu.RLock()
		full := s.counts[n.Service] >= limit
		s.mu.RUnlock()
		if full { // no etcd write for a creation that will be refused
			return nil, fmt.Errorf("%w: service %s has max_instances (%d) instances", errdefs.ErrRateLimited, n.Service, limit)
		}
	}
	ctx, cancel := context.WithTimeout(s.life, placeTimeout)
	defer cancel()
	created, err := p.PlaceHere(ctx, n)
	if err != nil {
		return nil, err
	}
	if !created {
		return func() {}, nil
	}
	return func() { s.unplace(n) }, nil
}

// unplace removes n's placement, for an instance this host forgot.
func (s *Supervisor) unplace(n names.Instance) {
	p := s.fleet()
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.life), placeTimeout)
	defer cancel()
	if err := p.Unplace(ctx, n); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		s.log.Error("cannot unplace a forgotten instance; the fleet still places it here", "instance", n.String(), "err", err)
	}
}

// registerPlaced registers n when the fleet places it here and the sync
// has not registered it yet: its first request does. It returns the
// instance, or nil.
func (s *Supervisor) registerPlaced(n names.Instance) *inst {
	p := s.fleet()
	if p == nil || !p.PlacedHere(n) {
		return nil
	}
	if _, err := s.CreateMany([]names.Instance{n}); err != nil {
		s.log.Warn("cannot register an instance placed here", "instance", n.String(), "err", err)
		return nil
	}
	return s.lookup(n)
}
