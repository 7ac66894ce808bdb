package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
)

// The front proxy's listener.
//
// settings.front_listen is where a front proxy (Caddy, a load balancer)
// connects. It serves the same handler as the public listeners, and every
// connection accepted there is marked once, in http.Server.ConnContext
// (auth.WithFront): a request's X-Forwarded-For and X-Forwarded-Proto are
// believed only on marked connections, by the proxy (which passes them on
// to the app) and by the auth throttle (which counts the client they
// name). No request compares addresses, and no peer address is trusted for
// what it is: every tenant on the host network connects from loopback.
//
// Who may connect is the listener's business: a unix socket's file mode
// (0600 root's, or 0660 with front_group), or for a TCP address the
// network plus trusted_proxies, whose peers alone are accepted (others are
// closed at accept). There is no limit of connections per client here: the
// front proxy's connections carry all its clients, and it limits them.

// frontServer opens front_listen, if set, and returns its server; nil when
// there is none.
func frontServer(s *config.Settings, ls *activation.Listeners, h http.Handler, log *slog.Logger) (*server, error) {
	var (
		ln  net.Listener
		err error
	)
	switch network, addr := s.FrontAddr(); network {
	case "":
		return nil, nil
	case "unix":
		ln, err = listenFrontUnix(ls, addr, s.FrontGroup, log)
	default:
		ln, err = listenTCP(ls, activation.NameFront, addr, log)
		if err == nil && len(s.Trusted()) > 0 {
			ln = &peerFilter{Listener: ln, allow: s.Trusted(), log: log.With("listener", "front")}
		}
	}
	if err != nil {
		return nil, err
	}
	srv := clientServer(s, h, log.With("listener", "front"))
	srv.ConnContext = markFront
	return newServer("front", ln, srv), nil
}

func markFront(ctx context.Context, _ net.Conn) context.Context { return auth.WithFront(ctx) }

// listenFrontUnix takes the front socket from systemd, else creates it:
// mode 0660 with group front_group, else 0600 (root only).
func listenFrontUnix(ls *activation.Listeners, path, group string, log *slog.Logger) (net.Listener, error) {
	mode, gid := os.FileMode(0o600), -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("settings.front_group: %w", err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("settings.front_group %q: gid %q: %w", group, g.Gid, err)
		}
		mode = 0o660
	}
	activated := ls.Inherited()
	ln, fromSD, err := ls.Unix(activation.NameFront, path, mode, gid)
	if err != nil {
		return nil, err
	}
	log.Info("listener", "role", activation.NameFront, "addr", path, "from_systemd", fromSD)
	if activated && !fromSD {
		log.Warn("systemd passed no socket for the front proxy's listener, so the daemon bound it: the front proxy's connections are refused while the daemon restarts (see docs/production.md)",
			"addr", path)
	}
	return ln, nil
}

// peerFilter accepts only the connections of peers in allow, and closes
// the others at once.
type peerFilter struct {
	net.Listener
	allow []netip.Prefix
	log   *slog.Logger
	gate  logGate
}

func (f *peerFilter) Accept() (net.Conn, error) {
	for {
		c, err := f.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tcp, ok := c.RemoteAddr().(*net.TCPAddr); ok && inPrefixes(f.allow, tcp.AddrPort().Addr().Unmap()) {
			return c, nil
		}
		resetClose(c)
		if f.gate.open(time.Minute) {
			f.log.Warn("closed a connection to front_listen from a peer not in trusted_proxies (logged at most once a minute)",
				"peer", c.RemoteAddr().String())
		}
	}
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
