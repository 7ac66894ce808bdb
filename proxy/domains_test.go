package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

// fixedDomains binds custom domains to instances.
type fixedDomains map[string]names.Instance

func (d fixedDomains) DomainOwner(host string) (names.Instance, bool) {
	n, ok := d[host]
	return n, ok
}

// A custom domain reaches its instance, matched exactly (case, port and a
// trailing dot aside), with X-Forwarded-Host carrying it; it is never
// picked for its service's weighted route, never creates an instance
// (spawn_on_request), and a name bound to nothing is 404.
func TestCustomDomains(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode([]string{r.Host, r.Header.Get("X-Forwarded-Host")})
	}))
	t.Cleanup(up.Close)
	c, err := config.Parse("/t.toml", []byte("[service.web]\ncommand = \"/bin/true\"\nspawn_on_request = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &spawner{backend: backend{svc: c.Services["web"], addr: strings.TrimPrefix(up.URL, "http://")}, created: map[names.Instance]bool{}}
	alice, gone := names.Instance{Service: "web", ID: "alice"}, names.Instance{Service: "web", ID: "gone"}
	b.created[alice] = true
	pb := &pickCounter{spawner: b}
	p := New(Options{Domain: "example.com", Backend: pb, Domains: fixedDomains{"notes.alice-corp.com": alice, "gone.example.org": gone}})
	tests := []struct {
		host string
		code int
		body string
	}{
		{"notes.alice-corp.com", 200, `["notes.alice-corp.com","notes.alice-corp.com"]`},
		{"Notes.Alice-Corp.COM.:8080", 200, `["Notes.Alice-Corp.COM.:8080","Notes.Alice-Corp.COM.:8080"]`},
		{"www.notes.alice-corp.com", 404, "404 not found"},
		{"alice-corp.com", 404, "404 not found"},
		// Bound to an instance that is gone: 404, and nothing created.
		{"gone.example.org", 404, "404 not found"},
		// The subdomain rules are unchanged.
		{"alice.web.example.com", 200, `["alice.web.example.com","alice.web.example.com"]`},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if got := strings.TrimSpace(w.Body.String()); w.Code != tt.code || got != tt.body {
			t.Errorf("Host %s: %d %s, want %d %s", tt.host, w.Code, got, tt.code, tt.body)
		}
	}
	if b.created[gone] {
		t.Error("a request for a custom domain created the instance it named")
	}
	if pb.picks != 0 {
		t.Error("a custom domain went through the weighted pick")
	}
}

type pickCounter struct {
	*spawner
	picks int
}

func (p *pickCounter) Pick(service string) (names.Instance, error) {
	p.picks++
	return p.spawner.Pick(service)
}

// The lookup costs nothing for names under the root domain: it is not
// asked for them.
func TestCustomDomainLookupSkipsRootNames(t *testing.T) {
	asked := countingDomains{}
	p := New(Options{Domain: "example.com", Backend: &backend{}, Domains: asked})
	for _, h := range []string{"example.com", "a.web.example.com", "WEB.Example.com.:80", "x.y.z.example.com"} {
		p.route(h)
	}
	if len(asked) != 0 {
		t.Errorf("looked up %v", asked)
	}
	for _, h := range []string{"example.org", "xexample.com", "a.example.com.evil"} {
		p.route(h)
	}
	if len(asked) != 3 {
		t.Errorf("looked up %v, want the 3 names outside example.com", asked)
	}
}

type countingDomains map[string]bool

func (c countingDomains) DomainOwner(host string) (names.Instance, bool) {
	c[host] = true
	return names.Instance{}, false
}
