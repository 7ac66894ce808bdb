package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Draining at shutdown.
//
// The listening sockets belong to systemd (tenement.socket): while the
// daemon restarts, new connections wait in the kernel's queue for the next
// daemon, so nothing is refused. What the old daemon has accepted, it must
// answer. http.Server.Shutdown alone does not: a request it reads after
// shutdown began is dropped and its connection closed unanswered (net/http's
// conn.serve checks shuttingDown after reading each request), and a client
// that sent it on a new connection sees EOF and, rightly, does not resend.
//
// So a server drains in two steps. First it stops accepting and turns
// keep-alives off: every answer now closes its connection, and idle
// keep-alive connections are closed (a client that raced a request onto one
// resends it on a new connection, as HTTP allows for a reused connection).
// It waits until no HTTP/1 connection is reading or answering a request,
// giving new connections newConnGrace to send theirs. Then Shutdown closes
// what is left, and tells HTTP/2 clients to go away (GOAWAY), which they
// handle without loss.
//
// A response that never ends by itself (a log stream of the API, which a
// dashboard keeps open) would keep the server busy until the grace runs
// out, and http.Server.RegisterOnShutdown hooks run only in Shutdown, after
// that wait. So drain ends such streams itself (closeStreams) as soon as the
// listener is closed, before it waits; their clients reconnect to the next
// daemon.

// newConnGrace is how long a connection accepted before the shutdown may
// take to send its first request (a TLS handshake included) and still be
// answered.
const newConnGrace = time.Second

// server is one http.Server on one listener.
type server struct {
	name  string
	ln    net.Listener
	srv   *http.Server
	conns conns
	// closing is set when drain closes the listener, so serve does not
	// take the failed Accept for an error.
	closing atomic.Bool
	// newGrace is newConnGrace; tests shorten it.
	newGrace time.Duration
	// closeStreams, if set, ends the responses that never end by
	// themselves; drain calls it before it waits.
	closeStreams func()
}

func newServer(name string, ln net.Listener, srv *http.Server) *server {
	s := &server{name: name, ln: ln, srv: srv, newGrace: newConnGrace}
	s.conns.m = make(map[net.Conn]connInfo)
	srv.ConnState = s.conns.track
	return s
}

func (s *server) serve(errc chan<- error) {
	err := s.srv.Serve(s.ln)
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !s.closing.Load() {
		errc <- fmt.Errorf("%s server: %w", s.name, err)
	}
}

// drain answers what the server has accepted, then shuts it down; ctx
// bounds the whole.
func (s *server) drain(ctx context.Context) error {
	s.closing.Store(true)
	// Keep-alive off before the listener closes: whoever sees the
	// listener closed gets "Connection: close" on every answer after.
	s.srv.SetKeepAlivesEnabled(false)
	_ = s.ln.Close()
	if s.closeStreams != nil {
		s.closeStreams()
	}
	wait := time.Millisecond
	for s.conns.busy(time.Now(), s.newGrace) {
		select {
		case <-ctx.Done():
			return s.srv.Shutdown(ctx)
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
	// Connections that sent nothing within the grace: nobody waits for
	// an answer on them.
	s.conns.closeNew()
	return s.srv.Shutdown(ctx)
}

// conns tracks a server's connections through http.Server.ConnState.
type conns struct {
	mu sync.Mutex
	m  map[net.Conn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time // when it entered state
	h2    bool      // HTTP/2: Shutdown drains it gracefully
}

func (c *conns) track(nc net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(c.m, nc)
		return
	}
	ci := c.m[nc]
	if state == http.StateActive && ci.state == http.StateNew {
		// The first request, or HTTP/2 starting (its handshake is done
		// either way, so this does not block).
		if tc, ok := nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			ci.h2 = true
		}
	}
	ci.state, ci.since = state, time.Now()
	c.m[nc] = ci
}

// busy reports whether an HTTP/1 connection is reading or answering a
// request, or was accepted less than grace ago and may still send one.
func (c *conns) busy(now time.Time, grace time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ci := range c.m {
		switch {
		case ci.h2:
		case ci.state == http.StateActive:
			return true
		case ci.state == http.StateNew && now.Sub(ci.since) < grace:
			return true
		}
	}
	return false
}

// closeNew closes the connections that never sent a request.
func (c *conns) closeNew() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for nc, ci := range c.m {
		if ci.state == http.StateNew {
			_ = nc.Close()
		}
	}
}
