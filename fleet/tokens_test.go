package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/store"
)

func TestTokensFleetWide(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	h1 := startAgent(t, e, cluster, "h1", 10)
	h2 := startAgent(t, e, cluster, "h2", 10)
	ctx := context.Background()
	tok := store.Token{ID: "a1b2c3d4e5f6", Hash: "sha256:abc123", Tenant: "alice", Description: "laptop",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := h1.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h2 knows the token by its hash", func() error {
		got, err := h2.TokenByHash(tok.Hash)
		if err != nil {
			return err
		}
		if got != tok {
			return fmt.Errorf("got %+v, want %+v", got, tok)
		}
		return nil
	})
	if got, err := h2.Token(tok.ID); err != nil || got != tok {
		t.Fatalf("token by id: %+v %v", got, err)
	}
	if got := h2.Tokens(); len(got) != 1 || got[0] != tok {
		t.Fatalf("tokens: %+v", got)
	}
	tests := []struct {
		name string
		tok  store.Token
		want error
	}{
		{"same id", store.Token{ID: tok.ID, Hash: "sha256:other"}, errdefs.ErrConflict},
		{"same hash", store.Token{ID: "ffff", Hash: tok.Hash}, errdefs.ErrConflict},
		{"no hash", store.Token{ID: "ffff"}, errdefs.ErrInvalid},
		{"a secret, not a hash", store.Token{ID: "ffff", Hash: "c2VjcmV0"}, errdefs.ErrInvalid},
		{"bad id", store.Token{ID: "../x", Hash: "sha256:01"}, errdefs.ErrInvalid},
		{"bad tenant", store.Token{ID: "ffff", Hash: "sha256:01", Tenant: "Alice!"}, errdefs.ErrInvalid},
	}
	for _, tt := range tests {
		if err := h2.PutToken(ctx, tt.tok); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := h2.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h1 forgets the token", func() error {
		if _, err := h1.TokenByHash(tok.Hash); !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("TokenByHash: %v", err)
		}
		return nil
	})
	if err := h1.DeleteToken(ctx, tok.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
}

func TestDomainsFleetWide(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	h1 := startAgent(t, e, cluster, "h1", 10)
	h2 := startAgent(t, e, cluster, "h2", 10)
	ctx := context.Background()
	alice, bob := inst(t, "notes:alice"), inst(t, "notes:bob")
	if _, _, err := h1.PutDomain(ctx, "Notes.Alice.Example.", alice, false); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h2 routes the domain", func() error {
		if n, ok := h2.Domain("notes.alice.example"); !ok || n != alice {
			return fmt.Errorf("got %v %v", n, ok)
		}
		return nil
	})
	if n, ok := h2.Domain("NOTES.alice.example."); !ok || n != alice {
		t.Fatalf("a Host header in capitals: %v %v", n, ok)
	}
	if _, _, err := h2.PutDomain(ctx, "notes.alice.example", alice, false); err != nil {
		t.Fatalf("bind again to the same instance: %v", err)
	}
	if _, _, err := h2.PutDomain(ctx, "notes.alice.example", bob, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("bind to another instance: %v, want ErrConflict", err)
	}
	for _, d := range []string{"", "10.0.0.1", "-a.example", "a..example", "a_b.example"} {
		if _, _, err := h1.PutDomain(ctx, d, bob, false); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("bind %q: %v, want ErrInvalid", d, err)
		}
	}
	if got := h1.Domains(); len(got) != 1 || got[0].Domain != "notes.alice.example" || got[0].Instance != alice || got[0].CreatedAt.IsZero() {
		t.Fatalf("domains: %+v", got)
	}
	// A move rebinds it in one write and names where it was.
	b, prev, err := h2.PutDomain(ctx, "notes.alice.example", bob, true)
	if err != nil || prev != alice || b.Instance != bob {
		t.Fatalf("move to bob: %+v from %v, %v", b, prev, err)
	}
	testbed.Eventually(t, 5*time.Second, "h1 sees the move", func() error {
		if n, _ := h1.Domain("notes.alice.example"); n != bob {
			return fmt.Errorf("bound to %v", n)
		}
		return nil
	})
	if n, err := h1.DeleteDomainsOf(ctx, bob); err != nil || n != 1 {
		t.Fatalf("delete bob's domains: %d, %v", n, err)
	}
	if _, _, err := h1.PutDomain(ctx, "notes.alice.example", alice, false); err != nil {
		t.Fatal(err)
	}
	if err := h2.DeleteDomain(ctx, "notes.alice.example"); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, "h1 unbinds", func() error {
		if _, ok := h1.Domain("notes.alice.example"); ok {
			return errors.New("still bound")
		}
		return nil
	})
	if err := h2.DeleteDomain(ctx, "notes.alice.example"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unbind again: %v", err)
	}
}

// TestOnDomains: a host hears of every change of the domains, made by it
// or by another host, and once at the start.
func TestOnDomains(t *testing.T) {
	e := sharedEtcd(t)
	cluster := newCluster()
	var calls atomic.Int64
	h1 := startAgent(t, e, cluster, "h1", 10)
	h2 := startAgent(t, e, cluster, "h2", 10, func(o *Options) { o.OnDomains = func() { calls.Add(1) } })
	testbed.Eventually(t, 5*time.Second, "the first call", func() error {
		if calls.Load() < 1 {
			return errors.New("no call")
		}
		return nil
	})
	ctx := context.Background()
	for i, change := range []func() error{
		func() error { _, _, err := h1.PutDomain(ctx, "a.example", inst(t, "notes:alice"), false); return err },
		func() error { return h1.DeleteDomain(ctx, "a.example") },
		func() error { _, _, err := h2.PutDomain(ctx, "b.example", inst(t, "notes:bob"), false); return err },
	} {
		before := calls.Load()
		if err := change(); err != nil {
			t.Fatal(err)
		}
		testbed.Eventually(t, 5*time.Second, fmt.Sprintf("a call after change %d", i), func() error {
			if calls.Load() == before {
				return errors.New("no call")
			}
			return nil
		})
	}
	// Placements are not domains: no call.
	time.Sleep(200 * time.Millisecond)
	before := calls.Load()
	if _, _, err := h1.Place(ctx, inst(t, "notes:carol"), "h1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if calls.Load() != before {
		t.Errorf("a placement called OnDomains")
	}
}
