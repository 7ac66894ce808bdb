package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Owner is what the proxy needs to know of an instance it does not have.
type Owner struct {
	// Host owns the instance.
	Host string
	// Addr is where the host's listener is, when the host is live.
	Addr string
	// Live says the host's key exists (its lease is renewed). A request
	// for an instance whose owner is not live gets 503 and Retry-After.
	Live bool
	// Local says the owner is this host.
	Local bool
}

// Owner returns who owns n, from the cache: no call to etcd, so the proxy
// may ask for every request. ok is false when n is placed nowhere.
func (a *Agent) Owner(n names.Instance) (o Owner, ok bool) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	p, ok := a.cache.places[n]
	if !ok {
		return Owner{}, false
	}
	h, live := a.cache.hosts[p.Host]
	return Owner{Host: p.Host, Addr: h.Addr, Live: live, Local: p.Host == a.opts.Host}, true
}

// Placement returns n's placement, from the cache.
func (a *Agent) Placement(n names.Instance) (Placement, bool) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	p, ok := a.cache.places[n]
	return p, ok
}

// Placements returns every placement, ordered by instance, from the cache.
func (a *Agent) Placements() []Placement {
	a.cache.mu.RLock()
	out := make([]Placement, 0, len(a.cache.places))
	for _, p := range a.cache.places {
		out = append(out, p)
	}
	a.cache.mu.RUnlock()
	slices.SortFunc(out, func(x, y Placement) int {
		if x.Instance.Less(y.Instance) {
			return -1
		}
		return 1
	})
	return out
}

// Place gives n an owner, in one etcd transaction that creates the
// placement only if it does not exist: however many hosts place the same
// instance at once, exactly one placement wins, and every caller gets it
// back (created reports whether it was this call's). host names the owner;
// "" picks the live host with the most free capacity. A named host must be
// live; it may be over its capacity (the operator's choice).
func (a *Agent) Place(ctx context.Context, n names.Instance, host string) (p Placement, created bool, err error) {
	op := "place " + n.String()
	if n.IsZero() {
		return Placement{}, false, fmt.Errorf("%w: fleet: place: no instance", errdefs.ErrInvalid)
	}
	if host == "" {
		if host, err = a.choose(); err != nil {
			if p, ok := a.placed(ctx, op, n); ok { // no room, but placed already
				return p, false, nil
			}
			return Placement{}, false, fmt.Errorf("fleet: %s: %w", op, err)
		}
	} else if !a.Live(host) {
		return Placement{}, false, fmt.Errorf("%w: fleet: %s: host %q is not live", errdefs.ErrUnavailable, op, host)
	}
	key := a.lay.placement(n)
	val := placementValue{Host: host, Since: time.Now().UTC()}
	var resp *clientv3.TxnResponse
	err = a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, encode(val))).Else(clientv3.OpGet(key)).Commit()
		return err
	})
	if err != nil {
		return Placement{}, false, err
	}
	if resp.Succeeded {
		rev := resp.Header.Revision
		a.changed(a.cache.apply(kv{key: key, value: []byte(encode(val)), rev: rev}))
		return Placement{Instance: n, Host: host, Since: val.Since, Revision: rev}, true, nil
	}
	p, err = a.current(n, resp)
	if err != nil {
		return Placement{}, false, fmt.Errorf("fleet: %s: %w", op, err)
	}
	return p, false, nil
}

// placed reads n's placement from etcd, for a Place that found no room.
func (a *Agent) placed(ctx context.Context, op string, n names.Instance) (Placement, bool) {
	if _, ok := a.Placement(n); !ok {
		return Placement{}, false
	}
	key := a.lay.placement(n)
	var resp *clientv3.TxnResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).Then(clientv3.OpGet(key)).Commit()
		return err
	}); err != nil {
		return Placement{}, false
	}
	p, err := a.current(n, resp)
	return p, err == nil
}

// current decodes the placement a transaction read (its first response),
// and applies it to the cache.
func (a *Agent) current(n names.Instance, resp *clientv3.TxnResponse) (Placement, error) {
	key := a.lay.placement(n)
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		a.deleted(key, resp.Header.Revision, 0)
		return Placement{}, fmt.Errorf("%w: %s is placed nowhere", errdefs.ErrNotFound, n)
	}
	e := kvs[0]
	a.changed(a.cache.apply(kv{key: key, value: e.Value, rev: e.ModRevision}))
	var v placementValue
	if err := json.Unmarshal(e.Value, &v); err != nil {
		return Placement{}, fmt.Errorf("placement of %s: %w", n, err)
	}
	return Placement{Instance: n, Host: v.Host, Since: v.Since, Revision: e.ModRevision}, nil
}

// choose returns the live host with the most free capacity (a random one
// of those with as much, so that hosts placing at the same moment spread).
func (a *Agent) choose() (string, error) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	var best []string
	bestFree := 0
	for name, h := range a.cache.hosts {
		free := h.Capacity - a.cache.perHost[name]
		switch {
		case h.Draining || free <= 0 || free < bestFree:
		case free > bestFree:
			best, bestFree = append(best[:0], name), free
		default:
			best = append(best, name)
		}
	}
	if len(best) == 0 {
		return "", fmt.Errorf("%w: no live host has free capacity (%d live)", errdefs.ErrUnavailable, len(a.cache.hosts))
	}
	return best[rand.IntN(len(best))], nil
}

// Unplace removes n's placement: its owner forgets it (see Consumer).
// ErrNotFound when n is placed nowhere.
func (a *Agent) Unplace(ctx context.Context, n names.Instance) error {
	return a.deleteKey(ctx, "unplace "+n.String(), a.lay.placement(n), ": placed nowhere")
}

// Move makes to the owner of n, in one transaction that succeeds only if
// the placement is still the one in the cache (ErrConflict otherwise:
// someone else moved or removed it). to must be live. Moving the data and
// stopping the instance on its old owner first are the caller's part.
func (a *Agent) Move(ctx context.Context, n names.Instance, to string) (Placement, error) {
	op := fmt.Sprintf("move %s to %s", n, to)
	cur, ok := a.Placement(n)
	switch {
	case !ok:
		return Placement{}, fmt.Errorf("%w: fleet: %s: placed nowhere", errdefs.ErrNotFound, op)
	case cur.Host == to:
		return cur, nil
	case !a.Live(to):
		return Placement{}, fmt.Errorf("%w: fleet: %s: host %q is not live", errdefs.ErrUnavailable, op, to)
	}
	key := a.lay.placement(n)
	val := placementValue{Host: to, Since: time.Now().UTC()}
	var resp *clientv3.TxnResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.Revision)).
			Then(clientv3.OpPut(key, encode(val))).Else(clientv3.OpGet(key)).Commit()
		return err
	}); err != nil {
		return Placement{}, err
	}
	if !resp.Succeeded {
		now, err := a.current(n, resp)
		if err != nil {
			return Placement{}, fmt.Errorf("fleet: %s: %w", op, err) // removed meanwhile
		}
		return Placement{}, fmt.Errorf("%w: fleet: %s: the placement changed meanwhile (now on %s)", errdefs.ErrConflict, op, now.Host)
	}
	rev := resp.Header.Revision
	a.changed(a.cache.apply(kv{key: key, value: []byte(encode(val)), rev: rev}))
	return Placement{Instance: n, Host: to, Since: val.Since, Revision: rev}, nil
}
