package supervisor

import (
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// ports hands out tenant ports from the configured range: never one that
// another instance holds, never one something else listens on.
type ports struct {
	lo, hi int
	mu     sync.Mutex
	next   int
	used   map[int]names.Instance
}

func newPorts(lo, hi int) *ports {
	return &ports{lo: lo, hi: hi, next: lo, used: map[int]names.Instance{}}
}

// take records that n holds port (a port loaded from the store).
func (p *ports) take(port int, n names.Instance) {
	p.mu.Lock()
	p.used[port] = n
	p.mu.Unlock()
}

func (p *ports) release(port int) {
	p.mu.Lock()
	delete(p.used, port)
	p.mu.Unlock()
}

// allocate returns a free port for n, scanning round-robin from the last
// one handed out, so a freed port is reused last.
func (p *ports) allocate(n names.Instance) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	return 0, fmt.Errorf("%w: no free port in %d-%d", errdefs.ErrUnavailable, p.lo, p.hi)
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
