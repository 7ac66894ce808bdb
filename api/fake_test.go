package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/journal"
	"github.com/tenement/tenement/metrics"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// The fakes of the handlers' dependencies: small, deterministic, and each
// records the changes it was asked for, so that a test can tell that a
// refused request changed nothing.

// changeLog records what the fakes were asked to change, in order.
type changeLog struct {
	mu  sync.Mutex
	got []string
}

func (c *changeLog) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, fmt.Sprintf(format, args...))
}

// take returns the changes recorded since the last take.
func (c *changeLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// fixedTime is every fake's clock.
var fixedTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeInstances is the supervisor: the service notes, with the running
// instances it is made with, on ports 21001, 21002, ... in that order.
type fakeInstances struct {
	*changeLog
	insts []supervisor.Info // ordered by name
}

var _ Instances = (*fakeInstances)(nil)

func newFakeInstances(c *changeLog, running ...string) *fakeInstances {
	f := &fakeInstances{changeLog: c}
	for i, s := range running {
		n, err := names.Parse(s)
		if err != nil {
			panic(err)
		}
		f.insts = append(f.insts, fakeInfo(n, 21001+i))
	}
	slices.SortFunc(f.insts, func(a, b supervisor.Info) int { return strings.Compare(a.Instance.String(), b.Instance.String()) })
	return f
}

func fakeInfo(n names.Instance, port int) supervisor.Info {
	return supervisor.Info{Instance: n, Unit: n.Unit(), State: supervisor.StateRunning, Health: supervisor.HealthHealthy,
		Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), Weight: 100, DataDir: "/var/lib/tenement/" + n.Service + "/" + n.ID,
		Isolation: "process", Activation: "proxy"}
}

func (f *fakeInstances) find(n names.Instance) (supervisor.Info, error) {
	for _, i := range f.insts {
		if i.Instance == n {
			return i, nil
		}
	}
	if f.ServiceConfig(n.Service) == nil {
		return supervisor.Info{}, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	return supervisor.Info{}, fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
}

func (f *fakeInstances) List(o supervisor.ListOptions) ([]supervisor.Info, names.Instance) {
	var out []supervisor.Info
	for _, i := range f.insts {
		n := i.Instance
		if (o.Service != "" && n.Service != o.Service) || (o.State != "" && i.State != o.State) ||
			(o.Only != nil && !o.Only(n)) || (!o.After.IsZero() && !o.After.Less(n)) {
			continue
		}
		if o.Limit > 0 && len(out) == o.Limit {
			return out, out[len(out)-1].Instance
		}
		out = append(out, i)
	}
	return out, names.Instance{}
}

func (f *fakeInstances) Get(_ context.Context, n names.Instance) (supervisor.Info, error) {
	return f.find(n)
}

func (f *fakeInstances) Known(n names.Instance) bool {
	_, err := f.find(n)
	return err == nil
}

func (f *fakeInstances) ServiceConfig(service string) *config.Service {
	if service == "notes" {
		return &config.Service{}
	}
	return nil
}

func (f *fakeInstances) Health(_ context.Context, n names.Instance) (supervisor.Health, error) {
	i, err := f.find(n)
	return i.Health, err
}

func (f *fakeInstances) MeasureStorage(n names.Instance) (int64, error) {
	_, err := f.find(n)
	return 4096, err
}

func (f *fakeInstances) CreateMany(ns []names.Instance) (int, error) {
	created := 0
	for _, n := range ns {
		if f.ServiceConfig(n.Service) == nil {
			return 0, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
		}
		if !f.Known(n) {
			created++
		}
	}
	f.add("create %v", ns)
	return created, nil
}

// change records a change to a known instance.
func (f *fakeInstances) change(what string, n names.Instance) (supervisor.Info, error) {
	i, err := f.find(n)
	if err == nil {
		f.add("%s %s", what, n)
	}
	return i, err
}

func (f *fakeInstances) Spawn(_ context.Context, n names.Instance) (supervisor.Info, error) {
	return f.change("spawn", n)
}

func (f *fakeInstances) Stop(_ context.Context, n names.Instance) error {
	_, err := f.change("stop", n)
	return err
}

func (f *fakeInstances) Restart(_ context.Context, n names.Instance) (supervisor.Info, error) {
	return f.change("restart", n)
}

func (f *fakeInstances) Delete(_ context.Context, n names.Instance, purge bool) error {
	_, err := f.change(fmt.Sprintf("delete(purge=%v)", purge), n)
	return err
}

func (f *fakeInstances) RestartService(_ context.Context, service string) ([]names.Instance, error) {
	var out []names.Instance
	for _, i := range f.insts {
		if i.Instance.Service == service {
			out = append(out, i.Instance)
		}
	}
	f.add("restart %s", service)
	return out, nil
}

func (f *fakeInstances) KeepAwake(n names.Instance, until time.Time) error {
	_, err := f.change("keep-awake", n)
	return err
}

func (f *fakeInstances) SetWeight(n names.Instance, w int) error {
	_, err := f.change(fmt.Sprintf("weight=%d", w), n)
	return err
}

// Deploy starts a new version on the next port.
func (f *fakeInstances) Deploy(_ context.Context, n names.Instance, weight int, _ time.Duration) (supervisor.Info, error) {
	if f.ServiceConfig(n.Service) == nil {
		return supervisor.Info{}, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, n.Service)
	}
	f.add("deploy %s weight=%d", n, weight)
	i := fakeInfo(n, 21001+len(f.insts))
	i.Weight = weight
	return i, nil
}

func (f *fakeInstances) Route(from, to names.Instance) error {
	if _, err := f.find(from); err != nil {
		return err
	}
	_, err := f.change("route "+from.String()+" ->", to)
	return err
}

// fakeTokens keeps tokens in memory. The token revokeID always exists for
// RevokeToken (which then forgets nothing), so that every admin may revoke
// it in turn.
type fakeTokens struct {
	*changeLog
	mu     sync.Mutex
	tokens map[string]store.Token // by id
}

const revokeID = "0123456789ab"

var _ TokenStore = (*fakeTokens)(nil)

func (f *fakeTokens) CreateToken(t store.Token) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[t.ID] = t
	return nil
}

func (f *fakeTokens) TokenByHash(hash string) (store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tokens {
		if t.Hash == hash {
			return t, nil
		}
	}
	return store.Token{}, fmt.Errorf("%w: token", errdefs.ErrNotFound)
}

func (f *fakeTokens) Tokens() ([]store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Token
	for _, t := range f.tokens {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeTokens) Token(id string) (store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tokens[id]; ok {
		return t, nil
	}
	return store.Token{}, fmt.Errorf("%w: token %s", errdefs.ErrNotFound, id)
}

func (f *fakeTokens) RevokeToken(id string) (store.Token, error) {
	if id == revokeID {
		f.add("revoke %s", id)
		return store.Token{ID: id, Tenant: "zed"}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[id]
	if !ok {
		return store.Token{}, fmt.Errorf("%w: token %s", errdefs.ErrNotFound, id)
	}
	delete(f.tokens, id)
	return t, nil
}

// fakeAudit keeps what it is told and reads back one entry.
type fakeAudit struct{ log []store.AuditEntry }

func (f *fakeAudit) Audit(e store.AuditEntry) (store.AuditEntry, error) {
	f.log = append(f.log, e)
	return e, nil
}

func (f *fakeAudit) AuditLog(int) ([]store.AuditEntry, error) {
	return []store.AuditEntry{{Seq: 1, Time: fixedTime, Actor: "uid:0", Action: "spawn", Target: "notes:alice", Result: "ok"}}, nil
}

// fakeLogs has one line per instance: "hi from service:id".
type fakeLogs struct{}

func (fakeLogs) entries(q journal.Query) []journal.Entry {
	var out []journal.Entry
	for _, n := range q.Instances {
		out = append(out, journal.Entry{Time: fixedTime, Instance: n, Priority: 6, Source: journal.SourceApp, PID: 7, Message: "hi from " + n.String()})
	}
	return out
}

func (l fakeLogs) Read(_ context.Context, q journal.Query) ([]journal.Entry, error) {
	return l.entries(q), nil
}

// Follow sends the lines and ends, as a stream whose journal went away.
func (l fakeLogs) Follow(_ context.Context, q journal.Query, send func(journal.Entry) error) error {
	for _, e := range l.entries(q) {
		if err := send(e); err != nil {
			return err
		}
	}
	return nil
}

// fakeMetrics writes the instances a scope admits, of notes:alice and
// notes:bob.
type fakeMetrics struct{}

func (fakeMetrics) ServeMetrics(w http.ResponseWriter, _ *http.Request, scope func(names.Instance) bool) {
	var in []string
	for _, s := range []string{"notes:alice", "notes:bob"} {
		n, _ := names.Parse(s)
		if scope == nil || scope(n) {
			in = append(in, s)
		}
	}
	fmt.Fprintf(w, "series of %s\n", strings.Join(in, " "))
}

// Activity: alice woke twice (a request and a schedule; 300ms together)
// and answered 3 probes asleep; bob woke once (100ms), failed once, and
// answered 1 probe. A tenant's summary adds up its own only.
func (fakeMetrics) Activity() map[names.Instance]metrics.Activity {
	a, _ := names.Parse("notes:alice")
	b, _ := names.Parse("notes:bob")
	return map[names.Instance]metrics.Activity{
		a: {Requests: 5, Wakes: 2, WakesByCause: [4]uint64{1, 0, 0, 1}, WakeTime: 300 * time.Millisecond, Asleep: 10 * time.Second, Probes: 3},
		b: {Requests: 1, Wakes: 2, WakeErrors: 1, WakesByCause: [4]uint64{2, 0, 0, 0}, WakeTime: 100 * time.Millisecond, Asleep: 5 * time.Second, Probes: 1},
	}
}

// fakeCredentials holds one credential, DB_PASSWORD, of every target.
type fakeCredentials struct{ *changeLog }

func (f fakeCredentials) Set(t apitype.CredentialTarget, name string, value []byte) error {
	f.add("credential-set %s %s", t, name)
	return nil
}

func (f fakeCredentials) List(apitype.CredentialTarget) ([]apitype.Credential, error) {
	return []apitype.Credential{{Name: "DB_PASSWORD", Size: 6, Modified: fixedTime, Scope: apitype.ScopeInstance}}, nil
}

func (f fakeCredentials) Remove(t apitype.CredentialTarget, name string) error {
	f.add("credential-remove %s %s", t, name)
	return nil
}

func (f fakeCredentials) Forget(n names.Instance) error {
	f.add("credential-forget %s", n)
	return nil
}

// fakeDomains binds alice.example to notes:alice and bob.example to
// notes:bob, and records binds and unbinds without doing them (every
// admin caller of the matrix asks the same).
type fakeDomains struct{ *changeLog }

var _ DomainTable = fakeDomains{}

var fakeBindings = []domains.Binding{
	{Domain: "alice.example", Instance: names.Instance{Service: "notes", ID: "alice"}, CreatedAt: fixedTime},
	{Domain: "bob.example", Instance: names.Instance{Service: "notes", ID: "bob"}, CreatedAt: fixedTime},
}

func (f fakeDomains) Bind(n names.Instance, host string, move bool) (domains.Binding, error) {
	d, err := names.Domain(host)
	if err != nil {
		return domains.Binding{}, err
	}
	f.add("bind %s to %s (move=%v)", d, n, move)
	return domains.Binding{Domain: d, Instance: n, CreatedAt: fixedTime}, nil
}

func (f fakeDomains) Unbind(host string) (domains.Binding, error) {
	for _, b := range fakeBindings {
		if b.Domain == host {
			f.add("unbind %s", host)
			return b, nil
		}
	}
	return domains.Binding{}, fmt.Errorf("%w: domain %s", errdefs.ErrNotFound, host)
}

func (f fakeDomains) List(only func(names.Instance) bool) []domains.Binding {
	var out []domains.Binding
	for _, b := range fakeBindings {
		if only(b.Instance) {
			out = append(out, b)
		}
	}
	return out
}
