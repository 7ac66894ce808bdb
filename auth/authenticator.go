package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/store"
)

// Authenticator verifies the bearer tokens of requests that came over the
// network, throttling clients that present bad ones.
type Authenticator struct {
	store    Store
	throttle *Throttle
	trusted  []netip.Prefix
	log      *slog.Logger
}

// NewAuthenticator returns an Authenticator over a token store. trusted are
// the proxies whose X-Forwarded-For names the client (settings.trusted_proxies).
// A nil throttle gets the defaults.
func NewAuthenticator(st Store, throttle *Throttle, trusted []netip.Prefix, log *slog.Logger) *Authenticator {
	if throttle == nil {
		throttle = NewThrottle()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{store: st, throttle: throttle, trusted: trusted, log: log.With("component", "auth")}
}

// RateLimitError is the error of a request from a blocked client.
type RateLimitError struct {
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many requests: too many failed authentication attempts from this address; retry in %ds", retrySeconds(e.Wait))
}

// Unwrap returns errdefs.ErrRateLimited.
func (e *RateLimitError) Unwrap() error { return errdefs.ErrRateLimited }

// RetryAfter is how long the client should wait, for Retry-After.
func (e *RateLimitError) RetryAfter() time.Duration { return e.Wait }

func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Authenticate returns the token of a request. A blocked client gets a
// *RateLimitError before its token is looked at; a missing token is
// ErrUnauthorized and is not counted as a failed attempt; a malformed,
// unknown or revoked one is, and the client is blocked after too many.
func (a *Authenticator) Authenticate(r *http.Request) (store.Token, error) {
	addr, ok := ClientAddr(r, a.trusted)
	if !ok {
		return store.Token{}, fmt.Errorf("%w: unknown client address", errdefs.ErrUnauthorized)
	}
	if wait, blocked := a.throttle.Blocked(addr); blocked {
		return store.Token{}, &RateLimitError{Wait: wait}
	}
	secret, present, err := BearerToken(r)
	if !present {
		return store.Token{}, fmt.Errorf("%w: missing bearer token", errdefs.ErrUnauthorized)
	}
	if err == nil {
		var tok store.Token
		tok, err = Verify(a.store, secret)
		if err == nil {
			return tok, nil
		}
		if !errors.Is(err, errdefs.ErrUnauthorized) {
			return store.Token{}, err // the store failed; not the client's fault
		}
	}
	if a.throttle.Fail(addr) {
		a.log.Warn("client blocked after failed authentication attempts", "client", addr.String(),
			"failures", a.throttle.MaxFailures, "cooldown", a.throttle.Cooldown)
	}
	return store.Token{}, err
}
