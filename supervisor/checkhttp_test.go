package supervisor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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

func BenchmarkCheckHTTP(b *testing.B) {
	addr := healthServer(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := checkHTTP(ctx, addr, "/ok", time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
