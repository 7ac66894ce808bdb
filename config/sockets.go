package config

import (
	"net"
	"net/netip"
	"strings"
)

// Listeners under socket activation.
//
// Under systemd the daemon's TCP listeners are tenement.socket's
// (ListenStream=): the daemon finds each by its port and uses it as
// systemd opened it. A config whose listen address names a host the socket
// does not listen on (listen = "127.0.0.1:8080" while the packaged socket
// listens on every address) would be silently ignored: CheckSockets says
// so, for `ten config check`, a reload and the daemon's start.

// CheckSockets compares the config's TCP listeners with the sockets
// systemd holds for the daemon (host:port each; unix sockets are ignored):
// one error, with file:line:key, per listener whose port a socket has on
// another address.
func (c *Config) CheckSockets(sockets []string) Errors {
	var p problems
	for _, l := range c.tcpListeners() {
		_, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			continue
		}
		for _, sock := range sockets {
			_, sport, err := net.SplitHostPort(sock)
			if err != nil || sport != port || SameListenHost(l.addr, sock) {
				continue
			}
			want := l.addr
			if strings.HasPrefix(want, ":") {
				want = port
			}
			p.add(l.key, "%q: tenement.socket listens on %s, and systemd's socket is the one used; make them agree: ListenStream=%s in tenement.socket (systemctl edit tenement.socket), or %s in the config",
				l.addr, sock, want, net.JoinHostPort(hostOf(sock), port))
		}
	}
	for _, e := range p {
		e.File = c.Path
		if c.loc != nil {
			e.Line = c.loc.line(e.Key)
		}
	}
	return Errors(p)
}

type tcpListener struct{ key, addr string }

// tcpListeners are the config's TCP listeners, with the key that sets each.
func (c *Config) tcpListeners() []tcpListener {
	s := &c.Settings
	var out []tcpListener
	if s.TLS.Enabled {
		https, http := s.TLS.Addrs(s.Listen)
		out = append(out, tcpListener{"settings.listen", https}, tcpListener{"settings.listen", http})
	} else {
		out = append(out, tcpListener{"settings.listen", s.Listen})
	}
	if network, addr := s.FrontAddr(); network == "tcp" {
		out = append(out, tcpListener{"settings.front_listen", addr})
	}
	return out
}

// SameListenHost reports whether a listener on got ("host:port" as a
// socket's address) serves the host of the configured address want: the
// same IP, or both a wildcard ("", 0.0.0.0, ::). A host name (not an IP)
// is not checked.
func SameListenHost(want, got string) bool {
	host, _, err := net.SplitHostPort(want)
	ghost, _, gerr := net.SplitHostPort(got)
	if err != nil || gerr != nil {
		return true
	}
	gotIP, err := netip.ParseAddr(ghost)
	if err != nil {
		return true
	}
	gotIP = gotIP.Unmap()
	if host == "" {
		return gotIP.IsUnspecified()
	}
	wantIP, err := netip.ParseAddr(host)
	if err != nil {
		return true
	}
	wantIP = wantIP.Unmap()
	return wantIP == gotIP || (wantIP.IsUnspecified() && gotIP.IsUnspecified())
}

// hostOf returns the host of host:port, as the config writes it ("" for a
// wildcard).
func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return ""
	}
	return host
}

// ParseSystemdListen reads the TCP addresses of `systemctl show
// --property=Listen` output ("Listen=[::]:8080 (Stream)", one per line);
// unix sockets and other kinds are skipped.
func ParseSystemdListen(out string) []string {
	var addrs []string
	for _, line := range strings.Split(out, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "Listen=")
		if !ok {
			continue
		}
		addr, kind, _ := strings.Cut(v, " ")
		if kind != "(Stream)" || strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "@") {
			continue
		}
		if !strings.Contains(addr, ":") { // "8080": every address
			addr = "[::]:" + addr
		}
		if _, _, err := net.SplitHostPort(addr); err == nil {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}
