package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tenement/tenement/errdefs"
)

// errMalformed is the error of an Authorization header that is present but
// not "Bearer <token>".
var errMalformed = fmt.Errorf("%w: malformed Authorization header: want \"Bearer <token>\"", errdefs.ErrUnauthorized)

// BearerToken returns the token of a request's Authorization header.
// present is false when there is no such header. The scheme is matched
// case-insensitively and must be followed by exactly one space; the token
// is the rest, untrimmed. A token in the query string is never looked at.
func BearerToken(r *http.Request) (token string, present bool, err error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, errMalformed
	}
	v := vals[0]
	const scheme = "bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", true, errMalformed
	}
	return v[len(scheme):], true, nil
}

// frontKey is the context key of the front listener's mark.
type frontKey struct{}

// WithFront marks ctx as a connection's to the front proxy's listener
// (settings.front_listen). The daemon marks each connection once, in
// http.Server.ConnContext; nothing else does: a request's forwarding
// headers are believed only when it arrived there, whatever its peer.
func WithFront(ctx context.Context) context.Context {
	return context.WithValue(ctx, frontKey{}, true)
}

// FromFront reports whether ctx belongs to a connection WithFront marked.
func FromFront(ctx context.Context) bool {
	v, _ := ctx.Value(frontKey{}).(bool)
	return v
}

// peerKey is the context key of a fleet peer's mark.
type peerKey struct{}

// WithPeer marks ctx as a request that another host of the fleet sent
// (host names it): the proxy marks one whose hop header carries the
// fleet's secret and whose peer address is a live host's, and nothing
// else does. Its forwarding headers are believed as the front proxy's are,
// and on the root domain it is the API's admin.
func WithPeer(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, peerKey{}, host)
}

// FromPeer returns the fleet host that sent the request of ctx, if
// WithPeer marked it.
func FromPeer(ctx context.Context) (host string, ok bool) {
	host, ok = ctx.Value(peerKey{}).(string)
	return host, ok
}

// Forwarded reports whether the forwarding headers of the request of ctx
// may be believed: it came through the front proxy's listener or from a
// fleet peer.
func Forwarded(ctx context.Context) bool {
	if FromFront(ctx) {
		return true
	}
	_, ok := FromPeer(ctx)
	return ok
}

// ClientAddr returns the address of the client that sent r: the peer's,
// unless r arrived on the front proxy's listener (FromFront) or from a
// fleet peer (FromPeer), which forwards for its clients. There it is
// the right-most address of X-Forwarded-For that is not one of trusted (the
// proxies in front: what the nearest untrusted hop said about itself is all
// that can be believed), else the peer's, which a unix socket has not (ok
// is false then). A loopback peer is never special: every tenant is one.
func ClientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	client, ok := parseHostPort(r.RemoteAddr)
	if !Forwarded(r.Context()) {
		return client, ok
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: keep the last hop we could believe
		}
		client, ok = a.Unmap(), true
		if !contains(trusted, client) {
			break
		}
	}
	return client, ok
}

func parseHostPort(s string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
