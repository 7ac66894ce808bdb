package supervisor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// healthServer answers /ok 200, /no 503, /slow after a long wait, and
// counts nothing: it is the app a health check polls.
func healthServer(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/query":
			if r.URL.RawQuery != "deep=1" || r.Header.Get("User-Agent") != "tenement-health" {
				w.WriteHeader(http.StatusBadRequest)
			}
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCheckHTTP(t *testing.T) {
	addr := healthServer(t)
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		ok   bool
	}{{"/ok", true}, {"/query?deep=1", true}, {"/no", false}, {"/missing", false}} {
		if err := checkHTTP(ctx, addr, tc.path, time.Second); (err == nil) != tc.ok {
			t.Errorf("checkHTTP %s: %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
	t0 := time.Now()
	if err := checkHTTP(ctx, addr, "/slow", 200*time.Millisecond); err == nil || time.Since(t0) > 2*time.Second {
		t.Errorf("a hanging app: %v after %v, want an error after the timeout", err, time.Since(t0))
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	t0 = time.Now()
	if err := checkHTTP(cctx, addr, "/slow", 10*time.Second); err == nil || time.Since(t0) > 2*time.Second {
		t.Errorf("a cancelled check: %v after %v, want an error at once", err, time.Since(t0))
	}
	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if err := checkHTTP(ctx, closed, "/ok", time.Second); err == nil {
		t.Error("a closed port is healthy")
	}
}

// TestCheckHTTPBadAnswers: what is not an HTTP answer with a 2xx status is
// unhealthy.
func TestCheckHTTPBadAnswers(t *testing.T) {
	for _, answer := range []string{"", "hello\r\n", "HTTP/1.1 20\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "HTTP/1.1 302 Found\r\n\r\n"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				buf := make([]byte, 512)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte(answer))
				c.Close()
			}
		}()
		if err := checkHTTP(context.Background(), ln.Addr().String(), "/h", time.Second); err == nil {
			t.Errorf("answer %q is healthy", answer)
		}
		ln.Close()
	}
}

// TestCheckHTTPReason: the status text an app sends reaches the reason in
// printable ASCII only (it is shown in terminals by ten ps).
func TestCheckHTTPReason(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Read(make([]byte, 512))
			_, _ = c.Write([]byte("HTTP/1.1 500 \x1b[2Jgone\r\n\r\n"))
			c.Close()
		}
	}()
	err = checkHTTP(context.Background(), ln.Addr().String(), "/h", time.Second)
	if err == nil || err.Error() != "health /h returned 500 ?[2Jgone" {
		t.Errorf("got %v", err)
	}
}

// connCounter is an app that counts the connections it accepted; idle
// closes them after idle (0: never), and handler answers.
func connCounter(t testing.TB, idle time.Duration, handler http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.IdleTimeout = idle
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &conns
}

// TestHealthProberKeepsItsConnection: the checks of one instance share a
// connection as long as the app keeps it, whatever the answer's status;
// an app that closed it (its keep-alive timeout) costs a new connection,
// not a failed check; answers that cannot be skipped (chunked, large,
// Connection: close) end it.
func TestHealthProberKeepsItsConnection(t *testing.T) {
	ctx := context.Background()
	status := atomic.Int64{}
	status.Store(200)
	addr, conns := connCounter(t, 0, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			_, _ = w.Write([]byte("ok"))
		case "/large":
			_, _ = w.Write(make([]byte, maxHealthBody+1))
		case "/close":
			w.Header().Set("Connection", "close")
		default:
			w.WriteHeader(int(status.Load()))
			_, _ = w.Write([]byte("fine"))
		}
	})
	var hp healthProber
	defer hp.close()
	for i := range 5 {
		if i == 3 {
			status.Store(503)
		}
		err := hp.check(ctx, addr, "/health", time.Second)
		if (err == nil) != (i < 3) {
			t.Errorf("check %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 checks took %d connections, want 1", n)
	}
	status.Store(200)
	for _, path := range []string{"/chunked", "/large", "/close"} {
		if err := hp.check(ctx, addr, path, time.Second); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		before := conns.Load()
		for range 2 {
			if err := hp.check(ctx, addr, "/health", time.Second); err != nil {
				t.Errorf("after %s: %v", path, err)
			}
		}
		if got := conns.Load() - before; got != 1 {
			t.Errorf("2 checks after %s: %d new connections, want 1 (%s ends the connection)", path, got, path)
		}
	}

	// An app that closes idle connections after 50ms: every check after a
	// pause finds it closed, dials again and passes.
	addr, conns = connCounter(t, 50*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {})
	var hp2 healthProber
	defer hp2.close()
	for i := range 3 {
		if err := hp2.check(ctx, addr, "/health", time.Second); err != nil {
			t.Errorf("check %d after the app closed the connection: %v", i, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 checks with pauses took %d connections, want 3", n)
	}
}

// TestHealthProberHangingApp: a kept connection whose app stops answering
// fails the check at the timeout, without a retry.
func TestHealthProberHangingApp(t *testing.T) {
	hang := make(chan struct{})
	addr, conns := connCounter(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-hang
		}
	})
	defer close(hang)
	var hp healthProber
	defer hp.close()
	if err := hp.check(context.Background(), addr, "/ok", time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := hp.check(context.Background(), addr, "/slow", 200*time.Millisecond); err == nil || time.Since(t0) > time.Second {
		t.Errorf("hanging app: %v after %v", err, time.Since(t0))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("a timeout on the kept connection was retried: %d connections", n)
	}
}

// BenchmarkHealthCheck compares a check on a kept connection with one over
// a new connection (readiness checks).
func BenchmarkHealthCheck(b *testing.B) {
	addr := healthServer(b)
	ctx := context.Background()
	b.Run("kept", func(b *testing.B) {
		var hp healthProber
		defer hp.close()
		b.ReportAllocs()
		for b.Loop() {
			if err := hp.check(ctx, addr, "/ok", time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := checkHTTP(ctx, addr, "/ok", time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}
