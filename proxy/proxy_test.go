package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// backend is a fixed Backend: one service "web" whose instances all live
// at one upstream address.
type backend struct {
	svc  *config.Service
	addr string
}

func (b *backend) Acquire(ctx context.Context, n names.Instance) (supervisor.Lease, error) {
	if n.ID == "missing" {
		return supervisor.Lease{}, errdefs.ErrNotFound
	}
	return supervisor.Lease{Addr: b.addr}, nil
}

func (b *backend) Pick(service string) (names.Instance, error) {
	return names.Instance{Service: service, ID: "a"}, nil
}

func (b *backend) ServiceConfig(service string) *config.Service {
	if service != "web" {
		return nil
	}
	return b.svc
}

func newTestProxy(t testing.TB, app http.Handler) *Proxy {
	t.Helper()
	up := httptest.NewServer(app)
	t.Cleanup(up.Close)
	c, err := config.Parse("/t.toml", []byte("[service.web]\ncommand = \"/bin/true\"\nrequest_timeout = \"200ms\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Domain: "example.com", Backend: &backend{svc: c.Services["web"], addr: strings.TrimPrefix(up.URL, "http://")}})
}

func TestForwardAndErrors(t *testing.T) {
	p := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(time.Second)
		}
		io.WriteString(w, r.Host+" "+r.Header.Get("X-Forwarded-For")+" "+r.Header.Get("Authorization"))
	}))
	tests := []struct {
		host, path, auth string
		code             int
		body             string
	}{
		{"a.web.example.com", "/", "Bearer x", 200, "a.web.example.com 192.0.2.1 Bearer x"},
		{"web.example.com", "/", "", 200, "web.example.com 192.0.2.1 "},
		{"missing.web.example.com", "/", "", 404, "404 not found\n"},
		{"a.blog.example.com", "/", "", 404, "404 not found\n"},
		{"a.web.example.com", "/slow", "", 504, "504 gateway timeout\n"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://"+tt.host+tt.path, nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code != tt.code || w.Body.String() != tt.body {
			t.Errorf("%s%s = %d %q, want %d %q", tt.host, tt.path, w.Code, w.Body, tt.code, tt.body)
		}
	}
}

// BenchmarkProxy measures the proxy's own cost per request (through a real
// loopback upstream with keep-alive), for allocation regressions:
// go test ./proxy -bench . -benchmem
func BenchmarkProxy(b *testing.B) {
	p := newTestProxy(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	r := httptest.NewRequest("GET", "http://a.web.example.com/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
