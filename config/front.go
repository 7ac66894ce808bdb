package config

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
)

// FrontAddr returns the front proxy's listener: network "unix" or "tcp"
// and its address, or "" when there is none.
func (s *Settings) FrontAddr() (network, addr string) {
	if s.FrontListen == "" {
		return "", ""
	}
	if p, ok := strings.CutPrefix(s.FrontListen, "unix:"); ok {
		return "unix", p
	}
	return "tcp", s.FrontListen
}

// validateFront checks front_listen: a unix socket path, or host:port
// whose host is not a loopback address (every tenant could connect to it
// and be believed) and not the wildcard (the public could).
func (s *Settings) validateFront(p *problems) {
	network, addr := s.FrontAddr()
	switch network {
	case "":
		if s.FrontGroup != "" {
			p.add("settings.front_group", "only with a unix socket in front_listen")
		}
		return
	case "unix":
		if !filepath.IsAbs(addr) {
			p.add("settings.front_listen", "%q: want unix:/absolute/path", s.FrontListen)
		}
		if s.FrontGroup != "" && !validUser.MatchString(s.FrontGroup) {
			p.add("settings.front_group", "%q is not a valid group name", s.FrontGroup)
		}
		return
	}
	if s.FrontGroup != "" {
		p.add("settings.front_group", "only with a unix socket in front_listen")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		p.add("settings.front_listen", "%q: want \"unix:/path\" or \"host:port\"", s.FrontListen)
		return
	}
	a, err := netip.ParseAddr(host)
	switch {
	case host == "" || (err == nil && a.IsUnspecified()):
		p.add("settings.front_listen", "%q: a wildcard address lets anyone send forwarding headers; bind the address only the front proxy reaches", s.FrontListen)
	case err != nil:
		p.add("settings.front_listen", "%q: want an IP address, not a name", s.FrontListen)
	case a.IsLoopback():
		p.add("settings.front_listen", "%q: every tenant on this host can connect to a loopback address; use a unix socket (unix:/run/tenement/front.sock)", s.FrontListen)
	}
}
