// Package proxy is tenement's HTTP front: it maps a request's Host to an
// instance (a custom domain bound to it, or {id}.{service}.{domain}), or to
// a service ({service}.{domain}, weighted), wakes the instance if it sleeps, and
// forwards the request with httputil.ReverseProxy. Bodies stream; upgrades
// (WebSocket and any other) and server-sent events pass through; the
// instance is kept awake while a request, stream or upgraded connection is
// open. The root domain goes to the dashboard and API.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// Backend is what the proxy needs from the supervisor.
type Backend interface {
	Acquire(ctx context.Context, n names.Instance) (supervisor.Lease, error)
	// AcquireAwake leases a running instance without waking anything and
	// without activity (a probe); false when it is not running.
	AcquireAwake(n names.Instance) (supervisor.Lease, bool, error)
	// Awake reports whether an instance runs now.
	Awake(n names.Instance) bool
	// Wake starts an asleep instance without waiting for it.
	Wake(n names.Instance, cause supervisor.Cause) error
	// CreateForRequest makes an unknown instance known because a request
	// asked for it (spawn_on_request, within max_instances).
	CreateForRequest(n names.Instance) error
	Pick(service string) (names.Instance, error)
	ServiceConfig(service string) *config.Service
}

var _ Backend = (*supervisor.Supervisor)(nil)

// Observer is told about every proxied request; it must not block.
type Observer interface {
	Request(n names.Instance, status int, d time.Duration)
}

// Options configure a Proxy.
type Options struct {
	Domain  string
	Backend Backend
	// Root serves the root domain (dashboard, API, metrics).
	Root     http.Handler
	Log      *slog.Logger
	Observer Observer
	// Domains, if set, routes custom domains (domains.go).
	Domains Domains
	// SpawnPerClientPerMinute bounds the instances requests from one
	// client may create per minute (spawn_on_request); 0: no limit.
	SpawnPerClientPerMinute int
	// Fleet, if set, forwards requests for other hosts' instances
	// (fleet.go).
	Fleet *FleetOptions
}

// Proxy is the HTTP listener's handler.
type Proxy struct {
	domain  string
	backend Backend
	domains Domains
	root    http.Handler
	log     *slog.Logger
	obs     Observer
	spawns  *spawnLimiter
	ws      websockets // open WebSockets, by instance (streams.go)
	rp      *httputil.ReverseProxy
	fleet   *fleetProxy // nil outside a fleet
}

// New returns a Proxy.
func New(o Options) *Proxy {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		domain:  o.Domain,
		backend: o.Backend,
		domains: o.Domains,
		root:    o.Root,
		log:     o.Log.With("component", "proxy"),
		obs:     o.Observer,
		spawns:  newSpawnLimiter(o.SpawnPerClientPerMinute),
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		Transport:      &headerTimeout{base: NewTransport()},
		ErrorHandler:   p.upstreamError,
		BufferPool:     newBufferPool(),
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	if o.Fleet != nil {
		p.fleet = newFleetProxy(*o.Fleet, p.log)
	}
	return p
}

// NewTransport returns the shared upstream transport: keep-alive to every
// instance, no proxy, no compression (bodies pass through as they are).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 256,
		// An idle connection to an app costs ~20 KiB (two goroutines, two
		// 4 KiB buffers: the default sizes, which large bodies bypass)
		// and holds the app's side open; 30s keeps them for the next
		// requests of a busy tenant and lets those of quiet ones go.
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
}

// forwardKey is the context key of a request's *forwarding.
type forwardKey struct{}

// ServeHTTP routes a request by its Host.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.fleet != nil {
		r = p.fleet.receive(r) // a peer's hop header (fleet.go)
	}
	route := p.route(r.Host)
	switch route.Kind {
	case KindRoot:
		if p.root == nil {
			plainError(w, http.StatusNotFound, "not found")
			return
		}
		p.root.ServeHTTP(w, r)
		return
	case KindUnknown:
		plainError(w, http.StatusNotFound, "not found")
		return
	}
	svc := p.backend.ServiceConfig(route.Service)
	if svc == nil {
		plainError(w, http.StatusNotFound, "not found")
		return
	}
	if p.fleet != nil && (route.Kind == KindInstance || route.Kind == KindDomain) && p.fleet.forward(w, r, route.Instance, svc) {
		return // another host's instance
	}
	f := newForwarding(w, r, svc, time.Now())
	f.custom = route.Kind == KindDomain
	n := route.Instance
	if route.Kind == KindService {
		var err error
		if n, err = p.backend.Pick(route.Service); err != nil {
			p.fail(&f.w, r, n, err, svc)
			p.observe(n, f)
			return
		}
	}
	f.n = n
	r = r.WithContext(httptrace.WithClientTrace(context.WithValue(r.Context(), forwardKey{}, f), &f.trace))
	switch {
	case p.passive(&f.w, r, n, svc, f): // a probe or a monitor: never wakes
	case p.early(&f.w, r, n, svc): // wake = "background" or "page"
	default:
		p.hold(r, n, svc, f)
	}
	p.observe(n, f)
}

// observe reports a request to the observer, once it is answered.
func (p *Proxy) observe(n names.Instance, f *forwarding) {
	if p.obs != nil && !n.IsZero() && f.w.status != 0 {
		p.obs.Request(n, f.w.code(), time.Since(f.start))
	}
}

// hold forwards the request, waiting for its instance to wake when it
// sleeps, and retrying while systemd restarts an app that crashed.
func (p *Proxy) hold(r *http.Request, n names.Instance, svc *config.Service, f *forwarding) {
	for {
		lease, err := p.acquire(r, n, svc)
		if err != nil {
			p.fail(&f.w, r, n, err, svc)
			return
		}
		p.forward(&f.w, r, lease, f)
		if !f.retry {
			return
		}
		// The app refused the connection: it crashed and systemd is
		// restarting it. Acquire again (it waits while the instance
		// starts) and retry, within wake_timeout.
		select {
		case <-r.Context().Done():
			return
		case <-time.After(retryDelay):
		}
	}
}

// acquire leases the instance, creating it first when it is unknown and
// its service has spawn_on_request, within the client's creations per
// minute. A custom domain never creates one: it is bound to an instance
// that exists, and one it still names while being deleted is gone.
func (p *Proxy) acquire(r *http.Request, n names.Instance, svc *config.Service) (supervisor.Lease, error) {
	lease, err := p.backend.Acquire(r.Context(), n)
	if err == nil || !svc.SpawnOnRequest || forwardingOf(r).custom || !errors.Is(err, errdefs.ErrNotFound) {
		return lease, err
	}
	if err := p.create(r, n); err != nil {
		return supervisor.Lease{}, err
	}
	return p.backend.Acquire(r.Context(), n)
}

// create makes an unknown instance known for a request
// (spawn_on_request), within the client's creations per minute.
func (p *Proxy) create(r *http.Request, n names.Instance) error {
	if !p.spawns.allow(clientOf(r)) {
		return &spawnLimited{retryAfter: p.spawns.retryAfter()}
	}
	return p.backend.CreateForRequest(n)
}

// spawnLimited is a request refused because its client created too many
// instances this minute.
type spawnLimited struct{ retryAfter int }

func (e *spawnLimited) Error() string {
	return "this client created too many instances; retry in " + strconv.Itoa(e.retryAfter) + "s"
}
func (e *spawnLimited) Unwrap() error { return errdefs.ErrRateLimited }

// forward sends the request to the leased instance. The lease is released
// in a defer: ReverseProxy aborts a broken stream by panicking with
// http.ErrAbortHandler, and a leaked lease would keep the instance awake.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, lease supervisor.Lease, f *forwarding) {
	defer lease.Release()
	f.upstream, f.retry, f.lease = lease.Addr, false, lease
	if isWebSocket(r) {
		var cc *clientConn
		f.w.onHijack = func(c net.Conn) net.Conn {
			cc = &clientConn{Conn: c}
			p.ws.add(f.n, cc)
			return cc
		}
		defer func() {
			if cc != nil {
				p.ws.remove(f.n, cc)
			}
		}()
	}
	if lease.Woke > 0 && f.timing {
		w.Header().Set("Server-Timing", serverTiming(float64(lease.Woke.Microseconds())/1000))
	}
	p.rp.ServeHTTP(w, r)
	if !f.retry {
		lease.Served(f.w.code())
	}
}

const (
	// maxRetry bounds how long a request retries an app that refuses
	// connections (restarting after a crash).
	maxRetry   = 10 * time.Second
	retryDelay = 20 * time.Millisecond
)

// forwarding is one proxied request's state, shared through one context
// value by ServeHTTP, the Rewrite hook, the transport and the error
// handler (one allocation instead of one per value).
type forwarding struct {
	w        statusWriter
	start    time.Time
	n        names.Instance
	lease    supervisor.Lease // the lease of the attempt in progress
	timing   bool             // the service's server_timing
	upstream string           // the leased instance's address
	timeout  time.Duration    // the service's request_timeout
	custom   bool             // the Host is a custom domain
	// Retries of an app that refuses connections (restarting): until
	// when, whether the request can be sent again, whether to.
	until      time.Time
	replayable bool
	retry      bool
	// sent is set once the request was written to an app: a request that
	// may have crashed it is never sent again by tenement (Go's transport
	// itself resends an idempotent request once on a broken reused
	// connection; that is all).
	sent  atomic.Bool
	trace httptrace.ClientTrace
}

func newForwarding(w http.ResponseWriter, r *http.Request, svc *config.Service, start time.Time) *forwarding {
	f := &forwarding{
		w:          statusWriter{ResponseWriter: w},
		start:      start,
		timing:     svc.Timing(),
		timeout:    svc.RequestTimeout.D(),
		until:      start.Add(min(svc.WakeTimeout.D(), maxRetry)),
		replayable: replayable(r),
	}
	f.trace.WroteHeaders = func() { f.sent.Store(true) }
	return f
}

func forwardingOf(r *http.Request) *forwarding {
	f, _ := r.Context().Value(forwardKey{}).(*forwarding)
	return f
}

// replayable reports whether a request can be sent again: it has no body.
func replayable(r *http.Request) bool {
	return r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

// fail answers a request that could not be forwarded.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, n names.Instance, err error, svc *config.Service) {
	status := errdefs.HTTPStatus(err)
	switch status {
	case http.StatusNotFound:
		plainError(w, status, "not found")
	case http.StatusTooManyRequests:
		after := 60
		var sl *spawnLimited
		if errors.As(err, &sl) {
			after = sl.retryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(after))
		plainError(w, status, "too many requests")
		p.log.Debug("instance not created", "host", r.Host, "instance", n.String(), "client", r.RemoteAddr, "err", err)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(svc)))
		plainError(w, status, "service unavailable")
		p.log.Warn("instance unavailable", "host", r.Host, "instance", n.String(), "err", err)
	default:
		if errors.Is(err, context.Canceled) {
			return // the client went away while waiting
		}
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(svc)))
		plainError(w, status, "service unavailable")
		p.log.Error("instance could not be reached", "host", r.Host, "instance", n.String(), "err", err)
	}
}

// retryAfter is the Retry-After seconds of a 503: the service's wake time.
func retryAfter(svc *config.Service) int {
	return max(1, int(svc.WakeTimeout.D().Round(time.Second)/time.Second))
}

// rewrite builds the upstream request: the instance's address, the client's
// Host and every header unchanged (hop-by-hop headers aside), and
// X-Forwarded-For/-Host/-Proto. The client's own X-Forwarded-For and
// X-Forwarded-Proto are kept only when the request arrived on the front
// proxy's listener or from a fleet peer (auth.Forwarded); elsewhere the
// peer is the client, or a tenant on loopback could speak for anyone to
// another tenant's app.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = forwardingOf(pr.In).upstream
	pr.Out.Host = pr.In.Host
	setForwarded(pr)
}

// setForwarded sets X-Forwarded-For, -Host and -Proto: the peer is the
// client, unless the request came through the front proxy's listener or
// from a fleet peer (auth.Forwarded), whose own headers are kept.
func setForwarded(pr *httputil.ProxyRequest) {
	if !auth.Forwarded(pr.In.Context()) {
		pr.SetXForwarded()
		return
	}
	prior := pr.In.Header["X-Forwarded-For"]
	pr.Out.Header["X-Forwarded-For"] = prior
	pr.SetXForwarded()
	if _, _, err := net.SplitHostPort(pr.In.RemoteAddr); err != nil && prior != nil {
		// A unix socket's peer has no address to append, and
		// SetXForwarded drops the header then.
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	if proto := pr.In.Header.Get("X-Forwarded-Proto"); pr.In.TLS == nil && (proto == "https" || proto == "http") {
		pr.Out.Header.Set("X-Forwarded-Proto", proto)
	}
}

// upstreamError maps a failed forward: 504 when the app sent no response
// headers within request_timeout, 502 when it broke.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if f := forwardingOf(r); f != nil && f.replayable && !f.sent.Load() &&
		errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(f.until) {
		f.retry = true // nothing was written; ServeHTTP tries again
		return
	}
	switch {
	case errors.Is(err, errHeaderTimeout):
		plainError(w, http.StatusGatewayTimeout, "gateway timeout")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		w.WriteHeader(499)
	default:
		p.log.Warn("upstream failed", "host", r.Host, "err", err)
		plainError(w, http.StatusBadGateway, "bad gateway")
	}
}

func plainError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(strconv.Itoa(status) + " " + msg + "\n"))
}

// statusWriter remembers the status code for observers. It passes Flush,
// Hijack and the rest through via Unwrap (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status int
	// onHijack, if set, wraps the client's connection taken over for an
	// upgrade (streams.go).
	onHijack func(net.Conn) net.Conn
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
