package daemon

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenement/tenement/auth"
)

// Connections per client.
//
// Every open connection holds one of the daemon's file descriptors, and the
// daemon has a fixed number (LimitNOFILE) for the proxy, its upstream
// connections, the store and the API. The timeouts (client_idle_timeout,
// client_header_timeout) bound how long a client may keep a connection it
// does not use, not how many it opens: one client with a few thousand idle
// keep-alive connections would leave nothing for everyone else. So the
// public listeners count each client's open connections and close a new one
// past max_conns_per_client at once, before reading a byte from it (with
// TLS, before the handshake), with a reset so the kernel keeps nothing
// either. A client is an IPv4 address or an IPv6 /64, as for the auth
// throttle (auth.ClientPrefix).
//
// The cost is one map entry per client with open connections, deleted at
// zero, and one lock around an increment per accept and per close: O(1),
// whatever the number of clients. The front proxy's listener has no such
// limit: all its connections come from the front proxy, which multiplexes
// its own clients over them and limits them itself.

// connLimit counts open connections per client across the public
// listeners (a client's connections to HTTP and HTTPS count together).
type connLimit struct {
	max int
	log *slog.Logger

	mu   sync.Mutex
	open map[netip.Prefix]int32

	refused atomic.Uint64
	gate    logGate
}

// refusedLogEvery bounds the warnings about refused connections: a client
// at its limit that keeps dialling must not flood the journal.
const refusedLogEvery = time.Minute

func newConnLimit(max int, log *slog.Logger) *connLimit {
	return &connLimit{max: max, log: log, open: map[netip.Prefix]int32{}}
}

// wrap returns ln with the limit; ln itself when there is none.
func (l *connLimit) wrap(ln net.Listener) net.Listener {
	if l.max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, l: l}
}

// acquire counts a new connection of client, unless it has max open.
func (l *connLimit) acquire(client netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.open[client]
	if int(n) >= l.max {
		return false
	}
	l.open[client] = n + 1
	return true
}

func (l *connLimit) release(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	takeOne(l.open, client)
}

// takeOne takes one off a count, and forgets a key whose count is zero,
// so that a map of counts holds only the keys in use.
func takeOne[K comparable, N int | int32](counts map[K]N, k K) {
	if n := counts[k]; n > 1 {
		counts[k] = n - 1
	} else {
		delete(counts, k)
	}
}

// refuse closes a connection past the limit with a reset.
func (l *connLimit) refuse(c net.Conn, client netip.Prefix) {
	resetClose(c)
	n := l.refused.Add(1)
	if !l.gate.open(refusedLogEvery) {
		return
	}
	l.log.Warn("closing new connections of a client at max_conns_per_client (logged at most once a minute)",
		"client", client.String(), "max_conns_per_client", l.max, "refused_total", n)
}

// limitListener is a listener under a connLimit.
type limitListener struct {
	net.Listener
	l *connLimit
}

// Accept returns the next connection of a client under the limit, and
// closes the others as they come.
func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tcp, ok := c.RemoteAddr().(*net.TCPAddr)
		if !ok {
			return c, nil
		}
		client := auth.ClientPrefix(tcp.AddrPort().Addr())
		if ll.l.acquire(client) {
			return &limitConn{Conn: c, l: ll.l, client: client}, nil
		}
		ll.l.refuse(c, client)
	}
}

// limitConn gives its count back when closed, once.
type limitConn struct {
	net.Conn
	l      *connLimit
	client netip.Prefix
	closed atomic.Bool
}

func (c *limitConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.client)
	}
	return c.Conn.Close()
}
