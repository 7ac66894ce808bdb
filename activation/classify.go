package activation

import (
	"net"
	"net/netip"
)

// Roles tells Classify which TCP socket is which.
type Roles struct {
	// HTTPPort is the port of the plain-HTTP listener (NameHTTP).
	HTTPPort int
	// HTTPSPort is the port of the HTTPS listener (NameHTTPS); 0 when
	// there is none.
	HTTPSPort int
	// APIPath is the path of the API's unix socket (NameAPI); "" takes
	// any unix socket that is not FrontPath.
	APIPath string
	// FrontPath is the path of the front proxy's unix socket, or
	// FrontAddr its TCP address (NameFront); both "" when there is none.
	FrontPath string
	FrontAddr netip.AddrPort
}

// Classify files the sockets systemd passed under a name that is not a
// role (NameHTTP, NameHTTPS, NameAPI, NameFront) by their address: a unix
// socket at FrontPath or a TCP socket on FrontAddr is NameFront, a unix
// socket at APIPath is NameAPI, a TCP socket on HTTPPort is NameHTTP, one
// on HTTPSPort is NameHTTPS. Sockets systemd passed under a role's name
// keep it; sockets that match no role keep their name and end up in
// Unused.
//
// This is what makes one tenement.socket with both ListenStream=8080 and
// ListenStream=/run/tenement/api.sock work: systemd names both fds after
// the unit ("tenement.socket").
func (l *Listeners) Classify(r Roles) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, lns := range l.inherited {
		if isRole(name) {
			continue
		}
		var keep []net.Listener
		for _, ln := range lns {
			if role := roleOf(ln.Addr(), r); role != "" {
				l.inherited[role] = append(l.inherited[role], ln)
			} else {
				keep = append(keep, ln)
			}
		}
		if len(keep) == 0 {
			delete(l.inherited, name)
		} else {
			l.inherited[name] = keep
		}
	}
}

func isRole(name string) bool {
	return name == NameHTTP || name == NameHTTPS || name == NameAPI || name == NameFront
}

// roleOf returns the role of a socket by its address, or "".
func roleOf(a net.Addr, r Roles) string {
	switch a := a.(type) {
	case *net.UnixAddr:
		switch {
		case r.FrontPath != "" && a.Name == r.FrontPath:
			return NameFront
		case r.APIPath == "" || a.Name == r.APIPath:
			return NameAPI
		}
	case *net.TCPAddr:
		ap := a.AddrPort()
		switch {
		case r.FrontAddr.IsValid() && ap.Port() == r.FrontAddr.Port() && ap.Addr().Unmap() == r.FrontAddr.Addr().Unmap():
			return NameFront
		case r.HTTPPort > 0 && a.Port == r.HTTPPort:
			return NameHTTP
		case r.HTTPSPort > 0 && a.Port == r.HTTPSPort:
			return NameHTTPS
		}
	}
	return ""
}
