package proxy

import (
	"net"
	"net/netip"
	"strings"

	"github.com/tenement/tenement/names"
)

// Kind is what a Host header addresses.
type Kind int

// The kinds of hosts.
const (
	// KindUnknown is a host tenement does not serve (another domain, or
	// a malformed name under its own): 404.
	KindUnknown Kind = iota
	// KindRoot is the root domain (or an IP literal or "localhost"):
	// dashboard and API.
	KindRoot
	// KindService is {service}.{domain}: weighted across the service.
	KindService
	// KindInstance is {id}.{service}.{domain}: that instance.
	KindInstance
	// KindDomain is a custom domain bound to an instance (ten domain
	// add): that instance (domains.go).
	KindDomain
)

// Route is a parsed Host header.
type Route struct {
	Kind     Kind
	Service  string
	Instance names.Instance // for KindInstance and KindDomain
}

// ParseHost maps a Host header to a route under domain (lowercase, no
// trailing dot). Matching is case-insensitive, ignores the port and
// tolerates a trailing dot. Names are validated by the names package, so
// nothing that is not a valid service or id gets through.
func ParseHost(host, domain string) Route { return parseName(hostOnly(host), domain) }

// parseName is ParseHost of a host that hostOnly has cleaned.
func parseName(h, domain string) Route {
	if h == "" {
		return Route{Kind: KindUnknown}
	}
	if h == domain || h == "localhost" {
		return Route{Kind: KindRoot}
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return Route{Kind: KindRoot}
	}
	rest, ok := strings.CutSuffix(h, "."+domain)
	if !ok || rest == "" {
		return Route{Kind: KindUnknown}
	}
	first, second, two := strings.Cut(rest, ".")
	if !two {
		if names.ValidateService(first) != nil {
			return Route{Kind: KindUnknown}
		}
		return Route{Kind: KindService, Service: first}
	}
	if strings.Contains(second, ".") {
		return Route{Kind: KindUnknown}
	}
	n, err := names.New(second, first)
	if err != nil {
		return Route{Kind: KindUnknown}
	}
	return Route{Kind: KindInstance, Service: second, Instance: n}
}

// hostOnly lowercases host and drops its port and a trailing dot.
func hostOnly(host string) string {
	if h, port, err := net.SplitHostPort(host); err == nil {
		if !digits(port) {
			return ""
		}
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.TrimSuffix(host, ".")
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	return host
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
