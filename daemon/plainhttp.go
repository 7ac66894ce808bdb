package daemon

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tenement/tenement/errdefs"
)

// The API and dashboard over plain HTTP.
//
// The root domain of the public listeners serves the dashboard and the
// management API, and the API takes bearer tokens: over plain HTTP a token
// crosses the network in clear text, and the dashboard's sign-in asks for
// one. The packaged tenement.socket listens on port 8080 of every address,
// so by default (settings.api_over_http = "loopback") a request for the
// root domain that came over plain HTTP is answered only when its peer is
// a loopback address (a local curl, an SSH tunnel, a proxy on this host),
// or when it came through the front proxy's listener (front.go), which
// stands behind a TLS-terminating proxy. Anyone else gets 403 and one line
// saying how to open it. Loopback includes every tenant on the host
// network, as for the ask endpoint (hostpolicy.go): what is kept off the
// network is the token, and a tenant still needs one.
//
// Over HTTPS (tenement's own TLS: the request has r.TLS) the root domain
// is served to everyone; with TLS on, the plain-HTTP listener only
// redirects (tls.go) and never gets here. The tenants' hosts never get
// here either. GET /health stays open to everyone: it takes no token and
// says only "ok", and load balancers probe it over plain HTTP.

// errPlainHTTP is the answer to a peer the root domain does not serve over
// plain HTTP.
var errPlainHTTP = fmt.Errorf(`%w: the API and dashboard answer plain HTTP only from loopback: turn on [settings.tls], put a front proxy on settings.front_listen, or set settings.api_over_http = "any"`, errdefs.ErrForbidden)

// localOverHTTP answers the requests of h that came over plain HTTP from
// a peer neither loopback nor the front proxy with 403 and
// errPlainHTTP: as the API's JSON error, or as text for the dashboard's
// page and assets, which a browser shows.
func localOverHTTP(h http.Handler, log *slog.Logger) http.Handler {
	var gate logGate
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil || loopbackOrFront(r) || isHealth(r) {
			h.ServeHTTP(w, r)
			return
		}
		if gate.open(time.Minute) {
			log.Warn(`refused the API or dashboard over plain HTTP to a peer that is not loopback (settings.api_over_http = "loopback"; logged at most once a minute)`,
				"peer", r.RemoteAddr, "host", r.Host, "path", r.URL.Path)
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/assets/") {
			http.Error(w, errPlainHTTP.Error(), http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": errPlainHTTP.Error()})
	})
}

func isHealth(r *http.Request) bool {
	return r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}
