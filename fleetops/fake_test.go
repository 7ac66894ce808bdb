package fleetops

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// world is the fleet's shared state in etcd, as the fakes see it.
type world struct {
	mu      sync.Mutex
	places  map[names.Instance]string
	hosts   map[string]fleet.Host // live hosts
	tokens  map[string]store.Token
	domains map[string]names.Instance
	down    bool  // etcd unreachable
	moveErr error // the next Move fails with it
	// downAtFlip: the next Move happens, and etcd goes away before it
	// answers
	downAtFlip bool
}

func newWorld() *world {
	return &world{places: map[names.Instance]string{}, hosts: map[string]fleet.Host{}, tokens: map[string]store.Token{},
		domains: map[string]names.Instance{}}
}

func (w *world) owner(n names.Instance) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.places[n]
}

var errDown = fmt.Errorf("%w: fleet: etcd unreachable: no connection", errdefs.ErrUnavailable)

// fakeAgent is one host's agent over the world.
type fakeAgent struct {
	w    *world
	host string
}

func (a *fakeAgent) Host() string { return a.host }

func (a *fakeAgent) Owner(n names.Instance) (fleet.Owner, bool) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	h, ok := a.w.places[n]
	if !ok {
		return fleet.Owner{}, false
	}
	hh, live := a.w.hosts[h]
	return fleet.Owner{Host: h, Addr: hh.Addr, Live: live, Local: h == a.host}, true
}

func (a *fakeAgent) Placement(n names.Instance) (fleet.Placement, bool) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	h, ok := a.w.places[n]
	return fleet.Placement{Instance: n, Host: h}, ok
}

func (a *fakeAgent) Placements() []fleet.Placement {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	var out []fleet.Placement
	for n, h := range a.w.places {
		out = append(out, fleet.Placement{Instance: n, Host: h})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance.Less(out[j].Instance) })
	return out
}

func (a *fakeAgent) Hosts() []fleet.Host {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	var out []fleet.Host
	for _, h := range a.w.hosts {
		h.Placed = 0
		for _, o := range a.w.places {
			if o == h.Name {
				h.Placed++
			}
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (a *fakeAgent) Live(host string) bool {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	_, ok := a.w.hosts[host]
	return ok
}

func (a *fakeAgent) Place(_ context.Context, n names.Instance, host string) (fleet.Placement, bool, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return fleet.Placement{}, false, errDown
	}
	if h, ok := a.w.places[n]; ok {
		return fleet.Placement{Instance: n, Host: h}, false, nil
	}
	if host == "" { // the fewest placed, by name
		best, bestN := "", 1<<30
		for name := range a.w.hosts {
			c := 0
			for _, o := range a.w.places {
				if o == name {
					c++
				}
			}
			if c < bestN || c == bestN && name < best {
				best, bestN = name, c
			}
		}
		host = best
	}
	a.w.places[n] = host
	return fleet.Placement{Instance: n, Host: host}, true, nil
}

func (a *fakeAgent) Unplace(_ context.Context, n names.Instance) error {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return errDown
	}
	if _, ok := a.w.places[n]; !ok {
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, n)
	}
	delete(a.w.places, n)
	return nil
}

func (a *fakeAgent) Move(_ context.Context, n names.Instance, to string) (fleet.Placement, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if err := a.w.moveErr; err != nil {
		a.w.moveErr = nil
		return fleet.Placement{}, err
	}
	if a.w.downAtFlip {
		a.w.downAtFlip, a.w.down = false, true
		a.w.places[n] = to
		return fleet.Placement{}, errDown
	}
	if a.w.downAtFlip {
		a.w.downAtFlip, a.w.down = false, true
		a.w.places[n] = to
		return fleet.Placement{}, errDown
	}
	if a.w.down {
		return fleet.Placement{}, errDown
	}
	a.w.places[n] = to
	return fleet.Placement{Instance: n, Host: to}, nil
}

func (a *fakeAgent) LookupPlacement(_ context.Context, n names.Instance) (fleet.Placement, bool, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return fleet.Placement{}, false, errDown
	}
	h, ok := a.w.places[n]
	return fleet.Placement{Instance: n, Host: h}, ok, nil
}

func (a *fakeAgent) SetDraining(on bool) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	h := a.w.hosts[a.host]
	h.Draining = on
	a.w.hosts[a.host] = h
}

func (a *fakeAgent) PutToken(_ context.Context, t store.Token) error {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return errDown
	}
	a.w.tokens[t.ID] = t
	return nil
}

func (a *fakeAgent) DeleteToken(_ context.Context, id string) error {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return errDown
	}
	delete(a.w.tokens, id)
	return nil
}

func (a *fakeAgent) Token(id string) (store.Token, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if t, ok := a.w.tokens[id]; ok {
		return t, nil
	}
	return store.Token{}, fmt.Errorf("%w: token %s", errdefs.ErrNotFound, id)
}

func (a *fakeAgent) TokenByHash(hash string) (store.Token, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	for _, t := range a.w.tokens {
		if t.Hash == hash {
			return t, nil
		}
	}
	return store.Token{}, fmt.Errorf("%w: token", errdefs.ErrNotFound)
}

func (a *fakeAgent) Tokens() []store.Token {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	var out []store.Token
	for _, t := range a.w.tokens {
		out = append(out, t)
	}
	return out
}

func (a *fakeAgent) PutDomain(_ context.Context, d string, n names.Instance, move bool) (fleet.Binding, names.Instance, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return fleet.Binding{}, names.Instance{}, errDown
	}
	prev, ok := a.w.domains[d]
	if ok && prev != n && !move {
		return fleet.Binding{}, names.Instance{}, fmt.Errorf("%w: bound to %s", errdefs.ErrConflict, prev)
	}
	a.w.domains[d] = n
	return fleet.Binding{Domain: d, Instance: n}, prev, nil
}

func (a *fakeAgent) DeleteDomain(_ context.Context, d string) error {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.down {
		return errDown
	}
	if _, ok := a.w.domains[d]; !ok {
		return fmt.Errorf("%w: not bound", errdefs.ErrNotFound)
	}
	delete(a.w.domains, d)
	return nil
}

func (a *fakeAgent) DeleteDomainsOf(ctx context.Context, n names.Instance) (int, error) {
	count := 0
	for _, b := range a.Domains() {
		if b.Instance == n {
			if err := a.DeleteDomain(ctx, b.Domain); err != nil {
				return count, err
			}
			count++
		}
	}
	return count, nil
}

func (a *fakeAgent) Domains() []fleet.Binding {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	var out []fleet.Binding
	for d, n := range a.w.domains {
		out = append(out, fleet.Binding{Domain: d, Instance: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out
}

func (a *fakeAgent) PeerAt(netip.Addr) (string, bool) { return "", false }

func (a *fakeAgent) Synced(context.Context) error { return nil }

// fakeLocal is a host's supervisor: known instances, and what was done.
type fakeLocal struct {
	mu      sync.Mutex
	svc     *config.Service
	dataDir string
	known   map[names.Instance]bool
	fenced  map[names.Instance]bool
	log     []string
}

func newFakeLocal(t *testing.T) *fakeLocal {
	c, err := config.Parse("/t.toml", []byte("[service.notes]\ncommand = \"/bin/true\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeLocal{svc: c.Services["notes"], dataDir: t.TempDir(), known: map[names.Instance]bool{}, fenced: map[names.Instance]bool{}}
}

func (l *fakeLocal) did(format string, args ...any) {
	l.log = append(l.log, fmt.Sprintf(format, args...))
}

func (l *fakeLocal) took() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.log
	l.log = nil
	return out
}

func (l *fakeLocal) List(opts supervisor.ListOptions) ([]supervisor.Info, names.Instance) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []supervisor.Info
	for n := range l.known {
		if (opts.Service == "" || n.Service == opts.Service) && (opts.After.IsZero() || opts.After.Less(n)) &&
			(opts.Only == nil || opts.Only(n)) && (opts.State == "" || opts.State == supervisor.StateAsleep) {
			out = append(out, supervisor.Info{Instance: n, State: supervisor.StateAsleep})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance.Less(out[j].Instance) })
	if opts.Limit > 0 && len(out) > opts.Limit {
		out = out[:opts.Limit]
		return out, out[len(out)-1].Instance
	}
	return out, names.Instance{}
}

func (l *fakeLocal) Get(_ context.Context, n names.Instance) (supervisor.Info, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known[n] {
		return supervisor.Info{}, fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
	}
	return supervisor.Info{Instance: n, State: supervisor.StateAsleep}, nil
}

func (l *fakeLocal) Known(n names.Instance) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.known[n]
}

func (l *fakeLocal) ServiceConfig(s string) *config.Service {
	if s == "notes" {
		return l.svc
	}
	return nil
}

func (l *fakeLocal) Health(context.Context, names.Instance) (supervisor.Health, error) {
	return "", errdefs.ErrNotFound
}
func (l *fakeLocal) MeasureStorage(names.Instance) (int64, error) { return 0, errdefs.ErrNotFound }

func (l *fakeLocal) CreateMany(ns []names.Instance) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := 0
	for _, n := range ns {
		if !l.known[n] {
			l.known[n] = true
			l.did("create %s", n)
			c++
		}
	}
	return c, nil
}

func (l *fakeLocal) Spawn(_ context.Context, n names.Instance) (supervisor.Info, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.known[n] = true
	l.did("spawn %s", n)
	return supervisor.Info{Instance: n, State: supervisor.StateRunning}, nil
}

func (l *fakeLocal) Stop(_ context.Context, n names.Instance) error {
	if !l.Known(n) {
		return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
	}
	return nil
}

func (l *fakeLocal) Restart(context.Context, names.Instance) (supervisor.Info, error) {
	return supervisor.Info{}, errdefs.ErrNotFound
}

func (l *fakeLocal) Delete(_ context.Context, n names.Instance, purge bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known[n] {
		return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
	}
	delete(l.known, n)
	delete(l.fenced, n)
	l.did("delete %s purge=%v", n, purge)
	return nil
}

func (l *fakeLocal) RestartService(context.Context, string) ([]names.Instance, error) {
	return nil, nil
}
func (l *fakeLocal) KeepAwake(names.Instance, time.Time) error { return nil }
func (l *fakeLocal) SetWeight(names.Instance, int) error       { return nil }
func (l *fakeLocal) Deploy(context.Context, names.Instance, int, time.Duration) (supervisor.Info, error) {
	return supervisor.Info{}, nil
}
func (l *fakeLocal) Route(from, to names.Instance) error { return nil }

func (l *fakeLocal) Instances() []names.Instance {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []names.Instance
	for n := range l.known {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b names.Instance) int {
		if a.Less(b) {
			return -1
		}
		return 1
	})
	return out
}

func (l *fakeLocal) Awake(names.Instance) bool { return false }

func (l *fakeLocal) Fence(_ context.Context, n names.Instance) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known[n] {
		return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
	}
	l.fenced[n] = true
	l.did("fence %s", n)
	return nil
}

func (l *fakeLocal) Unfence(n names.Instance) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fenced, n)
	l.did("unfence %s", n)
}

func (l *fakeLocal) DataDir(n names.Instance) string {
	return l.dataDir + "/" + n.Service + "/" + n.ID
}

// fakeCreds keeps credentials in memory.
type fakeCreds struct {
	mu sync.Mutex
	m  map[names.Instance]map[string][]byte
}

func (c *fakeCreds) Own(n names.Instance) (map[string][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[n], nil
}

func (c *fakeCreds) Set(t apitype.CredentialTarget, name string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := names.Instance{Service: t.Service, ID: t.ID}
	if c.m[n] == nil {
		c.m[n] = map[string][]byte{}
	}
	c.m[n][name] = v
	return nil
}

func (c *fakeCreds) Forget(n names.Instance) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, n)
	return nil
}

// host is one host of a test fleet: its Ops over fakes.
type host struct {
	ops   *Ops
	local *fakeLocal
	creds *fakeCreds
}

func newHost(t *testing.T, w *world, name, addr string) *host {
	t.Helper()
	w.mu.Lock()
	w.hosts[name] = fleet.Host{Name: name, Addr: addr, Capacity: 100}
	w.mu.Unlock()
	h := &host{local: newFakeLocal(t), creds: &fakeCreds{m: map[names.Instance]map[string][]byte{}}}
	h.ops = New(Options{Agent: &fakeAgent{w: w, host: name}, Local: h.local, Credentials: h.creds, Secret: "s"})
	t.Cleanup(h.ops.Close)
	return h
}

func inst(t *testing.T, s string) names.Instance {
	t.Helper()
	n, err := names.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
