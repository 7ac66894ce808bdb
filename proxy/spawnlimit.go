package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// spawnLimiter bounds how many instances requests from one client may
// create per minute (settings.spawn_per_client_per_minute): a fixed window
// per client, all windows restarting together each minute, so that its
// memory is one counter per client that created something this minute and
// each check is one map access. An IPv6 client counts by its /64, which one
// client can fill with addresses.
type spawnLimiter struct {
	perMinute int // 0: no limit
	now       func() time.Time

	mu     sync.Mutex
	window time.Time
	counts map[netip.Prefix]int
}

func newSpawnLimiter(perMinute int) *spawnLimiter {
	return &spawnLimiter{perMinute: perMinute, now: time.Now, counts: map[netip.Prefix]int{}}
}

// allow reports whether client may create one more instance now, and
// counts it when it may.
func (l *spawnLimiter) allow(client netip.Addr) bool {
	if l.perMinute <= 0 {
		return true
	}
	key := clientKey(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); now.Sub(l.window) >= time.Minute {
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
	return max(1, int((time.Minute-l.now().Sub(l.window)+time.Second-1)/time.Second))
}

func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// peerAddr is the address of the request's peer; an unparsable one (a unix
// socket) is the zero address, which counts as one client.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a
}
