package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOrderCapWindow(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	o := newOrderCap(2)
	o.now = func() time.Time { return now }
	for _, tc := range []struct {
		name    string
		advance time.Duration
		host    string
		want    bool
	}{
		{"first", 0, "a", true},
		{"second", time.Minute, "b", true},
		{"third within the hour", 10 * time.Minute, "c", false},
		{"just before the first leaves the window", 48*time.Minute + 59*time.Second, "c", false},
		{"the first left the window", time.Second, "c", true},
		{"full again", 0, "d", false},
		{"the second left the window", time.Minute, "d", true},
	} {
		now = now.Add(tc.advance)
		got := o.take(tc.host)
		if got {
			o.done(tc.host)
		}
		if got != tc.want {
			t.Errorf("%s: take(%s) = %v, want %v", tc.name, tc.host, got, tc.want)
		}
	}
}

// Handshakes that wait for the same name's order count once: autocert
// orders once for all of them.
func TestOrderCapJoinsPendingOrder(t *testing.T) {
	o := newOrderCap(1)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if !o.take("a") {
				t.Error("a handshake joining a's order was refused")
			}
		})
	}
	wg.Wait()
	if o.take("b") {
		t.Error("b got an order past the cap")
	}
	for range 50 {
		o.done("a")
	}
	if len(o.pending) != 0 {
		t.Errorf("pending = %v after every handshake finished", o.pending)
	}
}

// Past max_orders_per_hour, a handshake for a name without a certificate
// fails at once and the CA is not asked; a name with a cached certificate,
// and a name tenement does not serve, are not held back by the cap.
func TestMaxOrdersPerHour(t *testing.T) {
	c, calls := newTestCerts(t)
	c.orders = newOrderCap(1)
	hello := func(name string) *tls.ClientHelloInfo {
		return &tls.ClientHelloInfo{ServerName: name, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	}
	if _, err := c.GetCertificate(hello("alice.notes.example.com")); err == nil || calls.Load() == 0 {
		t.Fatalf("first order: %v, CA asked %d times; want the CA asked (and refusing)", err, calls.Load())
	}
	asked := calls.Load()
	_, err := c.GetCertificate(hello("x1.open.example.com"))
	if err == nil || !strings.Contains(err.Error(), "max_orders_per_hour") {
		t.Errorf("second new name: %v, want the cap's refusal", err)
	}
	if calls.Load() != asked {
		t.Errorf("the CA was asked %d more times past the cap", calls.Load()-asked)
	}
	// A certificate in the cache from an earlier daemon needs no order.
	ctx := context.Background()
	if err := c.m.Cache.Put(ctx, "cached.open.example.com", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.admitOrder(ctx, "cached.open.example.com"); err != nil {
		t.Errorf("cached name past the cap: %v", err)
	}
	// Nor does a name autocert refuses before ordering.
	done, err := c.admitOrder(ctx, "mallory.notes.example.com")
	if err != nil {
		t.Errorf("unserved name: %v, want it left to the host policy", err)
	} else {
		done()
	}
	if _, err := c.GetCertificate(hello("mallory.notes.example.com")); err == nil || !errors.Is(err, errNotServed) {
		t.Errorf("unserved name: %v, want the host policy's refusal", err)
	}
}
