package daemon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/testbed"
)

// startDrainable serves h on a loopback listener; serve's error, if any,
// arrives on the returned channel once Serve returned.
func startDrainable(t *testing.T, h http.Handler) (*server, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer("test", ln, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second})
	done := make(chan error, 1)
	go func() {
		errc := make(chan error, 1)
		s.serve(errc)
		close(errc)
		done <- <-errc
	}()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s, done
}

var errNotYet = errors.New("not yet")

func (c *conns) count(state http.ConnState) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ci := range c.m {
		if ci.state == state {
			n++
		}
	}
	return n
}

// dialNew opens a connection that sends nothing yet, and waits until the
// server tracks it as new.
func dialNew(t *testing.T, s *server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	testbed.Eventually(t, 5*time.Second, "the server tracks the new connection", func() error {
		if s.conns.count(http.StateNew) != 1 {
			return errNotYet
		}
		return nil
	})
	return c
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// A connection accepted before the shutdown whose request arrives after it
// began is answered. With http.Server.Shutdown alone the request is read
// and dropped, and the client sees EOF (the restart-under-load failure).
func TestDrainAnswersARequestSentAfterShutdownBegan(t *testing.T) {
	s, served := startDrainable(t, http.HandlerFunc(ok))
	c := dialNew(t, s)

	drained := make(chan error, 1)
	go func() { drained <- s.drain(context.Background()) }()
	// The listener closes first: once new dials fail, shutdown is under way.
	testbed.Eventually(t, 5*time.Second, "the listener is closed", func() error {
		if c2, err := net.Dial("tcp", s.ln.Addr().String()); err == nil {
			c2.Close()
			return errNotYet
		}
		return nil
	})
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) before the young connection sent its request", err)
	default:
	}

	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request sent during the drain: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || !resp.Close {
		t.Errorf("got %d %q close=%v, want 200 \"ok\" and the connection closed", resp.StatusCode, body, resp.Close)
	}
	if err := <-drained; err != nil {
		t.Errorf("drain: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("serve reported %v after a drain", err)
	}
}

// Requests being answered when the shutdown begins are finished.
func TestDrainFinishesRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(4)
	s, _ := startDrainable(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
		ok(w, r)
	}))
	type result struct {
		status int
		err    error
	}
	results := make(chan result, 4)
	for i := range 4 {
		tr := &http.Transport{DisableKeepAlives: i%2 == 0}
		go func() {
			resp, err := (&http.Client{Transport: tr}).Get("http://" + s.ln.Addr().String())
			if err != nil {
				results <- result{err: err}
				return
			}
			resp.Body.Close()
			results <- result{status: resp.StatusCode}
		}()
	}
	started.Wait()
	drained := make(chan error, 1)
	go func() { drained <- s.drain(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) with requests in flight", err)
	default:
	}
	close(release)
	for range 4 {
		if r := <-results; r.err != nil || r.status != 200 {
			t.Errorf("request in flight: %d %v", r.status, r.err)
		}
	}
	if err := <-drained; err != nil {
		t.Errorf("drain: %v", err)
	}
}

// A connection that sends nothing is closed after the grace, well before
// Shutdown's own five seconds.
func TestDrainClosesSilentConnections(t *testing.T) {
	s, _ := startDrainable(t, http.HandlerFunc(ok))
	s.newGrace = 100 * time.Millisecond
	c := dialNew(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := s.drain(ctx); err != nil {
		t.Fatalf("drain: %v (a silent connection held the shutdown)", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("silent connection after the drain: read %d, %v; want EOF", n, err)
	}
}
