package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
)

// TestPeerAt: a live host is known by the IP of its advertised address
// (an IP literal), and only while it is live; a name is known by nothing.
func TestPeerAt(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	a := startAgent(t, e, cluster, "h1", 10, func(o *Options) { o.Addr = "10.9.0.1:8080" })
	b := startAgent(t, e, cluster, "h2", 10, func(o *Options) { o.Addr = "[::ffff:10.9.0.2]:8080" })
	startAgent(t, e, cluster, "h3", 10) // h3.test:8080: a name
	testbed.Eventually(t, 5*time.Second, "h1 sees h2", func() error {
		if _, ok := a.PeerAt(netip.MustParseAddr("10.9.0.2")); !ok {
			return errors.New("10.9.0.2 unknown")
		}
		return nil
	})
	for _, tt := range []struct {
		ip   string
		want string
	}{{"10.9.0.1", "h1"}, {"10.9.0.2", "h2"}, {"::ffff:10.9.0.2", "h2"}, {"10.9.0.3", ""}, {"127.0.0.1", ""}} {
		host, ok := a.PeerAt(netip.MustParseAddr(tt.ip))
		if host != tt.want || ok != (tt.want != "") {
			t.Errorf("PeerAt(%s) = %q, %v; want %q", tt.ip, host, ok, tt.want)
		}
	}
	b.Close() // a clean stop revokes the lease: h2 is no peer at once
	testbed.Eventually(t, 5*time.Second, "h2 gone", func() error {
		if h, ok := a.PeerAt(netip.MustParseAddr("10.9.0.2")); ok {
			return fmt.Errorf("still %s", h)
		}
		return nil
	})
}

// TestDrainingHostGetsNothing: while a host is draining, the fleet places
// nothing on it (however much room it has) unless it is named, and other
// hosts see the mark.
func TestDrainingHostGetsNothing(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	a := startAgent(t, e, cluster, "h1", 1000)
	b := startAgent(t, e, cluster, "h2", 5)
	a.SetDraining(true)
	testbed.Eventually(t, 5*time.Second, "h2 sees h1 draining", func() error {
		for _, h := range b.Hosts() {
			if h.Name == "h1" && h.Draining {
				return nil
			}
		}
		return errors.New("not draining")
	})
	ctx := context.Background()
	for i := range 5 {
		p, _, err := b.Place(ctx, inst(t, fmt.Sprintf("notes:d%d", i)), "")
		if err != nil || p.Host != "h2" {
			t.Fatalf("place %d: %+v %v, want h2", i, p, err)
		}
	}
	// h2 is full and h1 draining: no room, unless h1 is named
	if _, _, err := b.Place(ctx, inst(t, "notes:d5"), ""); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("place on a full fleet: %v, want ErrUnavailable", err)
	}
	if p, _, err := b.Place(ctx, inst(t, "notes:d5"), "h1"); err != nil || p.Host != "h1" {
		t.Fatalf("place on the draining host by name: %+v %v", p, err)
	}
	a.SetDraining(false)
	testbed.Eventually(t, 5*time.Second, "h1 takes instances again", func() error {
		p, _, err := b.Place(ctx, inst(t, "notes:d6"), "")
		if err != nil {
			return err
		}
		if p.Host != "h1" {
			return fmt.Errorf("placed on %s", p.Host)
		}
		return nil
	})
}

// TestLookupPlacement reads etcd itself: it sees a move another agent
// made before the watch tells this agent's cache.
func TestLookupPlacement(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	a := startAgent(t, e, cluster, "h1", 10)
	b := startAgent(t, e, cluster, "h2", 10)
	ctx := context.Background()
	n := inst(t, "notes:look")
	if _, ok, err := a.LookupPlacement(ctx, n); ok || err != nil {
		t.Fatalf("unplaced: ok=%v err=%v", ok, err)
	}
	if _, _, err := a.Place(ctx, n, "h1"); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h2 sees the placement", func() error {
		if _, ok := b.Placement(n); !ok {
			return errors.New("not yet")
		}
		return nil
	})
	if _, err := b.Move(ctx, n, "h2"); err != nil {
		t.Fatal(err)
	}
	p, ok, err := a.LookupPlacement(ctx, n)
	if err != nil || !ok || p.Host != "h2" {
		t.Fatalf("after the move: %+v %v %v, want h2", p, ok, err)
	}
}
