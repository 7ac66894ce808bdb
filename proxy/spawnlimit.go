package proxy

import (
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/tenement/tenement/auth"
)

// spawnLimiter bounds how many instances requests from one client may
// create per minute (settings.spawn_per_client_per_minute): a fixed window
// per client, all windows restarting together each minute, so that its
// memory is one counter per client that created something this minute and
// each check is one map access. An IPv6 client counts by its /64, which one
// client can fill with addresses.
type spawnLimiter struct {
	perMinute int // 0: no limit

	mu     sync.Mutex
	window time.Time
	counts map[netip.Prefix]int
}

func newSpawnLimiter(perMinute int) *spawnLimiter {
	return &spawnLimiter{perMinute: perMinute, counts: map[netip.Prefix]int{}}
}

// allow reports whether client may create one more instance now, and
// counts it when it may.
func (l *spawnLimiter) allow(client netip.Addr) bool {
	if l.perMinute <= 0 {
		return true
	}
	key := auth.ClientPrefix(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.window) >= time.Minute {
		l.window = now
		clear(l.counts)
	}
	if l.counts[key] >= l.perMinute {
		return false
	}
	l.counts[key]++
	return true
}

// retryAfter is how many seconds until the current window ends.
func (l *spawnLimiter) retryAfter() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(1, int((time.Minute-time.Since(l.window)+time.Second-1)/time.Second))
}

// clientOf is the client a request's creations count against: its peer,
// or behind the front proxy the address that proxy forwards for
// (auth.ClientAddr). A unix peer with no forwarded address is the zero
// address, which counts as one client.
func clientOf(r *http.Request) netip.Addr {
	a, _ := auth.ClientAddr(r, nil)
	return a
}
