package fleet

import (
	"context"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// livenessLoop keeps this host's key under a lease: grant, put, keep
// alive, and update the key when the host's load changes. When the lease
// is lost (etcd unreachable for longer than the TTL, or expired), it
// registers again as soon as etcd answers. On Close it revokes the lease,
// so the key disappears at once rather than after the TTL.
func (a *Agent) livenessLoop() {
	started := time.Now().UTC().Truncate(time.Second)
	for {
		var id clientv3.LeaseID
		var v hostValue
		if !a.retry("cannot register this host in the fleet; retrying", "registered this host in the fleet again", func() (err error) {
			id, v, err = a.register(started)
			return err
		}) {
			return
		}
		a.keep(id, v)
	}
}

// register grants a lease and puts this host's key under it.
func (a *Agent) register(started time.Time) (clientv3.LeaseID, hostValue, error) {
	ctx, cancel := context.WithTimeout(a.life, a.opts.WriteTimeout)
	defer cancel()
	g, err := a.cli.Grant(ctx, int64(a.opts.TTL/time.Second))
	if err != nil {
		return 0, hostValue{}, err
	}
	v := a.hostValue(started)
	if _, err := a.cli.Put(ctx, a.lay.host(a.opts.Host), encode(v), clientv3.WithLease(g.ID)); err != nil {
		return 0, hostValue{}, err // the lease expires unused
	}
	return g.ID, v, nil
}

// keep renews the lease until it is lost or the agent closes, and
// rewrites the key when the load it reports changes.
func (a *Agent) keep(id clientv3.LeaseID, last hostValue) {
	ctx, cancel := context.WithCancel(a.life)
	defer cancel()
	ka, err := a.cli.KeepAlive(ctx, id)
	if err != nil {
		return
	}
	tick := time.NewTicker(time.Second) // Awake is polled, not pushed
	defer tick.Stop()
	for {
		select {
		case _, ok := <-ka:
			if ok {
				continue
			}
			if a.life.Err() != nil {
				a.revoke(id)
			} else {
				a.log.Warn("lost this host's lease in the fleet; registering again")
			}
			return
		case <-a.kickLoad:
		case <-tick.C:
		case <-a.life.Done():
			a.revoke(id)
			return
		}
		if v := a.hostValue(last.Started); v != last {
			pctx, pcancel := context.WithTimeout(ctx, a.opts.WriteTimeout)
			_, err := a.cli.Put(pctx, a.lay.host(a.opts.Host), encode(v), clientv3.WithLease(id))
			pcancel()
			if err == nil {
				last = v
			}
		}
	}
}

// revoke ends the lease now (best effort: it expires by itself anyway).
func (a *Agent) revoke(id clientv3.LeaseID) {
	if a.crashed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := a.cli.Revoke(ctx, id); err != nil {
		a.log.Debug("revoke lease", "err", oneLine(err))
	}
}

// hostValue is what this host's key says now.
func (a *Agent) hostValue(started time.Time) hostValue {
	v := hostValue{Addr: a.opts.Addr, Capacity: a.opts.Capacity, Started: started, Draining: a.draining.Load()}
	a.cache.mu.RLock()
	v.Placed = a.cache.perHost[a.opts.Host]
	a.cache.mu.RUnlock()
	if a.opts.Awake != nil {
		v.Awake = a.opts.Awake()
	}
	return v
}

// Hosts returns the live hosts (those whose key exists: their lease is
// renewed), ordered by name, from the cache.
func (a *Agent) Hosts() []Host {
	a.cache.mu.RLock()
	out := make([]Host, 0, len(a.cache.hosts))
	for _, h := range a.cache.hosts {
		h.Placed = a.cache.perHost[h.Name]
		out = append(out, h)
	}
	a.cache.mu.RUnlock()
	slices.SortFunc(out, func(x, y Host) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// SetDraining marks this host as being drained (or not): its key says
// so, and no host places an instance here unless it names this one. The
// mark lasts until it is cleared or the agent closes.
func (a *Agent) SetDraining(on bool) {
	if a.draining.Swap(on) == on {
		return
	}
	select {
	case a.kickLoad <- struct{}{}:
	default:
	}
}

// Live reports whether host's key exists (in the cache).
func (a *Agent) Live(host string) bool {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	_, ok := a.cache.hosts[host]
	return ok
}
