package fleet

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchLoop keeps the cache: a full read of the cluster's keys, then one
// watch from the revision after it. The client resumes the watch by
// itself across reconnects (from the last revision it delivered); when
// the watch ends anyway (the revision was compacted, the member lost its
// leader), the loop reads everything again. While etcd is unreachable the
// cache keeps what it has: reads go on answering.
func (a *Agent) watchLoop() {
	for {
		var rev int64
		if !a.retry("cannot read the fleet from etcd; serving from the cache, retrying", "read the fleet from etcd again", func() (err error) {
			rev, err = a.load()
			return err
		}) {
			return
		}
		a.syncedOnce.Do(func() { close(a.synced) })
		if err := a.follow(rev + 1); err != nil && a.life.Err() == nil {
			a.log.Info("fleet watch ended; reading everything again", "err", oneLine(err))
		}
	}
}

// load replaces the cache with every key of the cluster and returns the
// revision it read at.
func (a *Agent) load() (int64, error) {
	ctx, cancel := context.WithTimeout(a.life, 2*a.opts.WriteTimeout)
	defer cancel()
	resp, err := a.cli.Get(ctx, a.lay.root, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	kvs := make([]kv, 0, len(resp.Kvs))
	for _, e := range resp.Kvs {
		kvs = append(kvs, kv{key: string(e.Key), value: e.Value, rev: e.ModRevision})
	}
	a.loads.Add(1)
	a.changed(a.cache.replace(kvs))
	return resp.Header.Revision, nil
}

var errWatchClosed = errors.New("watch channel closed")

// follow applies the watch's events from rev on until the watch ends.
func (a *Agent) follow(rev int64) error {
	ctx, cancel := context.WithCancel(a.life)
	defer cancel()
	wch := a.cli.Watch(clientv3.WithRequireLeader(ctx), a.lay.root, clientv3.WithPrefix(), clientv3.WithRev(rev))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.Canceled {
			return errWatchClosed
		}
		kvs := make([]kv, 0, len(resp.Events))
		for _, ev := range resp.Events {
			kvs = append(kvs, kv{key: string(ev.Kv.Key), value: ev.Kv.Value, rev: ev.Kv.ModRevision,
				deleted: ev.Type == mvccpb.DELETE})
		}
		a.changed(a.cache.apply(kvs...))
		if n := len(resp.Events); n > 0 {
			a.cache.forget(resp.Events[n-1].Kv.ModRevision)
		}
	}
	return errWatchClosed
}
