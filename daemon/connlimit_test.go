package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/internal/testbed"
)

// startLimited serves ok on a loopback listener under a limit of max
// connections per client, with the drain's connection tracking.
func startLimited(t *testing.T, max int) (*server, *connLimit) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := newConnLimit(max, slog.New(slog.DiscardHandler))
	s := newServer("test", lim.wrap(ln), &http.Server{Handler: http.HandlerFunc(ok), ReadHeaderTimeout: 10 * time.Second})
	go s.serve(make(chan error, 1))
	t.Cleanup(func() { _ = s.srv.Close() })
	return s, lim
}

// dialFrom opens a connection from a local address (all of 127/8 is
// local) and sends one request on it, keeping it open. It returns the
// connection (nil if reset at once) and whether the request was answered.
func dialFrom(t *testing.T, addr, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil, false // reset before connect returned: closed at once
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return c, false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return c, false
	}
	resp.Body.Close()
	return c, resp.StatusCode == 200
}

// A client at its limit has its next connection closed at once; other
// clients are served; a closed connection frees its place; and a client
// with no open connection leaves nothing behind.
func TestConnLimitPerClient(t *testing.T) {
	s, lim := startLimited(t, 3)
	addr := s.ln.Addr().String()
	var held []net.Conn
	for i := range 3 {
		c, served := dialFrom(t, addr, "127.0.0.1")
		if !served {
			t.Fatalf("connection %d under the limit was not served", i+1)
		}
		held = append(held, c)
	}
	start := time.Now()
	if _, served := dialFrom(t, addr, "127.0.0.1"); served {
		t.Fatal("a connection past the limit was served")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the connection past the limit was closed after %v, want at once", d)
	}
	if _, served := dialFrom(t, addr, "127.0.0.2"); !served {
		t.Error("another client was refused")
	}
	held[0].Close()
	testbed.Eventually(t, 5*time.Second, "a closed connection frees its place", func() error {
		if _, served := dialFrom(t, addr, "127.0.0.1"); !served {
			return errNotYet
		}
		return nil
	})
	for _, c := range held {
		c.Close()
	}
	// The drain still works on a limited listener, and closes the rest.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.drain(ctx); err != nil {
		t.Errorf("drain: %v", err)
	}
	testbed.Eventually(t, 5*time.Second, "no client is remembered once all connections are closed", func() error {
		if n := lim.clients(); n != 0 {
			return fmt.Errorf("%d clients remembered", n)
		}
		return nil
	})
}

func TestConnLimitCountsIPv6By64(t *testing.T) {
	lim := newConnLimit(1, slog.New(slog.DiscardHandler))
	a := netip.MustParseAddr("2001:db8:1:2::1")
	b := netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if !lim.acquire(auth.ClientPrefix(a)) {
		t.Fatal("first connection refused")
	}
	if lim.acquire(auth.ClientPrefix(b)) {
		t.Error("another address of the same /64 got past the limit")
	}
	if !lim.acquire(auth.ClientPrefix(netip.MustParseAddr("2001:db8:1:3::1"))) {
		t.Error("another /64 was refused")
	}
}

// The limit's memory at 10 000 clients with open connections, and its cost
// per accept and close (BenchmarkConnLimit).
func TestConnLimitMemory(t *testing.T) {
	const clients = 10_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	lim := newConnLimit(256, slog.New(slog.DiscardHandler))
	for i := range clients {
		lim.acquire(auth.ClientPrefix(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / clients
	t.Logf("%d clients with open connections: %.0f bytes each", clients, per)
	if per > 200 {
		t.Errorf("%.0f bytes per client, want under 200", per)
	}
	runtime.KeepAlive(lim)
}

func BenchmarkConnLimit(b *testing.B) {
	lim := newConnLimit(256, slog.New(slog.DiscardHandler))
	keys := make([]netip.Prefix, 10_000)
	for i := range keys {
		keys[i] = auth.ClientPrefix(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		lim.acquire(keys[i]) // every client holds one connection
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		lim.acquire(k)
		lim.release(k)
		i++
	}
}

// clients returns how many clients have open connections (tests).
func (l *connLimit) clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}
