package proxy

import (
	"bufio"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// Long-lived streams: an upgraded connection (a WebSocket) or server-sent
// events hold their instance awake as a stream (supervisor Lease.Stream),
// whose bytes count as activity; with a service's stream_idle_timeout a
// stream that went quiet no longer keeps it awake. When the instance is
// stopped or goes to sleep, its open WebSockets get a close frame with
// status 1001 ("going away") before the unit stops (GoingAway).

// modifyResponse marks a stream's lease and has its bytes touch it.
func (p *Proxy) modifyResponse(res *http.Response) error {
	f := forwardingOf(res.Request)
	if f == nil {
		return nil
	}
	switch {
	case res.StatusCode == http.StatusSwitchingProtocols:
		if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
			f.lease.Stream()
			res.Body = touchRWC{ReadWriteCloser: rwc, activity: activity{f.lease}}
		}
	case isEventStream(res.Header.Get("Content-Type")):
		f.lease.Stream()
		res.Body = touchReader{ReadCloser: res.Body, activity: activity{f.lease}}
	}
	return nil
}

func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/event-stream"
}

// activity counts the bytes that pass through a stream as its instance's
// activity.
type activity struct{ lease supervisor.Lease }

func (a activity) count(n int, err error) (int, error) {
	if n > 0 {
		a.lease.Touch()
	}
	return n, err
}

// touchReader is a stream's body: every read is activity.
type touchReader struct {
	io.ReadCloser
	activity
}

func (t touchReader) Read(p []byte) (int, error) { return t.count(t.ReadCloser.Read(p)) }

// touchRWC is an upgraded connection to the app: bytes either way are
// activity.
type touchRWC struct {
	io.ReadWriteCloser
	activity
}

func (t touchRWC) Read(p []byte) (int, error)  { return t.count(t.ReadWriteCloser.Read(p)) }
func (t touchRWC) Write(p []byte) (int, error) { return t.count(t.ReadWriteCloser.Write(p)) }

// websockets are the clients' open WebSocket connections, by instance.
type websockets struct {
	mu    sync.Mutex
	conns map[names.Instance]map[*clientConn]struct{}
}

// clientConn is a client's hijacked connection of a WebSocket: writes are
// serialised so that a close frame never lands inside another frame's
// write.
type clientConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
}

func (c *clientConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

// goingAway is a WebSocket close frame from the server (unmasked, FIN):
// status 1001, "going away".
var goingAway = []byte{0x88, 0x02, 0x03, 0xE9}

// closeGoingAway sends the close frame and closes the connection.
func (c *clientConn) closeGoingAway() {
	c.mu.Lock()
	if !c.closed {
		_, _ = c.Conn.Write(goingAway)
		c.closed = true
	}
	c.mu.Unlock()
	c.Conn.Close()
}

func (ws *websockets) add(n names.Instance, c *clientConn) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.conns == nil {
		ws.conns = map[names.Instance]map[*clientConn]struct{}{}
	}
	if ws.conns[n] == nil {
		ws.conns[n] = map[*clientConn]struct{}{}
	}
	ws.conns[n][c] = struct{}{}
}

func (ws *websockets) remove(n names.Instance, c *clientConn) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(ws.conns[n], c)
	if len(ws.conns[n]) == 0 {
		delete(ws.conns, n)
	}
}

// GoingAway closes the open WebSockets of an instance with status 1001;
// the supervisor calls it before it stops the instance's unit.
func (p *Proxy) GoingAway(n names.Instance) {
	p.ws.mu.Lock()
	conns := make([]*clientConn, 0, len(p.ws.conns[n]))
	for c := range p.ws.conns[n] {
		conns = append(conns, c)
	}
	p.ws.mu.Unlock()
	for _, c := range conns {
		c.closeGoingAway()
	}
}

// isWebSocket reports whether a request asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// hijack takes over a client's connection for an upgrade (ReverseProxy
// asks through http.ResponseController) and, for a WebSocket, keeps it
// where GoingAway finds it until the proxy's handler returns.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil || s.onHijack == nil {
		return conn, brw, err
	}
	return s.onHijack(conn), brw, nil
}
