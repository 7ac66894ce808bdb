package proxy

import (
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/names"
)

// Domains answers which instance a custom domain is bound to (ten domain
// add); *domains.Table does, from memory.
type Domains interface {
	DomainOwner(host string) (names.Instance, bool)
}

var _ Domains = (*domains.Table)(nil)

// route maps a Host header to a route: an exact custom domain first, then
// the subdomain rules of ParseHost. A custom domain is never the root
// domain nor under it (domains.Table refuses those), so a host under the
// root domain skips the lookup: the subdomain routes cost nothing more.
func (p *Proxy) route(host string) Route {
	h := hostOnly(host)
	if p.domains != nil && !p.underRoot(h) {
		if n, ok := p.domains.DomainOwner(h); ok {
			return Route{Kind: KindDomain, Service: n.Service, Instance: n}
		}
	}
	return parseName(h, p.domain)
}

// underRoot reports whether h is the root domain or a name under it.
func (p *Proxy) underRoot(h string) bool {
	return h == p.domain || len(h) > len(p.domain) && h[len(h)-len(p.domain)-1] == '.' && h[len(h)-len(p.domain):] == p.domain
}
