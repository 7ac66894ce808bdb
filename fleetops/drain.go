package fleetops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
)

// drainAtOnce is how many instances a drain moves at a time.
const drainAtOnce = 2

// Drain moves every instance off host (asking host to, when it is not this
// one): it marks the host draining, so that nothing new is placed there,
// and moves its instances, drainAtOnce at a time, each to the live host
// with the most free room. An instance that cannot move stays, and is
// listed as failed. The host stays marked until its daemon restarts.
func (o *Ops) Drain(ctx context.Context, host string) (apitype.DrainResponse, error) {
	resp := apitype.DrainResponse{Host: host, Moved: []apitype.MoveResponse{}, Failed: []apitype.DrainFailure{}}
	if err := fleet.ValidName(host); err != nil {
		return resp, fmt.Errorf("drain: %w", err)
	}
	if host != o.self {
		if !o.agent.Live(host) {
			return resp, fmt.Errorf("%w: drain: fleet host %q is not live (its data is there)", errdefs.ErrUnavailable, host)
		}
		c, err := o.peers.client(host)
		if err != nil {
			return resp, err
		}
		return c.Drain(ctx, host)
	}
	o.agent.SetDraining(true)
	var mine []names.Instance
	for _, p := range o.agent.Placements() {
		if p.Host == o.self {
			mine = append(mine, p.Instance)
		}
	}
	t := newTargets(o.agent.Hosts(), o.self)
	var mu sync.Mutex
	sem := make(chan struct{}, drainAtOnce)
	var wg sync.WaitGroup
	for _, n := range mine {
		if ctx.Err() != nil {
			break
		}
		to, err := t.pick()
		if err != nil {
			resp.Failed = append(resp.Failed, apitype.DrainFailure{Instance: n.String(), Error: err.Error()})
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m, err := o.moveFromHere(ctx, n, to)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.unpick(to)
				resp.Failed = append(resp.Failed, apitype.DrainFailure{Instance: n.String(), Error: err.Error()})
				return
			}
			resp.Moved = append(resp.Moved, m)
		})
	}
	wg.Wait()
	slices.SortFunc(resp.Moved, func(a, b apitype.MoveResponse) int { return strings.Compare(a.Instance, b.Instance) })
	slices.SortFunc(resp.Failed, func(a, b apitype.DrainFailure) int { return strings.Compare(a.Instance, b.Instance) })
	return resp, ctx.Err()
}

// targets picks where a drain moves each instance: the live host, not
// draining and not the drained one, with the most free room, counting
// what the drain has sent there already.
type targets struct {
	mu    sync.Mutex
	hosts []fleet.Host
}

func newTargets(hosts []fleet.Host, drained string) *targets {
	t := &targets{}
	for _, h := range hosts {
		if h.Name != drained && !h.Draining {
			t.hosts = append(t.hosts, h)
		}
	}
	return t
}

func (t *targets) pick() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	best := -1
	for i, h := range t.hosts {
		if h.Free() > 0 && (best < 0 || h.Free() > t.hosts[best].Free()) {
			best = i
		}
	}
	if best < 0 {
		return "", fmt.Errorf("%w: no other live host has free capacity", errdefs.ErrUnavailable)
	}
	t.hosts[best].Placed++
	return t.hosts[best].Name, nil
}

func (t *targets) unpick(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.hosts {
		if t.hosts[i].Name == name {
			t.hosts[i].Placed--
		}
	}
}
