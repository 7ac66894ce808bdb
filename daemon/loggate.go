package daemon

import (
	"net"
	"sync/atomic"
	"time"
)

// logGate lets a warning through at most once per interval, so that a
// client who can trigger it at will cannot flood the journal. The zero
// value is open.
type logGate struct {
	last atomic.Int64 // unix nanoseconds of the last warning
}

// open reports whether a warning may go out now, and if so, closes the
// gate for every.
func (g *logGate) open(every time.Duration) bool {
	now := time.Now().UnixNano()
	last := g.last.Load()
	if last != 0 && now-last < int64(every) {
		return false
	}
	return g.last.CompareAndSwap(last, now)
}

// resetClose closes a connection with a reset (SO_LINGER 0), so that the
// kernel keeps nothing of it either (no FIN_WAIT, no TIME_WAIT).
func resetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
