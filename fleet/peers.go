package fleet

import (
	"context"
	"net/netip"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/names"
)

// PeerAt returns the name of the live host whose advertised address has
// the IP ip, from the cache. The proxy asks it for a request that says it
// was forwarded by a peer: only a live host's address may say so.
func (a *Agent) PeerAt(ip netip.Addr) (host string, ok bool) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	host, ok = a.cache.byIP[ip.Unmap()]
	return host, ok
}

// LookupPlacement reads n's placement from etcd itself, not from the
// cache: what a caller needs when a write's outcome is unknown (etcd did
// not answer) and the cache may lag. ok is false when n is placed
// nowhere. The error is of kind errdefs.ErrUnavailable while etcd is
// unreachable.
func (a *Agent) LookupPlacement(ctx context.Context, n names.Instance) (p Placement, ok bool, err error) {
	key := a.lay.placement(n)
	var resp *clientv3.TxnResponse
	if err := a.write(ctx, "read placement of "+n.String(), func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).Then(clientv3.OpGet(key)).Commit()
		return err
	}); err != nil {
		return Placement{}, false, err
	}
	p, err = a.current(n, resp)
	if err != nil {
		return Placement{}, false, nil // placed nowhere (current applied it)
	}
	return p, true, nil
}
