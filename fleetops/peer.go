package fleetops

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
	"github.com/tenement/tenement/errdefs"
)

// peerTimeout bounds a call to a peer that has no caller's context to end
// with.
const peerTimeout = 10 * time.Second

// peers makes clients of the other hosts' APIs: their listener's address
// from the agent's cache, the hop header (this host's name and the fleet's
// secret) on every call, which the peer believes only from this host's
// address.
type peers struct {
	agent  Agent
	header http.Header
	rt     http.RoundTripper
}

func newPeers(agent Agent, self, secret string, local netip.Addr) *peers {
	return &peers{agent: agent, header: http.Header{apitype.HopHeader: {self + " " + secret}}, rt: peerTransport(local)}
}

// client returns a client of a live host's API.
func (p *peers) client(host string) (*client.Client, error) {
	for _, h := range p.agent.Hosts() {
		if h.Name == host {
			return client.NewPeer("http://"+h.Addr, p.rt, p.header)
		}
	}
	return nil, fmt.Errorf("%w: fleet host %q is not live", errdefs.ErrUnavailable, host)
}
