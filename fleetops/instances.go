package fleetops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// Instances returns the API's instances in the fleet: this host's
// supervisor, with creations placed first, spawns and deletes of other
// hosts' instances asked of them, and the list of the whole fleet.
func (o *Ops) Instances() api.Instances { return &instances{Local: o.local, o: o} }

// instances is the supervisor as the fleet sees it; what it does not
// override is this host's own.
type instances struct {
	Local
	o *Ops
}

var _ api.Instances = (*instances)(nil)

// Served reports whether this host serves n: its own, or one placed
// anywhere in the fleet (any host serves any tenant, and gets a
// certificate for its name). Known, as the API asks it, is this host's
// own only (its credentials are here).
func (o *Ops) Served(n names.Instance) bool {
	if _, ok := o.agent.Placement(n); ok {
		return true
	}
	return o.local.Known(n)
}

func (i *instances) CreateMany(ns []names.Instance) (int, error) {
	r, err := i.o.Create(context.Background(), ns, "")
	return r.Created, err
}

func (i *instances) Spawn(ctx context.Context, n names.Instance) (supervisor.Info, error) {
	return i.o.Spawn(ctx, n, "")
}

// Delete forgets an instance fleet-wide: on its owner (this host, or
// asked of it), placement and all. The owner must be live: an instance of
// a host that is down cannot be deleted (its data is there), else it
// would come back with the host.
func (i *instances) Delete(ctx context.Context, n names.Instance, purge bool) error {
	own, ok := i.o.agent.Owner(n)
	switch {
	case !ok:
		return i.Local.Delete(ctx, n, purge) // placed nowhere: this host's own, if anyone's
	case !own.Local && !own.Live:
		return fmt.Errorf("%w: %s lives on fleet host %s, which is down: its data is there; delete it when the host is back, or ten move --without-data first",
			errdefs.ErrUnavailable, n, own.Host)
	case !own.Local:
		c, err := i.o.peers.client(own.Host)
		if err != nil {
			return err
		}
		return c.Delete(ctx, n, purge)
	}
	done := i.o.busy.add(n)
	defer done()
	if err := i.o.agent.Unplace(ctx, n); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	// Its custom domains go with it, fleet-wide (a host that only forgets
	// an instance, for a move, keeps them).
	if _, err := i.o.agent.DeleteDomainsOf(ctx, n); err != nil {
		i.o.log.Warn("delete: the instance's custom domains stay bound", "instance", n.String(), "err", err)
	}
	err := i.Local.Delete(ctx, n, purge)
	if errors.Is(err, errdefs.ErrNotFound) {
		err = nil // placed here, never registered
	}
	return err
}

func (i *instances) Get(ctx context.Context, n names.Instance) (supervisor.Info, error) {
	info, err := i.Local.Get(ctx, n)
	if err == nil {
		info.Host = i.o.self
		return info, nil
	}
	if own, ok := i.o.agent.Owner(n); ok && !own.Local && errors.Is(err, errdefs.ErrNotFound) {
		return remoteInfo(n, own.Host, own.Live), nil
	}
	return info, err
}

// Stop, Restart, Health, KeepAwake and SetWeight of another host's
// instance are asked of that host (as its peer: the API checked the
// caller here, and tokens are fleet-wide), so that any host takes any
// command about any instance.

func (i *instances) Stop(ctx context.Context, n names.Instance) error {
	c, err := i.o.atOwner(n, i.Local.Stop(ctx, n))
	if c == nil {
		return err
	}
	return c.Stop(ctx, n)
}

func (i *instances) Restart(ctx context.Context, n names.Instance) (supervisor.Info, error) {
	info, err := i.Local.Restart(ctx, n)
	c, err := i.o.atOwner(n, err)
	if c == nil {
		return info, err
	}
	r, err := c.Restart(ctx, n)
	return supervisor.Info{Instance: n, Unit: r.Unit, State: r.State, Port: r.Port, Addr: r.Socket, Host: r.Host}, err
}

func (i *instances) Health(ctx context.Context, n names.Instance) (supervisor.Health, error) {
	h, err := i.Local.Health(ctx, n)
	c, err := i.o.atOwner(n, err)
	if c == nil {
		return h, err
	}
	r, err := c.Health(ctx, n)
	return r.Health, err
}

func (i *instances) MeasureStorage(n names.Instance) (int64, error) {
	b, err := i.Local.MeasureStorage(n)
	return b, i.o.elsewhere(n, err)
}

func (i *instances) KeepAwake(n names.Instance, until time.Time) error {
	c, err := i.o.atOwner(n, i.Local.KeepAwake(n, until))
	if c == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(i.o.life, peerTimeout)
	defer cancel()
	_, err = c.KeepAwake(ctx, n, max(time.Until(until), 0))
	return err
}

func (i *instances) SetWeight(n names.Instance, w int) error {
	c, err := i.o.atOwner(n, i.Local.SetWeight(n, w))
	if c == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(i.o.life, peerTimeout)
	defer cancel()
	_, err = c.SetWeight(ctx, n, w)
	return err
}

// remoteInfo is what this host knows of another host's instance.
func remoteInfo(n names.Instance, host string, live bool) supervisor.Info {
	return supervisor.Info{Instance: n, Unit: n.Unit(), State: apitype.StateUnknown, Health: supervisor.HealthUnknown,
		Host: host, HostDown: !live}
}

// Create places instances (on host, or each on the live host with the
// most free room) and registers at once those placed here; the others'
// owners register them. Instances placed already are left where they are
// (Known). Each placement is one etcd transaction: when one fails, the
// call stops there, those placed before stay placed, and calling again
// places the rest.
func (o *Ops) Create(ctx context.Context, ns []names.Instance, host string) (apitype.CreateResponse, error) {
	resp := apitype.CreateResponse{Hosts: map[string]int{}}
	if err := o.checkHost(host); err != nil {
		return resp, err
	}
	var here, fresh []names.Instance
	seen := map[names.Instance]bool{}
	for _, n := range ns {
		if seen[n] {
			continue
		}
		seen[n] = true
		if o.local.ServiceConfig(n.Service) == nil {
			return resp, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
		}
		if own, ok := o.agent.Owner(n); ok { // no etcd write: works while etcd is away
			resp.Known++
			if own.Local {
				here = append(here, n)
			}
			continue
		}
		fresh = append(fresh, n)
	}
	placed, err := o.placeAll(ctx, o.assign(fresh, host))
	for _, p := range placed {
		if p.created {
			resp.Created++
			resp.Hosts[p.Host]++
		} else {
			resp.Known++
		}
		if p.Host == o.self {
			here = append(here, p.Instance)
		}
	}
	if len(here) > 0 {
		if _, lerr := o.local.CreateMany(here); lerr != nil && err == nil {
			err = lerr
		}
	}
	if err != nil && len(placed) > 0 {
		err = fmt.Errorf("placed %d of %d new instances, then: %w", len(placed), len(fresh), err)
	}
	return resp, err
}

// placed is one placement a Create made or found.
type placed struct {
	fleet.Placement
	created bool
}

// assign names the host of each new instance: host, or the live host
// with the most free room (ties by name), counting the ones before it. The
// choice is made here, in order, and the placements then go out eight at
// a time: left to each placement, eight at once would all see the same
// host with the most room.
func (o *Ops) assign(ns []names.Instance, host string) []fleet.Placement {
	out := make([]fleet.Placement, len(ns))
	t := newTargets(o.agent.Hosts(), "")
	for k, n := range ns {
		out[k] = fleet.Placement{Instance: n, Host: host}
		if host == "" {
			out[k].Host, _ = t.pick() // "": no room; the fleet says so
		}
	}
	return out
}

// placeAll places ps on their hosts, eight at a time, stopping at the
// first error.
func (o *Ops) placeAll(ctx context.Context, ps []fleet.Placement) ([]placed, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]placed, len(ps))
	ok := make([]bool, len(ps))
	sem := make(chan struct{}, 8)
	for k, want := range ps {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			p, created, err := o.agent.Place(ctx, want.Instance, want.Host)
			if err != nil {
				cancel(err)
				return
			}
			out[k], ok[k] = placed{p, created}, true
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	var got []placed
	for k := range out {
		if ok[k] {
			got = append(got, out[k])
		}
	}
	return got, context.Cause(ctx)
}

// Spawn starts an instance, placing it first when it is placed nowhere (on
// host, else where the fleet chooses); one that lives on another host is
// spawned there, over its API.
func (o *Ops) Spawn(ctx context.Context, n names.Instance, host string) (supervisor.Info, error) {
	if err := o.checkHost(host); err != nil {
		return supervisor.Info{}, err
	}
	if o.local.ServiceConfig(n.Service) == nil {
		return supervisor.Info{}, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	own, ok := o.agent.Owner(n)
	if !ok {
		p, _, err := o.agent.Place(ctx, n, host)
		if err != nil {
			return supervisor.Info{}, err
		}
		own, _ = o.agent.Owner(n)
		own.Host, own.Local = p.Host, p.Host == o.self
	}
	if host != "" && own.Host != host {
		return supervisor.Info{}, fmt.Errorf("%w: %s lives on fleet host %s: ten move it to %s", errdefs.ErrConflict, n, own.Host, host)
	}
	if own.Local {
		info, err := o.local.Spawn(ctx, n)
		info.Host = o.self
		return info, err
	}
	c, err := o.peers.client(own.Host)
	if err != nil {
		return supervisor.Info{}, fmt.Errorf("spawn %s on %s: %w", n, own.Host, err)
	}
	r, err := c.SpawnOn(ctx, n, own.Host)
	if err != nil {
		return supervisor.Info{}, err
	}
	return supervisor.Info{Instance: n, Unit: r.Unit, State: r.State, Port: r.Port, Addr: r.Socket, Host: own.Host}, nil
}

// checkHost checks a named host ("" names none): it must be live.
func (o *Ops) checkHost(host string) error {
	if host == "" {
		return nil
	}
	if err := fleet.ValidName(host); err != nil {
		return fmt.Errorf("host: %w", err)
	}
	if !o.agent.Live(host) {
		return fmt.Errorf("%w: fleet host %q is not live", errdefs.ErrUnavailable, host)
	}
	return nil
}
