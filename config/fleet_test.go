package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFleetAbsent(t *testing.T) {
	c, err := Parse("/etc/tenement/tenement.toml", []byte("[settings]\nlisten = \":8080\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Fleet != nil {
		t.Fatalf("Fleet = %+v without a [fleet] table, want nil", c.Fleet)
	}
}

func TestFleetValid(t *testing.T) {
	defer func(h func() (string, error)) { hostname = h }(hostname)
	hostname = func() (string, error) { return "Web-3.Example.com", nil }
	tests := []struct {
		name string
		toml string
		want Fleet
	}{
		{
			name: "defaults",
			toml: `[settings]
listen = "10.0.0.5:8080"
[fleet]
endpoints = ["http://10.0.0.1:2379"]
`,
			want: Fleet{Endpoints: []string{"http://10.0.0.1:2379"}, Cluster: "default", Host: "web-3",
				Advertise: "10.0.0.5:8080", Capacity: 1000,
				LeaseTTL: Duration(10 * time.Second), WriteTimeout: Duration(2 * time.Second),
				SecretFile: "/etc/tenement/fleet.secret"},
		},
		{
			name: "every key, TLS",
			toml: `[fleet]
endpoints = ["https://etcd-1.internal:2379", "https://etcd-2.internal:2379"]
cluster = "prod"
host = "h2"
advertise = "h2.internal:8080"
capacity = 300
lease_ttl = "6s"
write_timeout = "500ms"
ca_file = "etcd/ca.pem"
cert_file = "/etc/tenement/etcd/h2.pem"
key_file = "etcd/h2-key.pem"
secret_file = "/run/credentials/tenement.service/fleet"
`,
			want: Fleet{Endpoints: []string{"https://etcd-1.internal:2379", "https://etcd-2.internal:2379"},
				Cluster: "prod", Host: "h2", Advertise: "h2.internal:8080", Capacity: 300,
				LeaseTTL: Duration(6 * time.Second), WriteTimeout: Duration(500 * time.Millisecond),
				CAFile: "/etc/tenement/etcd/ca.pem", CertFile: "/etc/tenement/etcd/h2.pem", KeyFile: "/etc/tenement/etcd/h2-key.pem",
				SecretFile: "/run/credentials/tenement.service/fleet"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/tenement/tenement.toml", []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*c.Fleet, tt.want) {
				t.Errorf("Fleet = %+v\nwant    %+v", *c.Fleet, tt.want)
			}
		})
	}
}

func TestFleetInvalid(t *testing.T) {
	defer func(h func() (string, error)) { hostname = h }(hostname)
	hostname = func() (string, error) { return "", errors.New("no hostname") }
	base := "[fleet]\nendpoints = [\"http://10.0.0.1:2379\"]\nhost = \"h1\"\nadvertise = \"10.0.0.5:8080\"\n"
	tests := []struct {
		name string
		toml string
		want string
	}{
		{"no endpoints", "[fleet]\nhost = \"h1\"\nadvertise = \"10.0.0.5:8080\"\n", "fleet.endpoints: missing"},
		{"endpoint not a URL", strings.Replace(base, "http://10.0.0.1:2379", "10.0.0.1:2379", 1), "fleet.endpoints: \"10.0.0.1:2379\": want a URL"},
		{"http with TLS", base + "ca_file = \"/etc/ca.pem\"\n", "is plain http, but the TLS keys are set"},
		{"cert without key", strings.Replace(base, "http:", "https:", 1) + "cert_file = \"/etc/c.pem\"\n", "fleet.cert_file: cert_file and key_file go together"},
		{"no hostname", "[fleet]\nendpoints = [\"http://10.0.0.1:2379\"]\nadvertise = \"10.0.0.5:8080\"\n", "fleet.host: \"\": want a DNS label"},
		{"bad host", strings.Replace(base, "\"h1\"", "\"h_1\"", 1), "fleet.host: \"h_1\""},
		{"bad cluster", base + "cluster = \"a/b\"\n", "fleet.cluster: \"a/b\""},
		{"no advertise, wildcard listen", "[settings]\nlisten = \":8080\"\n[fleet]\nendpoints = [\"http://10.0.0.1:2379\"]\nhost = \"h1\"\n", "fleet.advertise: missing"},
		{"no advertise, loopback listen", "[settings]\nlisten = \"127.0.0.1:8080\"\n[fleet]\nendpoints = [\"http://10.0.0.1:2379\"]\nhost = \"h1\"\n", "fleet.advertise: missing"},
		{"loopback advertise", strings.Replace(base, "10.0.0.5:8080", "127.0.0.1:8080", 1), "cannot reach a loopback"},
		{"localhost advertise", strings.Replace(base, "10.0.0.5:8080", "localhost:8080", 1), "cannot reach localhost"},
		{"advertise without port", strings.Replace(base, "10.0.0.5:8080", "10.0.0.5", 1), "want host:port"},
		{"zero capacity", base + "capacity = 0\n", "fleet.capacity: 0 is not allowed"},
		{"negative capacity", base + "capacity = -1\n", "fleet.capacity: -1: want at least 1"},
		{"zero lease", base + "lease_ttl = 0\n", "fleet.lease_ttl: 0 is not allowed"},
		{"short lease", base + "lease_ttl = \"1s\"\n", "fleet.lease_ttl: 1s: want whole seconds, at least 2s"},
		{"fractional lease", base + "lease_ttl = \"2500ms\"\n", "want whole seconds"},
		{"short write timeout", base + "write_timeout = \"10ms\"\n", "fleet.write_timeout: 10ms is too short"},
		{"unknown key", base + "ttl = 5\n", "fleet.ttl: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/tenement/tenement.toml", []byte(tt.toml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
