package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/proxy"
	"github.com/tenement/tenement/supervisor"
)

// Instances is what the host policy needs from the supervisor.
type Instances interface {
	ServiceConfig(service string) *config.Service
	Known(n names.Instance) bool
}

var _ Instances = (*supervisor.Supervisor)(nil)

// Domains is what the host policy and the certificates need of the custom
// domains' table: which instance a domain is bound to, from memory, and
// word of every domain unbound.
type Domains interface {
	DomainOwner(host string) (names.Instance, bool)
	OnUnbind(f func(domain string))
}

var _ Domains = (*domains.Table)(nil)

// errNotServed is the host policy's answer for a name tenement does not
// serve.
var errNotServed = fmt.Errorf("%w: tenement serves no such host", errdefs.ErrNotFound)

// hostPolicy decides which names get a certificate: the root domain itself,
// a custom domain bound to an instance (ten domain add),
// {service}.{domain} of a configured service, and {id}.{service}.{domain}
// of a known instance or of a service with spawn_on_request. Nothing else:
// no IP literals, no "localhost", no names under other domains, no unknown
// ids, no domain unbound. It is autocert's HostPolicy, the order gate's
// (acmegate.go) and the answer of the ask endpoint that Caddy's on-demand
// TLS consults.
type hostPolicy struct {
	domain string
	insts  Instances
	doms   Domains // nil: no custom domains
}

func newHostPolicy(domain string, insts Instances, doms Domains) *hostPolicy {
	return &hostPolicy{domain: domain, insts: insts, doms: doms}
}

// Allow returns nil when host (a name, with or without a port) is one
// tenement serves, else an error wrapping errNotServed. It asks nobody:
// autocert calls it on every TLS handshake.
func (p *hostPolicy) Allow(_ context.Context, host string) error {
	name := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	name = strings.TrimSuffix(name, ".")
	if name == p.domain {
		return nil
	}
	if p.doms != nil {
		if _, ok := p.doms.DomainOwner(name); ok {
			return nil
		}
	}
	route := proxy.ParseHost(name, p.domain)
	if route.Kind != proxy.KindService && route.Kind != proxy.KindInstance {
		return fmt.Errorf("%w: %q", errNotServed, name)
	}
	svc := p.insts.ServiceConfig(route.Service)
	if svc == nil {
		return fmt.Errorf("%w: %q: no service %q", errNotServed, name, route.Service)
	}
	if route.Kind == proxy.KindService || svc.SpawnOnRequest || p.insts.Known(route.Instance) {
		return nil
	}
	return fmt.Errorf("%w: %q: no instance %s", errNotServed, name, route.Instance)
}

// withAsk serves apitype.AskPath, the ask endpoint of Caddy's on-demand
// TLS (GET AskPath?domain=NAME: 200 when tenement serves NAME, else 404),
// on the root domain (an IP literal or localhost included, which is how
// Caddy calls it) to the front proxy's listener and to loopback peers, and
// passes everything else to next.
//
// Loopback includes every tenant on the host network. That is deliberate:
// Caddy 2.6's ask is an http:// URL (no unix socket), so it comes over TCP,
// and the answer is no secret. It says whether tenement serves a name, which
// anyone on the internet learns as well from a request for that name (404
// or not) or, with tenement's own TLS, from a handshake; it wakes nothing
// and asks nobody (hostPolicy.Allow is a lookup in memory).
func withAsk(domain string, pol *hostPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != apitype.AskPath || proxy.ParseHost(r.Host, domain).Kind != proxy.KindRoot || !loopbackOrFront(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := r.URL.Query().Get("domain")
		if name == "" {
			http.Error(w, "missing ?domain=NAME", http.StatusBadRequest)
			return
		}
		if err := pol.Allow(r.Context(), name); err != nil {
			http.Error(w, "not served", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// loopbackOrFront reports whether r came through the front proxy's
// listener, from a fleet peer (its hop proven) or from a loopback peer: who may ask, and who may use the API
// over plain HTTP (plainhttp.go).
func loopbackOrFront(r *http.Request) bool {
	if auth.Forwarded(r.Context()) { // the front proxy, or a fleet peer
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
