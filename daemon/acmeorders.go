package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// New certificate orders per hour.
//
// Every name tenement serves may get a certificate at its first handshake,
// and with spawn_on_request anyone can make up new names: each would start
// an ACME order, until the CA's rate limits (Let's Encrypt: 300 new orders
// per account per 3 hours) stop issuance for every tenant. So handshakes
// may start at most max_orders_per_hour orders per hour, all names
// together; past that a handshake for a name without a certificate fails
// at once, before autocert makes a key or asks the CA.
//
// Only orders are counted. autocert asks the host policy before it looks
// in its cache, so counting there would count every handshake; instead,
// certs.admitOrder counts a handshake only when the name has no
// certificate: none seen by this daemon, none in the cache from an earlier
// one. Handshakes that wait for the same name's order count once (autocert
// orders once for them). Renewals are autocert's own and not counted: at
// most one per issued certificate, 30 days before it expires.

// orderCap is the sliding hour of order starts.
type orderCap struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	starts  []time.Time         // within the last hour, oldest first
	pending map[string]int      // name → handshakes waiting for its order
	logged  map[string]struct{} // names whose refusal was logged
	gate    logGate
}

func newOrderCap(max int) *orderCap {
	return &orderCap{max: max, now: time.Now, pending: map[string]int{}, logged: map[string]struct{}{}}
}

// take counts an order for name, unless max orders started within the
// hour; an order already under way for name is joined, not counted.
// Every true must be followed by done(name).
func (o *orderCap) take(name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := o.pending[name]; n > 0 {
		o.pending[name] = n + 1
		return true
	}
	now := o.now()
	cut := 0
	for cut < len(o.starts) && now.Sub(o.starts[cut]) >= time.Hour {
		cut++
	}
	o.starts = o.starts[cut:]
	if len(o.starts) >= o.max {
		return false
	}
	o.starts = append(o.starts, now)
	o.pending[name] = 1
	return true
}

func (o *orderCap) done(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	takeOne(o.pending, name)
}

// shouldLog reports whether a refusal for name is to be logged: once per
// name at most, and at most one a minute.
func (o *orderCap) shouldLog(name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.logged[name]; ok || !o.gate.open(time.Minute) {
		return false
	}
	if len(o.logged) >= 10_000 {
		clear(o.logged)
	}
	o.logged[name] = struct{}{}
	return true
}

// admitOrder holds back a handshake that would start an order past
// max_orders_per_hour. It lets through, uncounted, a name with a
// certificate and a name the host policy refuses (autocert refuses it
// before any order). done releases what it took.
func (c *certs) admitOrder(ctx context.Context, name string) (done func(), err error) {
	if c.orders == nil || c.hasCert(name) || c.pol.Allow(ctx, name) != nil || c.cached(ctx, name) {
		return func() {}, nil
	}
	if c.orders.take(name) {
		return func() { c.orders.done(name) }, nil
	}
	if c.orders.shouldLog(name) {
		c.log.Warn("no certificate: max_orders_per_hour new certificates were ordered in the last hour (this is logged once per name and at most once a minute)",
			"host", name, "max_orders_per_hour", c.orders.max)
	}
	return nil, fmt.Errorf("tls: no certificate for %q: %d new certificates were ordered within the hour (max_orders_per_hour)", name, c.orders.max)
}

// hasCert reports whether name got a certificate from this daemon.
func (c *certs) hasCert(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.have[name]
	return ok
}

// cached reports whether the cache has a certificate for name (ECDSA, or
// RSA for old clients), from an earlier daemon. Only names the host policy
// allows get here, and a name found is remembered, so the cache is read at
// most once per served name and daemon.
func (c *certs) cached(ctx context.Context, name string) bool {
	for _, key := range []string{name, name + "+rsa"} {
		if _, err := c.m.Cache.Get(ctx, key); err == nil {
			c.mu.Lock()
			c.have[name] = struct{}{}
			c.mu.Unlock()
			return true
		}
	}
	return false
}
