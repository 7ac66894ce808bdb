package fleetops

import (
	"net/netip"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/proxy"
)

// Proxy returns what the proxy asks of the fleet, from the agent's cache.
func (o *Ops) Proxy() proxy.Fleet { return proxyFleet{o.agent} }

type proxyFleet struct{ agent Agent }

var _ proxy.Fleet = proxyFleet{}

func (f proxyFleet) Owner(n names.Instance) (host, addr string, local, alive bool) {
	o, ok := f.agent.Owner(n)
	if !ok {
		return "", "", false, false
	}
	return o.Host, o.Addr, o.Local, o.Live
}

func (f proxyFleet) PeerAt(ip netip.Addr) (string, bool) { return f.agent.PeerAt(ip) }
