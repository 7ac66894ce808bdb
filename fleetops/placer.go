package fleetops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// Placer returns the supervisor's side of the fleet (supervisor.Placer):
// instances a request creates are placed on this host.
func (o *Ops) Placer() supervisor.Placer { return placer{o} }

type placer struct{ o *Ops }

var _ supervisor.Placer = placer{}

func (p placer) PlaceHere(ctx context.Context, n names.Instance) (bool, error) {
	if own, ok := p.o.agent.Owner(n); ok {
		if own.Local {
			return false, nil
		}
		return false, fmt.Errorf("%w: %s lives on fleet host %s", errdefs.ErrUnavailable, n, own.Host)
	}
	pl, created, err := p.o.agent.Place(ctx, n, p.o.self)
	if err != nil {
		return false, err
	}
	if pl.Host != p.o.self { // another host placed it a moment ago
		return false, fmt.Errorf("%w: %s lives on fleet host %s", errdefs.ErrUnavailable, n, pl.Host)
	}
	return created, nil
}

func (p placer) Unplace(ctx context.Context, n names.Instance) error {
	return p.o.agent.Unplace(ctx, n)
}

func (p placer) PlacedHere(n names.Instance) bool {
	own, ok := p.o.agent.Owner(n)
	return ok && own.Local
}

// Consumer returns what the agent keeps in step with the placements of
// this host: the supervisor, once Ready, without the instances an
// operation of this host is changing (busy), and without the instances
// placed nowhere (claimLoop places them here).
func (o *Ops) Consumer() fleet.Consumer { return consumer{o} }

type consumer struct{ o *Ops }

var _ fleet.Consumer = consumer{}

func (c consumer) CreateMany(ns []names.Instance) (int, error) {
	if !c.o.waitReady() {
		return 0, context.Canceled
	}
	keep := ns[:0:0]
	for _, n := range ns {
		if !c.o.busy.has(n) {
			keep = append(keep, n)
		}
	}
	if len(keep) == 0 {
		return 0, nil
	}
	return c.o.local.CreateMany(keep)
}

func (c consumer) Delete(ctx context.Context, n names.Instance, purge bool) error {
	if !c.o.waitReady() {
		return context.Canceled
	}
	if c.o.busy.has(n) {
		return nil // the operation under way forgets it, or keeps it
	}
	return c.o.local.Delete(ctx, n, purge)
}

func (c consumer) Instances() []names.Instance {
	if !c.o.waitReady() {
		return nil
	}
	all := c.o.local.Instances()
	out := all[:0]
	for _, n := range all {
		if _, placed := c.o.agent.Placement(n); placed && !c.o.busy.has(n) {
			out = append(out, n)
		}
	}
	return out
}

// claimLoop places on this host the instances it knows that are placed
// nowhere (registered before the host joined the fleet), retrying while
// etcd does not answer. One placed on another host already keeps its
// owner there: this host then forgets its own (keeping its data).
func (o *Ops) claimLoop() {
	if o.agent.Synced(o.life) != nil { // an empty cache would call everything unplaced
		return
	}
	wait := time.Second
	for {
		left := o.claim()
		if left == 0 {
			return
		}
		select {
		case <-o.life.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// claim tries once and returns how many are left to claim.
func (o *Ops) claim() (left int) {
	for _, n := range o.local.Instances() {
		if _, placed := o.agent.Placement(n); placed || o.busy.has(n) {
			continue
		}
		ctx, cancel := context.WithTimeout(o.life, 10*time.Second)
		p, _, err := o.agent.Place(ctx, n, o.self)
		cancel()
		switch {
		case err != nil && o.life.Err() != nil:
			return 0
		case err != nil:
			if left == 0 {
				o.log.Warn("cannot place an instance this host knew before it joined the fleet; retrying", "instance", n.String(), "err", err)
			}
			left++
		case p.Host != o.self:
			o.log.Error("an instance this host knew is placed on another host: it lives there, and this host forgets its own (its data dir stays)",
				"instance", n.String(), "owner", p.Host)
		default:
			o.log.Info("placed an instance this host knew before it joined the fleet", "instance", n.String())
		}
	}
	return left
}

// errLivesOn is the answer about another host's instance.
func errLivesOn(n names.Instance, own fleet.Owner) error {
	return fmt.Errorf("%w: %s lives on fleet host %s (%s): ask that host (ten --server http://%s)", errdefs.ErrNotFound, n, own.Host, own.Addr, own.Addr)
}

// elsewhere turns the supervisor's ErrNotFound about an instance another
// host owns into errLivesOn.
// atOwner is, for a call that found no n here (err, ErrNotFound), a
// client of n's owner when that is another live host; nil and err
// otherwise (n is this host's, or placed nowhere), or an ErrUnavailable
// error when its owner is down.
func (o *Ops) atOwner(n names.Instance, err error) (*client.Client, error) {
	if !errors.Is(err, errdefs.ErrNotFound) {
		return nil, err
	}
	own, ok := o.agent.Owner(n)
	switch {
	case !ok || own.Local:
		return nil, err
	case !own.Live:
		return nil, fmt.Errorf("%w: %s lives on fleet host %s, which is down", errdefs.ErrUnavailable, n, own.Host)
	}
	c, cerr := o.peers.client(own.Host)
	if cerr != nil {
		return nil, cerr
	}
	return c, nil
}

func (o *Ops) elsewhere(n names.Instance, err error) error {
	if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	if own, ok := o.agent.Owner(n); ok && !own.Local {
		return errLivesOn(n, own)
	}
	return err
}
