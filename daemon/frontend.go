package daemon

import (
	"log/slog"
	"net/http"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/proxy"
	"github.com/tenement/tenement/supervisor"
)

// newFrontend returns the HTTP listener's handler: the proxy, with the root
// domain going to root.
func newFrontend(cfg *config.Config, sup *supervisor.Supervisor, root http.Handler, log *slog.Logger) http.Handler {
	return proxy.New(proxy.Options{
		Domain:  cfg.Settings.Domain,
		Backend: sup,
		Root:    root,
		Trusted: cfg.Settings.Trusted(),
		Log:     log,
	})
}
