package daemon

import (
	"log/slog"
	"net/http"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dashboard"
	"github.com/tenement/tenement/proxy"
	"github.com/tenement/tenement/supervisor"
)

// newFrontend returns the HTTP listener's handler: the proxy, with custom
// domains going to the instances doms binds them to, and the root domain
// to rootHandler(api). obs, if not nil, is told about every proxied
// request (metrics); fleet, if not nil, forwards other fleet hosts'
// instances.
func newFrontend(cfg *config.Config, sup *supervisor.Supervisor, doms proxy.Domains, api http.Handler, obs proxy.Observer, fleet *proxy.FleetOptions, log *slog.Logger) http.Handler {
	px := proxy.New(proxy.Options{
		Fleet:    fleet,
		Domain:   cfg.Settings.Domain,
		Backend:  sup,
		Domains:  doms,
		Root:     rootHandler(api, cfg.Settings.APIOverHTTP, log),
		Log:      log,
		Observer: obs,

		SpawnPerClientPerMinute: cfg.Settings.SpawnsPerClient(),
	})
	// An instance that stops (or sleeps) closes its WebSockets with 1001
	// first.
	sup.SetBeforeStop(px.GoingAway)
	return px
}

// rootHandler serves the root domain: the dashboard's page (/) and assets
// (/assets/) without a token, everything else through the API, which
// wants one. Unless overHTTP (settings.api_over_http) is "any", over plain
// HTTP only to loopback peers and the front proxy (plainhttp.go).
func rootHandler(api http.Handler, overHTTP string, log *slog.Logger) http.Handler {
	dash := dashboard.Handler()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", dash)
	mux.Handle("GET /assets/", dash)
	mux.Handle("/", api)
	if overHTTP == config.APIOverHTTPAny {
		return mux
	}
	return localOverHTTP(mux, log.With("component", "root"))
}
