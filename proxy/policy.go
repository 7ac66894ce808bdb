package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// The wake policy of a service (config/policy.go), on the request path:
// probes and monitors never wake anything, and a request that finds its
// instance asleep is held, shown a "starting" page, or told to come back,
// as the service's wake says.

// Prober is told about requests tenement answered itself for an asleep
// instance (probe_paths, no_wake_user_agents); the Observer may be one.
type Prober interface {
	Probe(n names.Instance, kind string)
}

// passive answers a probe (probe_paths) or a monitor (no_wake_user_agents)
// without waking anything: proxied with a lease that is no activity when
// the instance runs; else a probe gets 200 with a small JSON body and a
// monitor 503 with Retry-After. It returns false when the request is
// neither.
func (p *Proxy) passive(w http.ResponseWriter, r *http.Request, n names.Instance, svc *config.Service, f *forwarding) bool {
	probe := svc.IsProbe(r.URL.Path)
	if !probe && !svc.NoWake(r.UserAgent()) {
		return false
	}
	lease, awake, err := p.backend.AcquireAwake(n)
	switch {
	case err != nil:
		p.fail(w, r, n, err, svc)
		return true
	case awake:
		p.forward(&f.w, r, lease, f)
		return true
	}
	kind := "user_agent"
	if probe {
		kind = "probe_path"
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "asleep", "instance": n.String()})
	} else {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(svc)))
		plainError(w, http.StatusServiceUnavailable, "asleep")
	}
	if pr, ok := p.obs.(Prober); ok && p.obs != nil {
		pr.Probe(n, kind)
	}
	return true
}

// early answers a request for an asleep instance at once when the
// service's wake is "background" (503 with Retry-After) or "page" (a
// browser's GET gets a page that refreshes until the instance answers),
// having started the instance; it returns false when the request is to be
// held (the instance is awake, wake is "hold", or a page is not for it).
func (p *Proxy) early(w http.ResponseWriter, r *http.Request, n names.Instance, svc *config.Service) bool {
	if svc.Wake == config.WakeHold || (svc.Wake == config.WakePage && !wantsPage(r)) || p.backend.Awake(n) {
		return false
	}
	err := p.backend.Wake(n, supervisor.CauseRequest)
	if errors.Is(err, errdefs.ErrNotFound) && svc.SpawnOnRequest {
		if err = p.create(r, n); err == nil {
			err = p.backend.Wake(n, supervisor.CauseRequest)
		}
	}
	if err != nil {
		p.fail(w, r, n, err, svc)
		return true
	}
	if svc.Wake == config.WakeBackground {
		w.Header().Set("Retry-After", strconv.Itoa(min(retryAfter(svc), 5)))
		plainError(w, http.StatusServiceUnavailable, "starting")
		return true
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, startingPage)
	return true
}

// wantsPage reports whether a request is a browser's page load: a GET
// (or HEAD) that accepts HTML.
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}

// startingPage is what a browser sees while its instance starts: it asks
// again every second, and gets the app's own answer once it is up. 503
// keeps caches and crawlers from taking it for the page.
const startingPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="1">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Starting…</title>
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#333}</style>
</head><body><main role="status" aria-live="polite"><p>Starting… this page reloads by itself.</p></main></body></html>
`

// serverTiming is the Server-Timing header of a request that waited for a
// wake.
func serverTiming(ms float64) string { return fmt.Sprintf("wake;dur=%.1f", ms) }
