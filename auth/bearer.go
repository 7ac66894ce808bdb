package auth

import (
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

// ClientAddr returns the address of the client that sent r: the peer's,
// unless the peer is one of the trusted proxies, in which case the
// right-most address of X-Forwarded-For that is not itself a trusted proxy
// (what the nearest untrusted hop said about itself is all that can be
// believed).
func ClientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, ok := parseHostPort(r.RemoteAddr)
	if !ok || !contains(trusted, peer) {
		return peer, ok
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: keep the last hop we could believe
		}
		client = a.Unmap()
		if !contains(trusted, client) {
			break
		}
	}
	return client, true
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
