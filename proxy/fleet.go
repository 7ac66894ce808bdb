package proxy

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

// Forwarding in a fleet (SPEC §12).
//
// Any host serves any tenant: a request for an instance that another live
// host owns is forwarded there in one hop, Host and every header
// unchanged, with X-Forwarded-For, -Host and -Proto set as for an app and
// the hop header (apitype.HopHeader: this host's name and the fleet's
// secret). The owner believes the hop header only when it comes from a
// live host's address with the right secret (Fleet.PeerAt, a lookup in the
// agent's cache): then the request's forwarding headers are the client's
// (auth.WithPeer), so that its auth throttle and spawn limit count the
// client, not the peer; and a peer's API call is an admin's. The header
// is removed before anything else sees the request, whether it proves
// anything or not: no app ever reads the secret.
//
// A request that carried the header is never forwarded again: when this
// host does not own its instance either, the hosts disagree for a moment
// (a move: the placement changed and one watch has not delivered it yet),
// and the answer is 503 with Retry-After, which a client retries, rather
// than a loop. An instance whose owner's lease has expired (the host is
// down, or cut off from etcd) gets 503 with Retry-After at once, without
// a connection attempt; one whose owner refuses the connection too.
//
// The owner is found in the agent's cache (no call to etcd per request).
// The service route ({service}.{domain}) is not forwarded: it picks among
// this host's own instances (weights are each host's).

// Fleet is what the proxy asks of the fleet, from the agent's cache.
type Fleet interface {
	// Owner returns the host that owns n: "" when n is placed nowhere;
	// local when it is this host; alive when the host's lease is live;
	// addr where its listener is.
	Owner(n names.Instance) (host, addr string, local, alive bool)
	// PeerAt returns the live host whose advertised address has ip.
	PeerAt(ip netip.Addr) (host string, ok bool)
}

// FleetOptions put the proxy into a fleet.
type FleetOptions struct {
	Fleet Fleet
	// Host is this host's name, Secret the fleet's shared secret.
	Host, Secret string
	// LocalAddr, if valid, is the source address of forwarded requests:
	// this host's advertised IP, which the owner recognises.
	LocalAddr netip.Addr
	// MaxConnsPerHost bounds the connections to one owner (below its
	// max_conns_per_client, which counts this host as one client); 0: no
	// bound.
	MaxConnsPerHost int
}

// fleetProxy forwards requests to the other hosts of the fleet.
type fleetProxy struct {
	FleetOptions
	log *slog.Logger
	rp  *httputil.ReverseProxy
}

// hopKey marks the context of a request that carried the hop header.
type hopKey struct{}

// hopTarget is the context value of a forwarded request: its owner's
// address.
type hopTarget struct{ addr string }

func newFleetProxy(o FleetOptions, log *slog.Logger) *fleetProxy {
	fp := &fleetProxy{FleetOptions: o, log: log.With("component", "fleet-proxy")}
	t := NewTransport()
	d := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	if o.LocalAddr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: o.LocalAddr.AsSlice()}
	}
	t.DialContext = d.DialContext
	t.MaxConnsPerHost = o.MaxConnsPerHost
	fp.rp = &httputil.ReverseProxy{
		Rewrite:      fp.rewrite,
		Transport:    t,
		ErrorHandler: fp.hopError,
		BufferPool:   newBufferPool(),
		ErrorLog:     slog.NewLogLogger(fp.log.Handler(), slog.LevelWarn),
	}
	return fp
}

// receive takes the hop header off r and, when it proves a live peer
// (its address and the secret), marks r as that peer's (auth.WithPeer).
// Any request that carried the header is marked as hopped: it is never
// forwarded.
func (fp *fleetProxy) receive(r *http.Request) *http.Request {
	v, ok := r.Header[apitype.HopHeader]
	if !ok {
		return r
	}
	delete(r.Header, apitype.HopHeader)
	ctx := context.WithValue(r.Context(), hopKey{}, true)
	if host, ok := fp.peer(r.RemoteAddr, v); ok {
		ctx = auth.WithPeer(ctx, host)
	} else {
		fp.log.Warn("a request carried the fleet's hop header without proof: no live host's address, or not the fleet's secret; it is served as a client's",
			"peer", r.RemoteAddr, "host", r.Host)
	}
	return r.WithContext(ctx)
}

// peer checks a hop header's values: one "HOST SECRET", from the address
// of the live host HOST, with the fleet's secret.
func (fp *fleetProxy) peer(remote string, v []string) (string, bool) {
	if len(v) != 1 {
		return "", false
	}
	name, secret, ok := strings.Cut(v[0], " ")
	ap, err := netip.ParseAddrPort(remote)
	if !ok || err != nil || len(fp.Secret) == 0 {
		return "", false
	}
	host, live := fp.Fleet.PeerAt(ap.Addr().Unmap())
	if !live || host != name || subtle.ConstantTimeCompare([]byte(secret), []byte(fp.Secret)) != 1 {
		return "", false
	}
	return host, true
}

func hopped(r *http.Request) bool {
	v, _ := r.Context().Value(hopKey{}).(bool)
	return v
}

// forward serves a request for an instance another host owns, and
// reports whether it did (false: the instance is this host's, or placed
// nowhere).
func (fp *fleetProxy) forward(w http.ResponseWriter, r *http.Request, n names.Instance, svc *config.Service) bool {
	host, addr, local, alive := fp.Fleet.Owner(n)
	switch {
	case host == "" || local:
		return false
	case hopped(r):
		fp.log.Info("not forwarding a request a peer forwarded: the hosts disagree on its owner for a moment", "instance", n.String(), "owner", host, "peer", r.RemoteAddr)
		unavailable(w, svc)
	case !alive:
		unavailable(w, svc)
	default:
		ctx := context.WithValue(r.Context(), hopTarget{}, hopTarget{addr: addr})
		if rt := svc.RequestTimeout.D(); rt > 0 {
			// the owner's wake and request_timeout, and a margin
			f := &forwarding{timeout: svc.WakeTimeout.D() + rt + 5*time.Second}
			ctx = context.WithValue(ctx, forwardKey{}, f)
		}
		fp.rp.ServeHTTP(w, r.WithContext(ctx))
	}
	return true
}

// unavailable answers 503 with the service's Retry-After.
func unavailable(w http.ResponseWriter, svc *config.Service) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(svc)))
	plainError(w, http.StatusServiceUnavailable, "service unavailable")
}

// rewrite builds the hop: the owner's address, Host and headers unchanged,
// the forwarding headers as for an app, and the hop header.
func (fp *fleetProxy) rewrite(pr *httputil.ProxyRequest) {
	t, _ := pr.In.Context().Value(hopTarget{}).(hopTarget)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = t.addr
	pr.Out.Host = pr.In.Host
	setForwarded(pr)
	pr.Out.Header.Set(apitype.HopHeader, fp.Host+" "+fp.Secret)
}

// hopError maps a failed hop: the owner unreachable is 503 with
// Retry-After (it is restarting, or cut off, and its lease has not
// expired yet), no answer in time 504, anything else 502.
func (fp *fleetProxy) hopError(w http.ResponseWriter, r *http.Request, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		w.WriteHeader(499)
	case errors.Is(err, errHeaderTimeout):
		plainError(w, http.StatusGatewayTimeout, "gateway timeout")
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || (errors.As(err, &ne) && ne.Timeout()):
		fp.log.Warn("a fleet host did not take a forwarded request", "host", r.Host, "err", err)
		w.Header().Set("Retry-After", "1")
		plainError(w, http.StatusServiceUnavailable, "service unavailable")
	default:
		fp.log.Warn("forwarding to a fleet host failed", "host", r.Host, "err", err)
		plainError(w, http.StatusBadGateway, "bad gateway")
	}
}
