package daemon

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/config"
)

// roles tells activation.Classify which address each listener has, so
// that the sockets of one tenement.socket (all named "tenement.socket" by
// systemd) find their role.
func roles(cfg *config.Config) activation.Roles {
	r := activation.Roles{APIPath: cfg.Settings.APISocket}
	switch network, addr := cfg.Settings.FrontAddr(); network {
	case "unix":
		r.FrontPath = addr
	case "tcp":
		r.FrontAddr, _ = netip.ParseAddrPort(addr)
	}
	t := cfg.Settings.TLS
	if t.Enabled {
		r.HTTPPort, r.HTTPSPort = t.HTTPPort, t.HTTPSPort
		return r
	}
	_, port, _ := net.SplitHostPort(cfg.Settings.Listen)
	r.HTTPPort, _ = strconv.Atoi(port)
	return r
}

// publicServers opens the listeners that face clients (from systemd, else
// bound here) and returns their servers. Without TLS that is the proxy on
// settings.listen. With TLS it is the proxy on the HTTPS port, with
// certificates obtained on demand, and on the HTTP port the redirect to
// HTTPS and the ACME HTTP-01 challenges. With front_listen, the proxy
// there too, for the front proxy (front.go). Every one answers Caddy's
// on-demand TLS question (AskPath) on the root domain, to whom withAsk
// says. All have the client timeouts and header limit; the public ones
// (not the front proxy's) the limit of connections per client
// (connlimit.go).
func publicServers(cfg *config.Config, ls *activation.Listeners, insts Instances, doms Domains, h http.Handler, log *slog.Logger) (servers []*server, err error) {
	s := &cfg.Settings
	pol := newHostPolicy(s.Domain, insts, doms)
	h = withAsk(s.Domain, pol, h)
	defer func() {
		if err != nil {
			for _, srv := range servers {
				srv.ln.Close()
			}
		}
	}()
	lim := newConnLimit(s.ConnsPerClient(), log.With("component", "listeners"))
	if s.TLS.Enabled {
		servers, err = tlsServers(cfg, ls, pol, doms, lim, h, log)
	} else {
		var ln net.Listener
		ln, err = listenTCP(ls, activation.NameHTTP, s.Listen, log)
		if err == nil {
			servers = append(servers, newServer("http", lim.wrap(ln), clientServer(s, h, log.With("listener", "http"))))
		}
	}
	if err != nil {
		return servers, err
	}
	front, err := frontServer(s, ls, h, log)
	if err != nil || front == nil {
		return servers, err
	}
	return append(servers, front), nil
}

// tlsServers opens the HTTPS listener and the HTTP one that redirects to
// it. A custom domain unbound loses its certificates (certs.forget).
func tlsServers(cfg *config.Config, ls *activation.Listeners, pol *hostPolicy, doms Domains, lim *connLimit, h http.Handler, log *slog.Logger) ([]*server, error) {
	s := &cfg.Settings
	if s.Domain == "localhost" || !strings.Contains(s.Domain, ".") { // --domain may have changed it
		return nil, fmt.Errorf("tls: domain %q: certificates need a public DNS name", s.Domain)
	}
	if err := migrateACMECache(cfg, log); err != nil {
		return nil, err
	}
	c, err := newCerts(s.TLS, s.Domain, pol, log)
	if err != nil {
		return nil, err
	}
	if doms != nil {
		doms.OnUnbind(c.forget)
	}
	httpsAddr, httpAddr := s.TLS.Addrs(s.Listen)
	httpsLn, err := listenTCP(ls, activation.NameHTTPS, httpsAddr, log)
	if err != nil {
		return nil, err
	}
	httpLn, err := listenTCP(ls, activation.NameHTTP, httpAddr, log)
	if err != nil {
		httpsLn.Close()
		return nil, err
	}
	return []*server{
		newServer("https", tls.NewListener(lim.wrap(httpsLn), c.TLSConfig()), clientServer(s, h, log.With("listener", "https"))),
		newServer("http", lim.wrap(httpLn), clientServer(s, c.redirect(s.TLS.HTTPSPort), log.With("listener", "http"))),
	}, nil
}

// clientServer returns the http.Server of a listener that faces clients,
// with the timeouts and header limit of settings. Without IdleTimeout,
// net/http keeps an idle keep-alive connection open forever.
func clientServer(s *config.Settings, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ClientHeaderTimeout.D(),
		IdleTimeout:       s.ClientIdleTimeout.D(),
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          serverLog(log),
	}
}

// listenTCP takes the socket of role name from systemd, else binds addr,
// and logs which.
func listenTCP(ls *activation.Listeners, name, addr string, log *slog.Logger) (net.Listener, error) {
	activated := ls.Inherited()
	ln, fromSD, err := ls.TCP(name, addr)
	if err != nil {
		return nil, err
	}
	log.Info("listener", "role", name, "addr", ln.Addr().String(), "from_systemd", fromSD)
	if activated && !fromSD {
		log.Warn("systemd passed no socket for this listener, so the daemon bound it: connections are refused while the daemon restarts; add it to tenement.socket (see docs/production.md)",
			"role", name, "addr", addr)
	}
	return ln, nil
}

// serverLog is an http.Server's ErrorLog: TLS handshake failures (scanners,
// names tenement does not serve) at debug level, anything else at warn.
func serverLog(l *slog.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	if bytes.HasPrefix(p, []byte("http: TLS handshake error")) {
		w.l.Debug(msg)
	} else {
		w.l.Warn(msg)
	}
	return len(p), nil
}
