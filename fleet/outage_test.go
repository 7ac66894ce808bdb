package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/fleettest"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/store"
)

// TestEtcdStoppedAndRestarted: while etcd is down, reads answer from the
// cache and writes fail at once with ErrUnavailable; when it is back, the
// leases are granted again, the watches resume and writes work.
func TestEtcdStoppedAndRestarted(t *testing.T) {
	fleettest.RequireEtcd(t)
	ctx := context.Background()
	e, err := fleettest.StartEtcd(ctx, fleettest.EtcdOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	cluster := newCluster()
	h1 := startAgent(t, e, cluster, "h1", 10)
	h2 := startAgent(t, e, cluster, "h2", 10)
	n := inst(t, "notes:alice")
	if _, _, err := h1.Place(ctx, n, "h2"); err != nil {
		t.Fatal(err)
	}
	tok := store.Token{ID: "0a1b2c", Hash: "sha256:00ff", Tenant: "alice", CreatedAt: time.Now().UTC()}
	if err := h1.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h1.PutDomain(ctx, "alice.example.com", n, false); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h2 sees it all", func() error {
		if _, ok := h2.Owner(n); !ok || !h2.Live("h1") {
			return errors.New("not yet")
		}
		if _, err := h2.TokenByHash(tok.Hash); err != nil {
			return err
		}
		if _, ok := h2.Domain("alice.example.com"); !ok {
			return errors.New("no domain")
		}
		return nil
	})

	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// reads answer from the cache, at once
	for _, a := range []*Agent{h1, h2} {
		if o, ok := a.Owner(n); !ok || o.Host != "h2" || !o.Live {
			t.Errorf("%s: owner during the outage: %+v %v", a.Host(), o, ok)
		}
		if got, err := a.TokenByHash(tok.Hash); err != nil || got.Tenant != "alice" {
			t.Errorf("%s: token during the outage: %+v %v", a.Host(), got, err)
		}
		if got, ok := a.Domain("alice.example.com"); !ok || got != n {
			t.Errorf("%s: domain during the outage: %v", a.Host(), got)
		}
		if len(a.Hosts()) != 2 {
			t.Errorf("%s: hosts during the outage: %+v", a.Host(), a.Hosts())
		}
	}
	// writes fail with one line of kind ErrUnavailable, within the write
	// timeout, and at once once the client knows the connection is gone
	writes := []struct {
		op string
		f  func() error
	}{
		{"place notes:bob", func() error { _, _, err := h1.Place(ctx, inst(t, "notes:bob"), ""); return err }},
		{"move notes:alice to h1", func() error { _, err := h1.Move(ctx, n, "h1"); return err }},
		{"unplace notes:alice", func() error { return h1.Unplace(ctx, n) }},
		{"put token 0b", func() error { return h1.PutToken(ctx, store.Token{ID: "0b", Hash: "sha256:01"}) }},
		{"delete token 0a1b2c", func() error { return h1.DeleteToken(ctx, tok.ID) }},
		{"bind bob.example.com to notes:alice", func() error { _, _, err := h1.PutDomain(ctx, "bob.example.com", n, false); return err }},
		{"unbind alice.example.com", func() error { return h1.DeleteDomain(ctx, "alice.example.com") }},
	}
	for round := range 2 {
		for _, w := range writes {
			t0 := time.Now()
			err := w.f()
			took := time.Since(t0)
			want := "fleet: etcd unreachable: " + w.op + ": "
			if !errors.Is(err, errdefs.ErrUnavailable) || !strings.HasPrefix(fmt.Sprint(err), want) || strings.Contains(fmt.Sprint(err), "\n") {
				t.Errorf("%s during the outage: %q, want one line starting %q of kind ErrUnavailable", w.op, err, want)
			}
			if took > h1.opts.WriteTimeout+500*time.Millisecond {
				t.Errorf("%s took %v to fail", w.op, took)
			}
			t.Logf("measured: etcd down, round %d: %s failed after %v: %v", round, w.op, took.Round(time.Microsecond), err)
		}
	}
	// past the TTL the client has given the leases up; the cache still
	// answers (the keys cannot expire without etcd)
	time.Sleep(time.Until(down.Add(h1.opts.TTL + time.Second)))
	if o, ok := h1.Owner(n); !ok || o.Host != "h2" {
		t.Errorf("owner after a TTL without etcd: %+v %v", o, ok)
	}

	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	var p Placement
	testbed.Eventually(t, 10*time.Second, "a placement after etcd is back", func() (err error) {
		p, _, err = h1.Place(ctx, inst(t, "notes:bob"), "")
		return err
	})
	t.Logf("measured: writes work %v after etcd is back", time.Since(up).Round(time.Millisecond))
	// the watches resumed: each agent sees what the other wrote
	testbed.Eventually(t, 5*time.Second, "h2 sees the new placement", func() error {
		if o, ok := h2.Owner(p.Instance); !ok || o.Host != p.Host {
			return fmt.Errorf("owner %+v", o)
		}
		return nil
	})
	if _, err := h2.Move(ctx, n, "h1"); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h1 sees the move", func() error {
		if o, _ := h1.Owner(n); !o.Local {
			return fmt.Errorf("owner %+v", o)
		}
		return nil
	})
	// both hosts are registered again, under live leases that outlast
	// the old ones
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint()}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	time.Sleep(2 * h1.opts.TTL)
	for _, a := range []*Agent{h1, h2} {
		resp, err := cli.Get(ctx, a.lay.host(a.Host()))
		if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
			t.Fatalf("%s's key after the outage: %v %v", a.Host(), resp, err)
		}
		ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
		if err != nil || ttl.TTL <= 0 {
			t.Fatalf("%s's lease after the outage: %+v %v", a.Host(), ttl, err)
		}
		if !h1.Live(a.Host()) || !h2.Live(a.Host()) {
			t.Errorf("%s is not live after the outage", a.Host())
		}
	}
}
