package proxy

import (
	"strings"
	"testing"

	"github.com/tenement/tenement/names"
)

func TestParseHost(t *testing.T) {
	const domain = "example.com"
	alice := names.Instance{Service: "notes", ID: "alice"}
	tests := []struct {
		host string
		want Route
	}{
		{"example.com", Route{Kind: KindRoot}},
		{"EXAMPLE.com:8080", Route{Kind: KindRoot}},
		{"example.com.", Route{Kind: KindRoot}},
		{"127.0.0.1:8080", Route{Kind: KindRoot}},
		{"[::1]:8080", Route{Kind: KindRoot}},
		{"localhost", Route{Kind: KindRoot}},
		{"notes.example.com", Route{Kind: KindService, Service: "notes"}},
		{"Notes.Example.COM:443", Route{Kind: KindService, Service: "notes"}},
		{"alice.notes.example.com", Route{Kind: KindInstance, Service: "notes", Instance: alice}},
		{"ALICE.notes.example.com.:80", Route{Kind: KindInstance, Service: "notes", Instance: alice}},
		{"alice-smith.notes.example.com", Route{Kind: KindInstance, Service: "notes", Instance: names.Instance{Service: "notes", ID: "alice-smith"}}},
		{"x.alice.notes.example.com", Route{Kind: KindUnknown}},
		{"my-app.example.com", Route{Kind: KindUnknown}},
		{"-a.notes.example.com", Route{Kind: KindUnknown}},
		{"a_b.notes.example.com", Route{Kind: KindUnknown}},
		{"example.org", Route{Kind: KindUnknown}},
		{"notexample.com", Route{Kind: KindUnknown}},
		{".example.com", Route{Kind: KindUnknown}},
		{"..example.com", Route{Kind: KindUnknown}},
		{"", Route{Kind: KindUnknown}},
		{"alice.notes.example.com:notaport", Route{Kind: KindUnknown}},
	}
	for _, tt := range tests {
		if got := ParseHost(tt.host, domain); got != tt.want {
			t.Errorf("ParseHost(%q) = %+v, want %+v", tt.host, got, tt.want)
		}
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"alice.notes.example.com", "notes.example.com:80", "example.com", "[::1]:1", "A.B.example.com.", "x..example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r := ParseHost(host, "example.com")
		switch r.Kind {
		case KindService:
			if names.ValidateService(r.Service) != nil {
				t.Fatalf("%q: invalid service %q accepted", host, r.Service)
			}
		case KindInstance:
			n, err := names.New(r.Instance.Service, r.Instance.ID)
			if err != nil || n != r.Instance || r.Service != n.Service {
				t.Fatalf("%q: invalid instance %+v accepted", host, r)
			}
			if !strings.Contains(strings.ToLower(host), n.ID+"."+n.Service+".example.com") {
				t.Fatalf("%q routed to %v", host, n)
			}
		}
	})
}
