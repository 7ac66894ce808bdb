package api

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenement/tenement/errdefs"
)

// Changing calls (every method but GET and HEAD) are limited per caller:
// per token, and per local user on the socket (Identity.Actor), with a
// token bucket of settings.api_writes_per_minute that refills evenly over
// the minute. A tenant's token cannot fill the audit log, hammer systemd
// with restarts or starve the daemon's store for everyone; other callers
// are not affected.
//
// One limiter per caller that has written recently. A limiter whose bucket
// is full again is the same as a new one, so those are dropped whenever
// the map has doubled since the last sweep: the map stays near the number
// of callers active within a minute, and a sweep's cost is spread over as
// many calls as it visits.

// minSweep is the map size below which no sweep happens.
const minSweep = 1024

// writeLimiter limits each caller's changing calls.
type writeLimiter struct {
	every time.Duration // one call per this, refilled
	burst int           // calls per minute

	mu      sync.Mutex
	callers map[string]*rate.Limiter
	sweepAt int
}

// newWriteLimiter returns a limiter of perMinute calls per caller, or nil
// (no limit) for perMinute <= 0.
func newWriteLimiter(perMinute int) *writeLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &writeLimiter{every: time.Minute / time.Duration(perMinute), burst: perMinute,
		callers: map[string]*rate.Limiter{}, sweepAt: minSweep}
}

// allow takes one call from caller's bucket, or returns a
// *WriteLimitError saying when the next one is allowed.
func (l *writeLimiter) allow(caller string, now time.Time) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.callers[caller]
	if lim == nil {
		l.sweep(now)
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.callers[caller] = lim
	}
	r := lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return &WriteLimitError{Caller: caller, PerMinute: l.burst, Wait: wait}
	}
	return nil
}

// sweep drops the limiters that are full again, once the map has doubled.
func (l *writeLimiter) sweep(now time.Time) {
	if len(l.callers) < l.sweepAt {
		return
	}
	for k, lim := range l.callers {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.callers, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.callers))
}

// WriteLimitError is the error of a changing call past its caller's limit.
type WriteLimitError struct {
	Caller    string
	PerMinute int
	Wait      time.Duration
}

func (e *WriteLimitError) Error() string {
	return fmt.Sprintf("too many requests: %s made more than %d changing calls a minute (settings.api_writes_per_minute); retry in %ds",
		e.Caller, e.PerMinute, max(1, int((e.Wait+time.Second-1)/time.Second)))
}

// Unwrap returns errdefs.ErrRateLimited.
func (e *WriteLimitError) Unwrap() error { return errdefs.ErrRateLimited }

// RetryAfter is how long the caller should wait, for Retry-After.
func (e *WriteLimitError) RetryAfter() time.Duration { return e.Wait }

// changes reports whether a request's method may change something.
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// LimitWrites limits each caller to perMinute changing calls a minute (0:
// no limit); call it before serving.
func (s *Server) LimitWrites(perMinute int) { s.writes = newWriteLimiter(perMinute) }
