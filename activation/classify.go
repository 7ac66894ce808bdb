package activation

import (
	"net"
)

// Roles tells Classify which TCP socket is which.
type Roles struct {
	// HTTPPort is the port of the plain-HTTP listener (NameHTTP).
	HTTPPort int
	// HTTPSPort is the port of the HTTPS listener (NameHTTPS); 0 when
	// there is none.
	HTTPSPort int
	// APIPath is the path of the API's unix socket (NameAPI); "" takes
	// any unix socket.
	APIPath string
}

// Classify files the sockets systemd passed under a name that is not a
// role (NameHTTP, NameHTTPS, NameAPI) by their address: a unix socket at
// APIPath is NameAPI, a TCP socket on HTTPPort is NameHTTP, one on
// HTTPSPort is NameHTTPS. Sockets systemd passed under a role's name keep it; sockets
// that match no role keep their name and end up in Unused.
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
	return name == NameHTTP || name == NameHTTPS || name == NameAPI
}

// roleOf returns the role of a socket by its address, or "".
func roleOf(a net.Addr, r Roles) string {
	switch a := a.(type) {
	case *net.UnixAddr:
		if r.APIPath == "" || a.Name == r.APIPath {
			return NameAPI
		}
	case *net.TCPAddr:
		switch {
		case r.HTTPPort > 0 && a.Port == r.HTTPPort:
			return NameHTTP
		case r.HTTPSPort > 0 && a.Port == r.HTTPSPort:
			return NameHTTPS
		}
	}
	return ""
}
