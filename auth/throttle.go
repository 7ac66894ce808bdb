package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Throttle defaults: 10 failed attempts within a minute block a client for
// 30 seconds; at most 10000 clients are remembered.
const (
	DefaultMaxFailures = 10
	DefaultWindow      = time.Minute
	DefaultCooldown    = 30 * time.Second
	DefaultCapacity    = 10000
)

// Throttle counts failed authentication attempts per client and blocks a
// client that fails too often. Clients are IPv4 addresses, or IPv6 /64
// prefixes (one host usually has a whole /64). Other clients are never
// affected: a valid token from another address keeps working.
//
// Memory is bounded: at most Capacity clients are remembered, the least
// recently seen forgotten first.
type Throttle struct {
	MaxFailures int
	Window      time.Duration
	Cooldown    time.Duration
	Capacity    int
	// Now is the clock (tests replace it). Default time.Now.
	Now func() time.Time

	mu      sync.Mutex
	clients map[netip.Prefix]*list.Element
	lru     list.List // of *client, most recently seen at the front
}

type client struct {
	key          netip.Prefix
	failures     []time.Time // inside the window, oldest first
	blockedUntil time.Time
}

// NewThrottle returns a Throttle with the defaults.
func NewThrottle() *Throttle {
	return &Throttle{MaxFailures: DefaultMaxFailures, Window: DefaultWindow, Cooldown: DefaultCooldown, Capacity: DefaultCapacity}
}

// ClientPrefix returns the unit a client address is counted in: an IPv4
// address, or the IPv6 /64 it is in (one host usually has a whole /64, so
// counting single IPv6 addresses would count nothing).
func ClientPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Blocked reports whether a client is blocked, and for how much longer.
func (t *Throttle) Blocked(a netip.Addr) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.clients[ClientPrefix(a)]
	if e == nil {
		return 0, false
	}
	c := e.Value.(*client)
	if left := c.blockedUntil.Sub(t.now()); left > 0 {
		return left, true
	}
	return 0, false
}

// Fail records a failed attempt and reports whether it blocked the client.
func (t *Throttle) Fail(a netip.Addr) bool {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.client(ClientPrefix(a))
	cut := 0
	for cut < len(c.failures) && now.Sub(c.failures[cut]) >= t.Window {
		cut++
	}
	c.failures = append(c.failures[cut:], now)
	if len(c.failures) < t.MaxFailures {
		return false
	}
	c.failures = c.failures[:0]
	c.blockedUntil = now.Add(t.Cooldown)
	return true
}

// client returns the entry of key, creating it and evicting the least
// recently seen client when full. The caller holds t.mu.
func (t *Throttle) client(key netip.Prefix) *client {
	if t.clients == nil {
		t.clients = map[netip.Prefix]*list.Element{}
	}
	if e := t.clients[key]; e != nil {
		t.lru.MoveToFront(e)
		return e.Value.(*client)
	}
	for t.Capacity > 0 && t.lru.Len() >= t.Capacity {
		old := t.lru.Back()
		t.lru.Remove(old)
		delete(t.clients, old.Value.(*client).key)
	}
	c := &client{key: key}
	t.clients[key] = t.lru.PushFront(c)
	return c
}
