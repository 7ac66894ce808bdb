package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestLayout(t *testing.T) {
	l := newLayout("prod")
	tests := []struct {
		key, dir, name string
		ok             bool
	}{
		{"/tenement/prod/hosts/h1", dirHosts, "h1", true},
		{"/tenement/prod/placements/notes:alice", dirPlacements, "notes:alice", true},
		{"/tenement/prod/tokens/a1b2", dirTokens, "a1b2", true},
		{"/tenement/prod/domains/alice.example.com", dirDomains, "alice.example.com", true},
		{"/tenement/prod/hosts/", "", "", false},
		{"/tenement/prodx/hosts/h1", "", "", false},
		{"/tenement/prod/other/x", "", "", false},
	}
	for _, tt := range tests {
		dir, name, ok := l.split(tt.key)
		if dir != tt.dir || name != tt.name || ok != tt.ok {
			t.Errorf("split(%q) = %q %q %v, want %q %q %v", tt.key, dir, name, ok, tt.dir, tt.name, tt.ok)
		}
	}
	if got := l.placement(inst(t, "notes:alice")); got != "/tenement/prod/placements/notes:alice" {
		t.Errorf("placement key %q", got)
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Alice.Example.COM.", "alice.example.com", true},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", true},
		{"localhost", "", false}, // one label: no custom domain
		{"Bücher.example", "xn--bcher-kva.example", true},
		{"", "", false},
		{"192.0.2.1", "", false},
		{"::1", "", false},
		{"a..b", "", false},
		{"-a.b", "", false},
		{"a-.b", "", false},
		{"a b.c", "", false},
		{strings.Repeat("a", 64) + ".b", "", false},
		{strings.Repeat("abcdefg.", 32) + "com", "", false}, // 259 characters
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if got != tt.want || (err == nil) != tt.ok || (err != nil && !errors.Is(err, errdefs.ErrInvalid)) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Options{Endpoints: []string{"http://127.0.0.1:2379"}, Host: "h1", Addr: "10.0.0.1:8080", Capacity: 10}
	tests := []struct {
		name string
		mod  func(*Options)
		want string // "" valid, else part of the error
	}{
		{"good", func(*Options) {}, ""},
		{"no endpoints", func(o *Options) { o.Endpoints = nil }, "no etcd endpoints"},
		{"bad host", func(o *Options) { o.Host = "H_1" }, "host"},
		{"bad cluster", func(o *Options) { o.Cluster = "a/b" }, "cluster"},
		{"no port", func(o *Options) { o.Addr = "10.0.0.1" }, "want host:port"},
		{"bad port", func(o *Options) { o.Addr = "10.0.0.1:99999" }, "bad port"},
		{"no capacity", func(o *Options) { o.Capacity = 0 }, "capacity"},
		{"short ttl", func(o *Options) { o.TTL = 500e6 }, "ttl"},
	}
	for _, tt := range tests {
		o := good
		tt.mod(&o)
		o.setDefaults()
		err := o.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (!errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", tt.name, err, tt.want)
		}
	}
	o := good
	if o.setDefaults(); o.Cluster != DefaultCluster || o.TTL != DefaultTTL || o.WriteTimeout != DefaultWriteTimeout {
		t.Errorf("defaults: %+v", o)
	}
}
