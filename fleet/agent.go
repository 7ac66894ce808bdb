package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/tenement/tenement/errdefs"
)

// Defaults of Options.
const (
	DefaultCluster        = "default"
	DefaultTTL            = 10 * time.Second
	DefaultWriteTimeout   = 2 * time.Second
	DefaultDialTimeout    = 2 * time.Second
	DefaultReconcileEvery = time.Minute
)

// Options configure an Agent.
type Options struct {
	// Endpoints are etcd's client URLs. Required.
	Endpoints []string
	// TLS is the client TLS for the endpoints. Default: none (plain).
	TLS *tls.Config
	// Cluster names the fleet: its keys live under /tenement/<cluster>/.
	// Default "default".
	Cluster string
	// Host is this host's name in the fleet. Required.
	Host string
	// Addr is where peers reach this host's HTTP listener, host:port.
	// Required.
	Addr string
	// Capacity is how many instances may be placed on this host. Required.
	Capacity int
	// TTL is the lease of this host's key: the key disappears this long
	// after the agent stops renewing it. Default 10s.
	TTL time.Duration
	// WriteTimeout bounds every write; a write etcd does not answer in time
	// fails with errdefs.ErrUnavailable. Default 2s.
	WriteTimeout time.Duration
	// DialTimeout bounds connecting to an endpoint. Default 2s.
	DialTimeout time.Duration
	// Awake, if set, reports how many local instances are awake, for the
	// host's key. Default: not reported.
	Awake func() int
	// Consumer, if set, is kept in step with the placements of this host
	// (see Consumer). Default: none.
	Consumer Consumer
	// OnDomains, if set, is called (from one goroutine of the agent's,
	// never two at once) after the custom domains changed, by this agent
	// or any other, and after the first full view of the fleet. Changes
	// that come while it runs make one more call. Default: none.
	OnDomains func()
	// ReconcileEvery is how often the Consumer is compared with the
	// placements in full, besides on every change. Default 1m.
	ReconcileEvery time.Duration
	// Log receives the agent's logs. Default: discarded.
	Log *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Cluster == "" {
		o.Cluster = DefaultCluster
	}
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&o.TTL, DefaultTTL}, {&o.WriteTimeout, DefaultWriteTimeout}, {&o.DialTimeout, DefaultDialTimeout},
		{&o.ReconcileEvery, DefaultReconcileEvery}} {
		if *d.p <= 0 {
			*d.p = d.def
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	var errs []error
	if len(o.Endpoints) == 0 {
		errs = append(errs, errors.New("no etcd endpoints"))
	}
	if err := ValidName(o.Cluster); err != nil {
		errs = append(errs, fmt.Errorf("cluster: %w", err))
	}
	if err := ValidName(o.Host); err != nil {
		errs = append(errs, fmt.Errorf("host: %w", err))
	}
	if _, port, err := net.SplitHostPort(o.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", o.Addr))
	} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("addr %q: bad port", o.Addr))
	}
	if o.Capacity <= 0 {
		errs = append(errs, fmt.Errorf("capacity %d: want at least 1", o.Capacity))
	}
	if o.TTL < 2*time.Second {
		errs = append(errs, fmt.Errorf("ttl %v: want at least 2s (etcd leases count whole seconds)", o.TTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: fleet: %w", errdefs.ErrInvalid, err)
	}
	return nil
}

// Agent is one host's member of the fleet. Its reads answer from a cache
// kept by a watch and never wait for etcd; its writes go to etcd. Its
// methods are safe for concurrent use.
type Agent struct {
	opts  Options
	log   *slog.Logger
	cli   *clientv3.Client
	lay   layout
	cache *cache

	life    context.Context // ends with Close
	endLife context.CancelFunc
	wg      sync.WaitGroup

	synced     chan struct{} // closed when the cache first holds a full snapshot
	syncedOnce sync.Once
	loads      atomic.Int64 // full reads of etcd (resyncs) so far
	// Level-triggered kicks (1-buffered): the placements changed; the
	// domains changed.
	kickLoad, kickSync, kickDomains chan struct{}
	closeOnce                       sync.Once
	// crashed (tests) makes Close leave the lease to expire, as when the
	// host dies.
	crashed atomic.Bool
	// draining is reported in the host's key (SetDraining).
	draining atomic.Bool
}

// New validates opts, connects to etcd (without waiting for it) and starts
// the agent: its liveness key, its watch, and the Consumer's sync. It
// returns at once; Synced waits for the first full view of the fleet.
func New(opts Options) (*Agent, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   opts.Endpoints,
		TLS:         opts.TLS,
		DialTimeout: opts.DialTimeout,
		Logger:      zap.NewNop(),
		// Notice a silent connection (a network split, not a refusal)
		// in seconds, not minutes; gRPC allows no less than 10s.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: fleet: etcd client: %w", errdefs.ErrInvalid, err)
	}
	log := opts.Log.With("component", "fleet", "host", opts.Host)
	a := &Agent{
		opts: opts, log: log, cli: cli, lay: newLayout(opts.Cluster),
		synced: make(chan struct{}), kickLoad: make(chan struct{}, 1), kickSync: make(chan struct{}, 1),
		kickDomains: make(chan struct{}, 1),
	}
	a.cache = newCache(a.lay, log)
	a.life, a.endLife = context.WithCancel(context.Background())
	a.wg.Go(a.livenessLoop)
	a.wg.Go(a.watchLoop)
	if opts.Consumer != nil {
		a.wg.Go(a.syncLoop)
	}
	if opts.OnDomains != nil {
		a.wg.Go(a.domainsLoop)
	}
	return a, nil
}

// Close revokes this host's lease (its key disappears at once), stops the
// agent's goroutines and closes the connection.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.endLife()
		a.wg.Wait()
	})
	return a.cli.Close()
}

// Host returns this host's name.
func (a *Agent) Host() string { return a.opts.Host }

// Synced waits until the cache holds a full snapshot of the fleet (once
// after New; later outages keep the last one).
func (a *Agent) Synced(ctx context.Context) error {
	select {
	case <-a.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: fleet: waiting for the first view of the fleet: %w", errdefs.ErrUnavailable, ctx.Err())
	}
}

// changed signals the loops that follow the placements and the domains.
func (a *Agent) changed(ch changes) {
	if ch&changedDomains != 0 {
		kick(a.kickDomains)
	}
	if ch&changedPlacements == 0 {
		return
	}
	for _, k := range []chan struct{}{a.kickLoad, a.kickSync} {
		kick(k)
	}
}

// kick signals a 1-buffered channel without waiting.
func kick(k chan struct{}) {
	select {
	case k <- struct{}{}:
	default:
	}
}

// domainsLoop calls OnDomains once the fleet is in view, then after every
// change of the domains.
func (a *Agent) domainsLoop() {
	select {
	case <-a.synced:
	case <-a.life.Done():
		return
	}
	for {
		a.opts.OnDomains()
		select {
		case <-a.kickDomains:
		case <-a.life.Done():
			return
		}
	}
}

// deleted applies a deletion this agent wrote (n keys deleted) or found
// (n = 0: the key was gone) at rev. A deletion that was an event leaves a
// mark until the watch delivers it; one that found nothing leaves a mark
// only to correct a stale value (the watch prunes it with its next event).
func (a *Agent) deleted(key string, rev, n int64) {
	if n > 0 || a.cache.holds(key) {
		a.changed(a.cache.apply(kv{key: key, rev: rev, deleted: true}))
	}
}

// deleteKey deletes key for op and applies the deletion to the cache;
// ErrNotFound, with missing after op, when there was no such key.
func (a *Agent) deleteKey(ctx context.Context, op, key, missing string) error {
	var resp *clientv3.DeleteResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Delete(ctx, key)
		return err
	}); err != nil {
		return err
	}
	a.deleted(key, resp.Header.Revision, resp.Deleted)
	if resp.Deleted == 0 {
		return fmt.Errorf("%w: fleet: %s%s", errdefs.ErrNotFound, op, missing)
	}
	return nil
}

// sleep waits d or until the agent closes; it reports whether to go on.
func (a *Agent) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.life.Done():
		return false
	}
}

// backoff doubles d up to limit.
func backoff(d, limit time.Duration) time.Duration { return min(2*d, limit) }

// retry calls f until it succeeds, waiting after each failure twice as
// long as after the one before (100 ms to 2 s); false when the agent
// closes first. The first failure of a run is logged (failed, as a
// warning) and so is the success that ends it (back).
func (a *Agent) retry(failed, back string, f func() error) bool {
	wait, down := 100*time.Millisecond, false
	for a.life.Err() == nil {
		err := f()
		if err == nil {
			if down {
				a.log.Info(back)
			}
			return true
		}
		if !down && a.life.Err() == nil {
			a.log.Warn(failed, "err", oneLine(err))
			down = true
		}
		if !a.sleep(wait) {
			return false
		}
		wait = backoff(wait, 2*time.Second)
	}
	return false
}
