package fleetops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// TestCreatePlacesFirst: a creation places every new instance first and
// registers here at once only those placed here; known ones are known
// without a write, so that they are while etcd is away, and a new one
// then fails with etcd's one line.
func TestCreatePlacesFirst(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	newHost(t, w, "h2", "b:1")
	newHost(t, w, "h3", "c:1")
	ctx := context.Background()
	var ns []names.Instance
	for i := range 6 {
		ns = append(ns, inst(t, fmt.Sprintf("notes:t%d", i)))
	}
	resp, err := h1.ops.Create(ctx, ns, "")
	if err != nil || resp.Created != 6 || resp.Hosts["h1"] != 2 || resp.Hosts["h2"] != 2 || resp.Hosts["h3"] != 2 {
		t.Fatalf("create: %+v %v, want 2 on each host", resp, err)
	}
	here := h1.local.Instances()
	if len(here) != 2 {
		t.Errorf("registered here: %v, want the 2 placed here", here)
	}
	for _, n := range here {
		if p, _ := h1.ops.agent.Placement(n); p.Host != "h1" {
			t.Errorf("%s registered here but placed on %s", n, p.Host)
		}
	}
	resp, err = h1.ops.Create(ctx, ns[:3], "h2")
	if err != nil || resp.Created != 0 || resp.Known != 3 {
		t.Errorf("again: %+v %v, want 3 known", resp, err)
	}
	w.down = true
	if resp, err = h1.ops.Create(ctx, ns, ""); err != nil || resp.Known != 6 {
		t.Errorf("known ones with etcd away: %+v %v", resp, err)
	}
	if _, err = h1.ops.Create(ctx, []names.Instance{inst(t, "notes:new")}, ""); !errors.Is(err, errdefs.ErrUnavailable) ||
		!strings.Contains(err.Error(), "etcd unreachable") {
		t.Errorf("a new one with etcd away: %v, want etcd's one line", err)
	}
	if _, err = h1.ops.Create(ctx, ns, "h9"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("on a host that is not live: %v", err)
	}
}

// TestListWholeFleet: the list has this host's instances as they are and
// the others' from the placements, with their host, in one order, paged.
func TestListWholeFleet(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	newHost(t, w, "h2", "b:1")
	for _, s := range []string{"notes:a", "notes:c"} {
		w.places[inst(t, s)] = "h1"
		h1.local.known[inst(t, s)] = true
	}
	w.places[inst(t, "notes:b")] = "h2"
	w.places[inst(t, "notes:d")] = "h3" // a host that is down
	list, next := h1.ops.Instances().List(supervisor.ListOptions{})
	got := []string{}
	for _, i := range list {
		got = append(got, fmt.Sprintf("%s@%s:%s:%v", i.Instance, i.Host, i.State, i.HostDown))
	}
	want := []string{"notes:a@h1:asleep:false", "notes:b@h2:unknown:false", "notes:c@h1:asleep:false", "notes:d@h3:unknown:true"}
	if !slices.Equal(got, want) || !next.IsZero() {
		t.Errorf("list %v %v\nwant %v", got, next, want)
	}
	page, next := h1.ops.Instances().List(supervisor.ListOptions{Limit: 2})
	if len(page) != 2 || next.String() != "notes:b" {
		t.Errorf("a page of 2: %v, next %v", page, next)
	}
	page, next = h1.ops.Instances().List(supervisor.ListOptions{Limit: 2, After: next})
	if len(page) != 2 || page[0].Instance.String() != "notes:c" || !next.IsZero() {
		t.Errorf("the second page: %v, next %v", page, next)
	}
	only, _ := h1.ops.Instances().List(supervisor.ListOptions{Only: func(n names.Instance) bool { return n.ID == "b" }})
	if len(only) != 1 || only[0].Host != "h2" {
		t.Errorf("a tenant's list: %v", only)
	}
	running, _ := h1.ops.Instances().List(supervisor.ListOptions{State: supervisor.StateAsleep})
	if len(running) != 2 {
		t.Errorf("a state selects this host's: %v", running)
	}
	if info, err := h1.ops.Instances().Get(context.Background(), inst(t, "notes:b")); err != nil || info.Host != "h2" {
		t.Errorf("get another host's: %+v %v", info, err)
	}
	if b := inst(t, "notes:b"); !h1.ops.Served(b) || h1.ops.Instances().Known(b) || h1.ops.Served(inst(t, "notes:zz")) {
		t.Error("another host's instance: want served here (a certificate), not known here (its credentials are there)")
	}
	if _, err := h1.ops.Instances().MeasureStorage(inst(t, "notes:b")); !errors.Is(err, errdefs.ErrNotFound) ||
		!strings.Contains(err.Error(), "lives on fleet host h2") {
		t.Errorf("storage of another host's: %v, want where it lives", err)
	}
	// A stop is asked of its host (here an address nothing answers at).
	if err := h1.ops.Instances().Stop(context.Background(), inst(t, "notes:b")); !errors.Is(err, errdefs.ErrUnavailable) ||
		!strings.Contains(err.Error(), "http://b:1") {
		t.Errorf("stop another host's: %v, want it asked of h2 at b:1", err)
	}
}

// TestDelete: deleting one of this host's unplaces it and forgets it here,
// the sync leaving it alone meanwhile; one of a host that is down is
// refused (it would come back with its host).
func TestDelete(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	n, dead, other := inst(t, "notes:a"), inst(t, "notes:d"), inst(t, "notes:o")
	w.places[n], w.places[dead] = "h1", "h3"
	w.domains["a.example"], w.domains["a2.example"], w.domains["o.example"] = n, n, other
	h1.local.known[n] = true
	if err := h1.ops.Instances().Delete(context.Background(), n, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.places[n]; ok || h1.local.Known(n) {
		t.Errorf("after delete: placed %v, known %v", ok, h1.local.Known(n))
	}
	if len(w.domains) != 1 || w.domains["o.example"] != other {
		t.Errorf("after delete: domains %v, want only o.example's", w.domains)
	}
	if err := h1.ops.Instances().Delete(context.Background(), dead, false); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("delete on a dead host: %v", err)
	}
	if _, ok := w.places[dead]; !ok {
		t.Error("the dead host's instance was unplaced")
	}
}

// TestConsumer: the sync sees neither the instances an operation of this
// host is changing nor those placed nowhere, which the claim places here
// (unless another host has them).
func TestConsumer(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	placed, busy, legacy, taken := inst(t, "notes:p"), inst(t, "notes:busy"), inst(t, "notes:legacy"), inst(t, "notes:taken")
	w.places[placed], w.places[busy], w.places[taken] = "h1", "h2", "h2"
	for _, n := range []names.Instance{placed, busy, legacy, taken} {
		h1.local.known[n] = true
	}
	done := h1.ops.busy.add(busy)
	h1.ops.Ready()
	c := h1.ops.Consumer()
	if got := c.Instances(); !slices.Equal(got, []names.Instance{placed, taken}) && !slices.Equal(got, []names.Instance{placed, legacy, taken}) {
		t.Errorf("Instances() = %v", got)
	}
	if err := c.Delete(context.Background(), busy, false); err != nil || !h1.local.Known(busy) {
		t.Errorf("the sync deleted a busy instance: %v", err)
	}
	done()
	deadline := time.Now().Add(5 * time.Second)
	for w.owner(legacy) != "h1" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w.owner(legacy) != "h1" || w.owner(taken) != "h2" {
		t.Errorf("after the claim: legacy on %q, taken on %q; want h1, h2", w.owner(legacy), w.owner(taken))
	}
}

// TestDomainStore: the custom domains' store of a fleet host is etcd's
// (through the agent): binds, moves and unbinds go there, and fail in one
// line while etcd is away.
func TestDomainStore(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	for _, id := range []string{"a", "b", "c"} {
		w.places[inst(t, "notes:"+id)] = "h1"
	}
	ds := h1.ops.DomainStore()
	if _, _, err := ds.BindDomain(store.Domain{Domain: "x.example", Instance: "notes:nowhere"}, false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("bind to an instance placed nowhere: %v, want ErrNotFound", err)
	}
	rec, prev, err := ds.BindDomain(store.Domain{Domain: "a.example", Instance: "notes:a"}, false)
	if err != nil || rec.Instance != "notes:a" || prev != "" {
		t.Fatalf("bind: %+v %q %v", rec, prev, err)
	}
	if _, _, err := ds.BindDomain(store.Domain{Domain: "a.example", Instance: "notes:b"}, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("bind another's: %v, want ErrConflict", err)
	}
	if _, prev, err := ds.BindDomain(store.Domain{Domain: "a.example", Instance: "notes:b"}, true); err != nil || prev != "notes:a" {
		t.Errorf("move: from %q, %v", prev, err)
	}
	if got, _ := ds.Domains(); len(got) != 1 || got[0].Instance != "notes:b" {
		t.Errorf("domains: %+v", got)
	}
	w.down = true
	if _, _, err := ds.BindDomain(store.Domain{Domain: "c.example", Instance: "notes:c"}, false); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("bind with etcd away: %v", err)
	}
	if _, err := ds.UnbindDomain("a.example"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("unbind with etcd away: %v", err)
	}
	w.down = false
	if rec, err := ds.UnbindDomain("a.example"); err != nil || rec.Instance != "notes:b" {
		t.Errorf("unbind: %+v %v", rec, err)
	}
	if _, err := ds.UnbindDomain("a.example"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unbind again: %v", err)
	}
}

// TestTokens: tokens are fleet-wide; a token of this host from before it
// joined works here; changes fail while etcd is away, lookups do not.
func TestTokens(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	local := &memTokens{m: map[string]store.Token{"old": {ID: "old", Hash: "sha256:old"}}}
	ts := h1.ops.Tokens(local)
	if err := ts.CreateToken(store.Token{ID: "new", Hash: "sha256:new"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.tokens["new"]; !ok || local.m["new"].ID != "" {
		t.Error("a new token is not in etcd only")
	}
	for _, h := range []string{"sha256:new", "sha256:old"} {
		if _, err := ts.TokenByHash(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if all, _ := ts.Tokens(); len(all) != 2 {
		t.Errorf("Tokens() = %v", all)
	}
	w.down = true
	if err := ts.CreateToken(store.Token{ID: "x", Hash: "sha256:x"}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("create with etcd away: %v", err)
	}
	if _, err := ts.RevokeToken("new"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("revoke with etcd away: %v", err)
	}
	if _, err := ts.TokenByHash("sha256:new"); err != nil {
		t.Errorf("lookup with etcd away: %v", err)
	}
	w.down = false
	if _, err := ts.RevokeToken("new"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.TokenByHash("sha256:new"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a revoked token: %v", err)
	}
	if _, err := ts.RevokeToken("old"); err != nil || len(local.m) != 0 {
		t.Errorf("revoke a local token: %v", err)
	}
}

type memTokens struct{ m map[string]store.Token }

func (s *memTokens) CreateToken(t store.Token) error { s.m[t.ID] = t; return nil }
func (s *memTokens) TokenByHash(h string) (store.Token, error) {
	for _, t := range s.m {
		if t.Hash == h {
			return t, nil
		}
	}
	return store.Token{}, errdefs.ErrNotFound
}
func (s *memTokens) Tokens() ([]store.Token, error) {
	var out []store.Token
	for _, t := range s.m {
		out = append(out, t)
	}
	return out, nil
}
func (s *memTokens) Token(id string) (store.Token, error) {
	if t, ok := s.m[id]; ok {
		return t, nil
	}
	return store.Token{}, errdefs.ErrNotFound
}
func (s *memTokens) RevokeToken(id string) (store.Token, error) {
	t, ok := s.m[id]
	if !ok {
		return t, errdefs.ErrNotFound
	}
	delete(s.m, id)
	return t, nil
}

// serveData serves h's data routes, as its API does for a peer.
func serveData(t *testing.T, h *host) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := names.Parse(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/instances/"), "/data"))
		if hop := r.Header.Get(apitype.HopHeader); err == nil && !strings.HasSuffix(hop, " s") {
			err = errors.New("no hop header")
		}
		if err == nil {
			switch r.Method {
			case http.MethodPut:
				var b int64
				if b, err = h.ops.ImportData(r.Context(), n, r.Body); err == nil {
					fmt.Fprintf(w, `{"bytes":%d}`, b)
					return
				}
			case http.MethodDelete:
				if err = h.ops.DropData(r.Context(), n); err == nil {
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
		}
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestMove: the owner fences the instance, sends its data and its own
// credentials, flips the placement and forgets its copy; a flip that
// fails leaves it where it was, unfenced, and the target drops its copy;
// a flip etcd did not answer keeps it fenced until etcd says where it
// lives.
func TestMove(t *testing.T) {
	w := newWorld()
	h1 := newHost(t, w, "h1", "a:1")
	h2 := newHost(t, w, "h2", "placeholder")
	w.hosts["h2"] = hostAt(w, "h2", serveData(t, h2))
	ctx := context.Background()
	n := inst(t, "notes:alice")
	w.places[n] = "h1"
	h1.local.known[n] = true
	must(t, os.MkdirAll(h1.local.DataDir(n), 0o750))
	must(t, os.WriteFile(filepath.Join(h1.local.DataDir(n), "db"), []byte("alice's rows"), 0o600))
	h1.creds.m[n] = map[string][]byte{"DB_PASSWORD": []byte("p")}

	// a flip that fails: nothing moved
	w.moveErr = fmt.Errorf("%w: the placement changed meanwhile", errdefs.ErrConflict)
	if _, err := h1.ops.Move(ctx, n, "h2", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("move with a failing flip: %v", err)
	}
	if w.places[n] != "h1" || h1.local.fenced[n] || exists(h2.local.DataDir(n)) || h2.creds.m[n] != nil {
		t.Errorf("after a failed flip: placed on %s, fenced %v, data on h2 %v", w.places[n], h1.local.fenced[n], exists(h2.local.DataDir(n)))
	}
	h1.local.took()

	resp, err := h1.ops.Move(ctx, n, "h2", false)
	if err != nil || resp.From != "h1" || resp.To != "h2" || resp.Bytes == 0 {
		t.Fatalf("move: %+v %v", resp, err)
	}
	if b, err := os.ReadFile(filepath.Join(h2.local.DataDir(n), "db")); err != nil || string(b) != "alice's rows" {
		t.Errorf("h2's copy: %q %v", b, err)
	}
	if string(h2.creds.m[n]["DB_PASSWORD"]) != "p" || h1.creds.m[n] != nil {
		t.Errorf("credentials: h2 %q, h1 %q", h2.creds.m[n], h1.creds.m[n])
	}
	if got := h1.local.took(); !slices.Equal(got, []string{"fence notes:alice", "delete notes:alice purge=true"}) || w.places[n] != "h2" {
		t.Errorf("h1 did %v, placement %s", got, w.places[n])
	}
	// h2 owns it now: its data is not replaced by anyone
	if _, err := h2.ops.ImportData(ctx, n, strings.NewReader("")); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("import over the owner's data: %v", err)
	}

	// etcd away: the move fails at once, and stops nothing
	w.hosts["h1"] = hostAt(w, "h1", serveData(t, h1))
	h2.local.known[n] = true
	w.down = true
	if _, err := h2.ops.Move(ctx, n, "h1", false); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("move with etcd away: %v", err)
	}
	if got := h2.local.took(); len(got) != 0 {
		t.Errorf("a move with etcd away did %v", got)
	}
	w.down = false

	// back to h1, and etcd does not answer the flip (which happened)
	w.downAtFlip = true
	if _, err := h2.ops.Move(ctx, n, "h1", false); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("move with etcd away at the flip: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if !h2.local.Known(n) || !h2.ops.busy.has(n) {
		t.Error("an undecided move did not keep the instance fenced")
	}
	w.mu.Lock()
	w.down = false // etcd is back: the flip had happened
	w.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for h2.local.Known(n) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h2.local.Known(n) || h2.ops.busy.has(n) {
		t.Error("etcd answered that it moved, and the old owner kept it")
	}
}

func hostAt(w *world, name, addr string) fleet.Host {
	return fleet.Host{Name: name, Addr: addr, Capacity: 100}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
