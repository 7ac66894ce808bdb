package daemon

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/config"
)

// roles tells activation.Classify which port each public listener has, so
// that the sockets of one tenement.socket (all named "tenement.socket" by
// systemd) find their role.
func roles(cfg *config.Config) activation.Roles {
	t := cfg.Settings.TLS
	if t.Enabled {
		return activation.Roles{HTTPPort: t.HTTPPort, HTTPSPort: t.HTTPSPort, APIPath: cfg.Settings.APISocket}
	}
	_, port, _ := net.SplitHostPort(cfg.Settings.Listen)
	n, _ := strconv.Atoi(port)
	return activation.Roles{HTTPPort: n, APIPath: cfg.Settings.APISocket}
}

// publicServers opens the public listeners (from systemd, else bound here)
// and returns their servers. Without TLS that is the proxy on
// settings.listen. With TLS it is the proxy on the HTTPS port, with
// certificates obtained on demand, and on the HTTP port the redirect to
// HTTPS and the ACME HTTP-01 challenges. Either way the root domain also
// answers Caddy's on-demand TLS question (AskPath).
func publicServers(cfg *config.Config, ls *activation.Listeners, insts Instances, front http.Handler, log *slog.Logger) ([]*server, error) {
	domain := cfg.Settings.Domain
	pol := newHostPolicy(domain, insts)
	front = withAsk(domain, cfg.Settings.Trusted(), pol, front)
	t := cfg.Settings.TLS
	if !t.Enabled {
		ln, err := listenTCP(ls, activation.NameHTTP, cfg.Settings.Listen, log)
		if err != nil {
			return nil, err
		}
		return []*server{newServer("http", ln, &http.Server{Handler: front, ReadHeaderTimeout: 30 * time.Second})}, nil
	}
	if domain == "localhost" || !strings.Contains(domain, ".") { // --domain may have changed it
		return nil, fmt.Errorf("tls: domain %q: certificates need a public DNS name", domain)
	}
	c, err := newCerts(t, domain, pol, log)
	if err != nil {
		return nil, err
	}
	httpsAddr, httpAddr := t.Addrs(cfg.Settings.Listen)
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
		newServer("https", tls.NewListener(httpsLn, c.TLSConfig()), &http.Server{
			Handler:           front,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          serverLog(log.With("listener", "https")),
		}),
		newServer("http", httpLn, &http.Server{Handler: c.redirect(t.HTTPSPort), ReadHeaderTimeout: 10 * time.Second}),
	}, nil
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
