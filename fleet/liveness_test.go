package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

func TestLivenessExpiry(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	h1 := startAgent(t, e, cluster, "h1", 100)
	h2 := startAgent(t, e, cluster, "h2", 100)
	h3 := startAgent(t, e, cluster, "h3", 100)
	testbed.Eventually(t, 5*time.Second, "h1 sees three hosts", func() error {
		if n := len(h1.Hosts()); n != 3 {
			return fmt.Errorf("%d hosts", n)
		}
		return nil
	})
	host := h1.Hosts()[0]
	if host.Name != "h1" || host.Addr != "h1.test:8080" || host.Capacity != 100 || host.Started.IsZero() {
		t.Fatalf("h1's key: %+v", host)
	}

	// h3 dies: no revoke, its lease runs out
	ttl := h3.opts.TTL
	h3.crashed.Store(true)
	h3.Close()
	died := time.Now()
	testbed.Eventually(t, ttl+2*time.Second, "h3's key expires", func() error {
		if h1.Live("h3") {
			return errors.New("h3 still live")
		}
		return nil
	})
	gone := time.Since(died)
	t.Logf("measured: a dead host's key disappeared %v after its agent stopped (TTL %v)", gone.Round(time.Millisecond), ttl)
	if gone > ttl+1500*time.Millisecond {
		t.Errorf("h3's key outlived its TTL by %v", gone-ttl)
	}
	ctx := context.Background()
	for i := range 10 {
		p, _, err := h1.Place(ctx, inst(t, fmt.Sprintf("notes:after-%d", i)), "")
		if err != nil || p.Host == "h3" {
			t.Fatalf("place after h3 died: %+v %v", p, err)
		}
	}

	// h2 stops cleanly: its lease is revoked, the key goes at once
	stopped := time.Now()
	h2.Close()
	testbed.Eventually(t, time.Second, "h2's key is revoked", func() error {
		if h1.Live("h2") {
			return errors.New("h2 still live")
		}
		return nil
	})
	t.Logf("measured: a stopped host's key disappeared within %v of Close", time.Since(stopped).Round(time.Millisecond))
	// the instances stay placed on h2: the proxy answers 503 for them
	onH2 := 0
	for _, p := range h1.Placements() {
		o, _ := h1.Owner(p.Instance)
		if o.Host != p.Host || o.Live != (p.Host == "h1") || (o.Addr != "") != o.Live {
			t.Errorf("owner of %s: %+v", p.Instance, o)
		}
		if p.Host == "h2" {
			onH2++
		}
	}
	if onH2 != 5 {
		t.Errorf("%d of 10 instances were placed on h2, want 5 (the most free room alternates)", onH2)
	}
}

func TestLoadReported(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	var awake atomic.Int64
	startAgent(t, e, cluster, "h1", 100, func(o *Options) { o.Awake = func() int { return int(awake.Load()) } })
	h2 := startAgent(t, e, cluster, "h2", 100)
	awake.Store(2)
	ctx := context.Background()
	for i := range 3 {
		if _, _, err := h2.Place(ctx, inst(t, fmt.Sprintf("notes:l%d", i)), "h1"); err != nil {
			t.Fatal(err)
		}
	}
	testbed.Eventually(t, 5*time.Second, "h1's key reports 3 placed, 2 awake", func() error {
		resp, err := h2.cli.Get(ctx, h2.lay.host("h1"))
		if err != nil || len(resp.Kvs) != 1 {
			return fmt.Errorf("%v %v", resp, err)
		}
		if want := `"placed":3,"awake":2`; !strings.Contains(string(resp.Kvs[0].Value), want) {
			return fmt.Errorf("h1's key %s, want %s", resp.Kvs[0].Value, want)
		}
		return nil
	})
	testbed.Eventually(t, 5*time.Second, "h2 sees h1's load", func() error {
		if h := h2.Hosts(); h[0].Placed != 3 || h[0].Awake != 2 || h[1].Placed != 0 {
			return fmt.Errorf("hosts: %+v", h)
		}
		return nil
	})
}
