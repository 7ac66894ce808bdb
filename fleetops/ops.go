package fleetops

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// Agent is what the operations need of the etcd agent; *fleet.Agent has
// it.
type Agent interface {
	Host() string
	Owner(n names.Instance) (fleet.Owner, bool)
	Placement(n names.Instance) (fleet.Placement, bool)
	Placements() []fleet.Placement
	Hosts() []fleet.Host
	Live(host string) bool
	Place(ctx context.Context, n names.Instance, host string) (fleet.Placement, bool, error)
	Unplace(ctx context.Context, n names.Instance) error
	Move(ctx context.Context, n names.Instance, to string) (fleet.Placement, error)
	LookupPlacement(ctx context.Context, n names.Instance) (fleet.Placement, bool, error)
	SetDraining(on bool)
	PutToken(ctx context.Context, t store.Token) error
	DeleteToken(ctx context.Context, id string) error
	Token(id string) (store.Token, error)
	TokenByHash(hash string) (store.Token, error)
	Tokens() []store.Token
	PutDomain(ctx context.Context, domain string, n names.Instance, move bool) (fleet.Binding, names.Instance, error)
	DeleteDomain(ctx context.Context, domain string) error
	DeleteDomainsOf(ctx context.Context, n names.Instance) (int, error)
	Domains() []fleet.Binding
	PeerAt(ip netip.Addr) (host string, ok bool)
	Synced(ctx context.Context) error
}

var _ Agent = (*fleet.Agent)(nil)

// Local is what the operations need of this host's supervisor:
// everything the API asks, and the fleet's hooks (supervisor/fleet.go).
type Local interface {
	api.Instances
	Instances() []names.Instance
	Awake(n names.Instance) bool
	Fence(ctx context.Context, n names.Instance) error
	Unfence(n names.Instance)
	DataDir(n names.Instance) string
}

// Credentials is an instance's own secrets on this host;
// credentials.Dir has it.
type Credentials interface {
	Own(n names.Instance) (map[string][]byte, error)
	Set(t apitype.CredentialTarget, name string, value []byte) error
	Forget(n names.Instance) error
}

// Options configure Ops.
type Options struct {
	Agent       Agent
	Local       Local
	Credentials Credentials
	// Secret is the fleet's shared secret; LocalAddr this host's
	// advertised IP, the source of its calls to peers.
	Secret    string
	LocalAddr netip.Addr
	Log       *slog.Logger
}

// Ops is this host's part of the fleet's operations.
type Ops struct {
	agent Agent
	local Local
	creds Credentials
	self  string
	log   *slog.Logger
	peers *peers

	busy busySet
	// ready is closed once the supervisor has loaded and adopted its
	// instances: the sync waits for it.
	ready     chan struct{}
	readyOnce sync.Once
	life      context.Context
	end       context.CancelFunc
	wg        sync.WaitGroup
}

// New returns the operations of this host. Call Ready once the supervisor
// runs, and Close at shutdown.
func New(o Options) *Ops {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ops := &Ops{agent: o.Agent, local: o.Local, creds: o.Credentials, self: o.Agent.Host(),
		log: o.Log.With("component", "fleet"), ready: make(chan struct{}), busy: busySet{m: map[names.Instance]int{}}}
	ops.life, ops.end = context.WithCancel(context.Background())
	ops.peers = newPeers(o.Agent, ops.self, o.Secret, o.LocalAddr)
	return ops
}

// Ready lets the sync change the supervisor, and claims the instances this
// host knows that are placed nowhere.
func (o *Ops) Ready() {
	o.readyOnce.Do(func() {
		close(o.ready)
		o.wg.Go(o.claimLoop)
	})
}

// Close ends the background work (claims, undecided moves) and waits for
// it.
func (o *Ops) Close() {
	o.end()
	o.wg.Wait()
}

// waitReady waits until Ready, or the end; it reports whether Ready came.
func (o *Ops) waitReady() bool {
	select {
	case <-o.ready:
		return true
	case <-o.life.Done():
		return false
	}
}

// busySet counts the operations of this host (a delete, a move, a data
// import) under way on each instance: the sync leaves those alone.
type busySet struct {
	mu sync.Mutex
	m  map[names.Instance]int
}

func (b *busySet) add(n names.Instance) func() {
	b.mu.Lock()
	b.m[n]++
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		if b.m[n]--; b.m[n] <= 0 {
			delete(b.m, n)
		}
		b.mu.Unlock()
	}
}

func (b *busySet) has(n names.Instance) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[n] > 0
}

// peerTransport is the transport of the calls to peers: from this host's
// advertised IP (which the peer recognises), without a proxy.
func peerTransport(local netip.Addr) *http.Transport {
	d := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	if local.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
	}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
