package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// Forwarding headers count only on the front proxy's listener, whatever
// the peer: on any other, a tenant on loopback (or anyone) could name
// another client in X-Forwarded-For and have it throttled.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote string
		front        bool
		peer         string // a fleet peer's name: WithPeer
		xff          []string
		want         string // "" for no address
	}{
		{"direct", "192.0.2.1:5000", false, "", nil, "192.0.2.1"},
		{"xff ignored off the front listener", "192.0.2.1:5000", false, "", []string{"203.0.113.9"}, "192.0.2.1"},
		{"loopback peer is not trusted", "127.0.0.1:5000", false, "", []string{"203.0.113.9"}, "127.0.0.1"},
		{"v6 loopback peer is not trusted", "[::1]:5000", false, "", []string{"203.0.113.9"}, "::1"},
		{"trusted_proxies peer off the front listener", "10.1.2.3:5000", false, "", []string{"203.0.113.9"}, "10.1.2.3"},
		{"front: the client the proxy names", "10.1.2.3:5000", true, "", []string{"203.0.113.9"}, "203.0.113.9"},
		{"front: right-most untrusted hop", "10.1.2.3:5000", true, "", []string{"198.51.100.7, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"front: spoofed left entries ignored", "10.1.2.3:5000", true, "", []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		{"front: garbage stops the walk", "10.1.2.3:5000", true, "", []string{"203.0.113.9, junk"}, "10.1.2.3"},
		{"front: no xff", "10.1.2.3:5000", true, "", nil, "10.1.2.3"},
		{"front unix socket", "@", true, "", []string{"2001:db8::5"}, "2001:db8::5"},
		{"front unix socket without xff", "@", true, "", nil, ""},
		{"v4-mapped peer", "[::ffff:192.0.2.1]:5000", false, "", nil, "192.0.2.1"},
		{"fleet peer: the client it forwards for", "10.77.0.11:5000", false, "h1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"fleet peer behind a front proxy", "10.77.0.11:5000", false, "h1", []string{"203.0.113.9, 10.1.1.1"}, "203.0.113.9"},
		{"fleet peer without xff", "10.77.0.11:5000", false, "h1", nil, "10.77.0.11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.front {
				r = r.WithContext(WithFront(r.Context()))
			}
			if tc.peer != "" {
				r = r.WithContext(WithPeer(r.Context(), tc.peer))
			}
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := ClientAddr(r, trusted)
			if tc.want == "" {
				if ok {
					t.Errorf("ClientAddr = %v, want no address", got)
				}
				return
			}
			if !ok || got.String() != tc.want {
				t.Errorf("ClientAddr = %v, %v; want %s", got, ok, tc.want)
			}
		})
	}
}

func TestFromPeer(t *testing.T) {
	if _, ok := FromPeer(WithFront(context.Background())); ok {
		t.Error("the front listener's context is a fleet peer's")
	}
	if h, ok := FromPeer(WithPeer(context.Background(), "h2")); !ok || h != "h2" {
		t.Errorf("FromPeer = %q, %v; want h2", h, ok)
	}
	if !Forwarded(WithPeer(context.Background(), "h2")) || Forwarded(context.Background()) {
		t.Error("Forwarded: want true for a peer's request only")
	}
}

func TestFromFront(t *testing.T) {
	if FromFront(context.Background()) {
		t.Error("an unmarked context is the front listener's")
	}
	if !FromFront(WithFront(context.Background())) {
		t.Error("a marked context is not the front listener's")
	}
}

// A tenant that forges X-Forwarded-For on the public listener cannot get
// another address throttled: its failures count against its own.
func TestForgedXFFThrottlesTheForger(t *testing.T) {
	a := NewAuthenticator(nil, nil, nil, nil)
	admin := netip.MustParseAddr("192.0.2.10")
	for range 2 * DefaultMaxFailures {
		r := httptest.NewRequest(http.MethodGet, "/api/instances", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("X-Forwarded-For", admin.String())
		r.Header.Set("Authorization", "Bearer x")
		_, _ = a.Authenticate(r)
	}
	if _, blocked := a.throttle.Blocked(admin); blocked {
		t.Error("the address named in a forged X-Forwarded-For is blocked")
	}
	if _, blocked := a.throttle.Blocked(netip.MustParseAddr("127.0.0.1")); !blocked {
		t.Error("the forger is not blocked")
	}
}
