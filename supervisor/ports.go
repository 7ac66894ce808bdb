package supervisor

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// ports hands out tenant ports from the configured range, at wake: an
// asleep instance holds none, so the range bounds the instances awake at
// once, not the ones registered. Never one that another instance holds,
// never one something else listens on.
type ports struct {
	lo, hi int
	mu     sync.Mutex
	next   int
	used   map[int]names.Instance
}

func newPorts(lo, hi int) *ports {
	return &ports{lo: lo, hi: hi, next: lo, used: map[int]names.Instance{}}
}

// setRange changes the range new ports come from (a reload); ports held
// stay held.
func (p *ports) setRange(lo, hi int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lo, p.hi = lo, hi
	if p.next < lo || p.next > hi {
		p.next = lo
	}
}

// take records that n holds port (a port found in an adopted unit).
func (p *ports) take(port int, n names.Instance) {
	p.mu.Lock()
	p.used[port] = n
	p.mu.Unlock()
}

// release frees port if n holds it.
func (p *ports) release(port int, n names.Instance) {
	p.mu.Lock()
	if p.used[port] == n {
		delete(p.used, port)
	}
	p.mu.Unlock()
}

// allocate returns a free port for n: hint (the port it had last) when it
// is free, else the next free one scanning round-robin from the last one
// handed out, so that a freed port is reused last.
func (p *ports) allocate(n names.Instance, hint int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if hint >= p.lo && hint <= p.hi {
		if holder, ok := p.used[hint]; (!ok || holder == n) && portFree(hint) {
			p.used[hint] = n
			return hint, nil
		}
	}
	size := p.hi - p.lo + 1
	for i := 0; i < size; i++ {
		port := p.lo + (p.next-p.lo+i)%size
		if _, ok := p.used[port]; ok || !portFree(port) {
			continue
		}
		p.used[port] = n
		p.next = port + 1
		if p.next > p.hi {
			p.next = p.lo
		}
		return port, nil
	}
	return 0, fmt.Errorf("%w: no free port in %d-%d: every port of port_range is held by an awake instance", errdefs.ErrUnavailable, p.lo, p.hi)
}

// portFree reports whether nothing listens on 127.0.0.1:port (or the
// wildcard address, which a bind to 127.0.0.1 also collides with).
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// freePort lets go of the instance's port, remembering it for the next
// wake. The caller holds in.mu.
func (s *Supervisor) freePort(in *inst) {
	if in.port == 0 {
		return
	}
	s.ports.release(in.port, in.name)
	in.lastPort, in.port = in.port, 0
}

// envPort returns the PORT= of a unit's environment, or 0.
func envPort(env []string) int {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PORT="); ok {
			p, _ := strconv.Atoi(v)
			return p
		}
	}
	return 0
}
