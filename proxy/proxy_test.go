package proxy

import (
	"context"
	"fmt"
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

func (b *backend) CreateForRequest(n names.Instance) error { return errdefs.ErrNotFound }

func (b *backend) AcquireAwake(n names.Instance) (supervisor.Lease, bool, error) {
	l, err := b.Acquire(context.Background(), n)
	return l, err == nil, err
}

func (b *backend) Awake(n names.Instance) bool { return true }

func (b *backend) Wake(n names.Instance, cause supervisor.Cause) error { return nil }

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

// spawner is a backend of one service with spawn_on_request that creates
// whatever it is asked for.
type spawner struct {
	backend
	created map[names.Instance]bool
}

func (b *spawner) Acquire(ctx context.Context, n names.Instance) (supervisor.Lease, error) {
	if !b.created[n] {
		return supervisor.Lease{}, errdefs.ErrNotFound
	}
	return supervisor.Lease{Addr: b.addr}, nil
}

func (b *spawner) CreateForRequest(n names.Instance) error {
	b.created[n] = true
	return nil
}

func TestSpawnOnRequestIsLimitedPerClient(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	c, err := config.Parse("/t.toml", []byte("[service.web]\ncommand = \"/bin/true\"\nspawn_on_request = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &spawner{backend: backend{svc: c.Services["web"], addr: strings.TrimPrefix(up.URL, "http://")}, created: map[names.Instance]bool{}}
	p := New(Options{Domain: "example.com", Backend: b, SpawnPerClientPerMinute: 3})
	get := func(id, client string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://"+id+".web.example.com/", nil)
		r.RemoteAddr = client
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		return w
	}
	for i := range 5 {
		w := get(fmt.Sprintf("id%d", i), "192.0.2.1:1000")
		want := 200
		if i >= 3 {
			want = 429
		}
		if w.Code != want {
			t.Errorf("creation %d from one client: %d, want %d", i, w.Code, want)
		}
		if want == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if w := get("id0", "192.0.2.1:1000"); w.Code != 200 {
		t.Errorf("a known instance after the limit: %d", w.Code)
	}
	if w := get("other", "192.0.2.2:1000"); w.Code != 200 {
		t.Errorf("another client: %d", w.Code)
	}
	// One IPv6 client is its /64.
	for i := range 4 {
		w := get(fmt.Sprintf("six%d", i), fmt.Sprintf("[2001:db8::%d]:1000", i+1))
		if want := map[bool]int{true: 200, false: 429}[i < 3]; w.Code != want {
			t.Errorf("IPv6 creation %d: %d, want %d", i, w.Code, want)
		}
	}
	if len(b.created) != 7 {
		t.Errorf("created %d instances, want 7", len(b.created))
	}
}
