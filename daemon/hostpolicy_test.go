package daemon

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

// fakeInstances knows services and instances; the OS boundary of the host
// policy is the supervisor, so the fake stands in for it.
type fakeInstances struct {
	services map[string]*config.Service
	known    map[string]bool // "service:id"
	domains  map[string]names.Instance
	unbound  []func(string)
}

func (f *fakeInstances) ServiceConfig(svc string) *config.Service { return f.services[svc] }

func (f *fakeInstances) Known(n names.Instance) bool { return f.known[n.String()] }

func (f *fakeInstances) DomainOwner(host string) (names.Instance, bool) {
	n, ok := f.domains[host]
	return n, ok
}

func (f *fakeInstances) OnUnbind(fn func(string)) { f.unbound = append(f.unbound, fn) }

func newFake() *fakeInstances {
	return &fakeInstances{
		services: map[string]*config.Service{"notes": {}, "open": {SpawnOnRequest: true}},
		known:    map[string]bool{"notes:alice": true},
		domains:  map[string]names.Instance{"notes.alice-corp.com": {Service: "notes", ID: "alice"}},
	}
}

func TestHostPolicy(t *testing.T) {
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"root domain", "example.com", true},
		{"root domain, case and dot", "Example.COM.", true},
		{"root with port", "example.com:443", true},
		{"service", "notes.example.com", true},
		{"known instance", "alice.notes.example.com", true},
		{"known instance with port", "alice.notes.example.com:8443", true},
		{"unknown instance", "mallory.notes.example.com", false},
		{"spawn_on_request service", "anyone.open.example.com", true},
		{"unconfigured service", "www.example.com", false},
		{"instance of unconfigured service", "alice.www.example.com", false},
		{"too deep", "a.alice.notes.example.com", false},
		{"other domain", "alice.notes.example.org", false},
		{"suffix trick", "alice.notes.evilexample.com", false},
		{"localhost", "localhost", false},
		{"IP literal", "127.0.0.1", false},
		{"IPv6 literal", "[::1]", false},
		{"invalid id", "-x.notes.example.com", false},
		{"empty", "", false},
		{"bound custom domain", "notes.alice-corp.com", true},
		{"bound custom domain, case, dot and port", "Notes.Alice-Corp.com.:443", true},
		{"under a bound custom domain", "www.notes.alice-corp.com", false},
		{"parent of a bound custom domain", "alice-corp.com", false},
	}
	f := newFake()
	pol := newHostPolicy("example.com", f, f)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pol.Allow(context.Background(), tt.host)
			if got := err == nil; got != tt.want {
				t.Fatalf("Allow(%q) = %v, want allowed=%v", tt.host, err, tt.want)
			}
			if err != nil && !errors.Is(err, errNotServed) {
				t.Errorf("Allow(%q) error %v is not errNotServed", tt.host, err)
			}
		})
	}
}

func TestHostPolicyFollowsTheInstances(t *testing.T) {
	f := newFake()
	pol := newHostPolicy("example.com", f, f)
	ctx := context.Background()
	if err := pol.Allow(ctx, "bob.notes.example.com"); !errors.Is(err, errNotServed) {
		t.Fatalf("unknown bob: %v", err)
	}
	f.known["notes:bob"] = true // spawned
	if err := pol.Allow(ctx, "bob.notes.example.com"); err != nil {
		t.Fatalf("known bob: %v", err)
	}
	delete(f.known, "notes:alice") // deleted
	if err := pol.Allow(ctx, "alice.notes.example.com"); !errors.Is(err, errNotServed) {
		t.Fatalf("deleted alice: %v", err)
	}
}

func TestAskEndpoint(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	f := newFake()
	h := withAsk("example.com", newHostPolicy("example.com", f, f), next)
	tests := []struct {
		name, method, host, target string
		remote                     string // default 127.0.0.1:40000
		front                      bool   // arrived on the front listener
		want                       int
	}{
		{"known instance", "GET", "127.0.0.1:8080", apitype.AskPath + "?domain=alice.notes.example.com", "", false, 200},
		{"root domain", "GET", "localhost:8080", apitype.AskPath + "?domain=example.com", "[::1]:40000", false, 200},
		{"via root domain host", "GET", "example.com", apitype.AskPath + "?domain=notes.example.com", "", false, 200},
		{"from the front unix socket", "GET", "example.com", apitype.AskPath + "?domain=notes.example.com", "@", true, 200},
		{"from the front tcp listener", "GET", "example.com", apitype.AskPath + "?domain=notes.example.com", "10.1.2.3:40000", true, 200},
		{"a front proxy's address elsewhere", "GET", "example.com", apitype.AskPath + "?domain=example.com", "10.1.2.3:40000", false, http.StatusTeapot},
		{"unknown instance", "GET", "127.0.0.1:8080", apitype.AskPath + "?domain=mallory.notes.example.com", "", false, 404},
		{"other domain", "GET", "127.0.0.1:8080", apitype.AskPath + "?domain=example.org", "", false, 404},
		{"bound custom domain", "GET", "127.0.0.1:8080", apitype.AskPath + "?domain=notes.alice-corp.com", "", false, 200},
		{"unbound custom domain", "GET", "127.0.0.1:8080", apitype.AskPath + "?domain=www.alice-corp.com", "", false, 404},
		{"a custom domain's own path", "GET", "notes.alice-corp.com", apitype.AskPath + "?domain=example.com", "", false, http.StatusTeapot},
		{"missing domain", "GET", "127.0.0.1:8080", apitype.AskPath, "", false, 400},
		{"POST", "POST", "127.0.0.1:8080", apitype.AskPath + "?domain=example.com", "", false, 405},
		{"not on a tenant's host", "GET", "alice.notes.example.com", apitype.AskPath + "?domain=example.com", "", false, http.StatusTeapot},
		{"not for remote clients", "GET", "example.com", apitype.AskPath + "?domain=example.com", "192.0.2.7:40000", false, http.StatusTeapot},
		{"other paths pass", "GET", "127.0.0.1:8080", "/api/instances", "", false, http.StatusTeapot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://"+tt.host+tt.target, nil)
			r.RemoteAddr = cmp.Or(tt.remote, "127.0.0.1:40000")
			if tt.front {
				r = r.WithContext(auth.WithFront(r.Context()))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("%s %s (Host %s) = %d %q, want %d", tt.method, tt.target, tt.host, w.Code, w.Body, tt.want)
			}
		})
	}
}
