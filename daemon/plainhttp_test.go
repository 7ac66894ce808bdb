package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
)

// servedBy answers as the API would, naming itself.
var servedBy = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Served-By", "api")
	w.WriteHeader(http.StatusUnauthorized)
})

// TestAPIOverPlainHTTP: with api_over_http = "loopback" (the default), the
// root domain over plain HTTP serves loopback peers and the front proxy's
// listener and refuses anyone else in one line; HTTPS, "any" and GET
// /health serve everyone.
func TestAPIOverPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		name         string
		mode         string
		method, path string
		peer         string
		front, tls   bool
		want         int // 0: served by the API or the dashboard
		text         bool
	}{
		{name: "loopback", mode: "loopback", method: "GET", path: "/api/instances", peer: "127.0.0.1:40000"},
		{name: "loopback elsewhere in 127/8", mode: "loopback", method: "GET", path: "/metrics", peer: "127.3.2.1:40000"},
		{name: "loopback v6", mode: "loopback", method: "GET", path: "/api/instances", peer: "[::1]:40000"},
		{name: "loopback v4 on a v6 socket", mode: "loopback", method: "GET", path: "/api/instances", peer: "[::ffff:127.0.0.1]:40000"},
		{name: "loopback dashboard", mode: "loopback", method: "GET", path: "/", peer: "127.0.0.1:40000"},
		{name: "other peer", mode: "loopback", method: "GET", path: "/api/instances", peer: "192.0.2.7:40000", want: 403},
		{name: "other peer v6", mode: "loopback", method: "POST", path: "/api/tokens", peer: "[2001:db8::7]:40000", want: 403},
		{name: "other peer v4 on a v6 socket", mode: "loopback", method: "GET", path: "/metrics", peer: "[::ffff:192.0.2.7]:40000", want: 403},
		{name: "other peer dashboard", mode: "loopback", method: "GET", path: "/", peer: "192.0.2.7:40000", want: 403, text: true},
		{name: "other peer dashboard assets", mode: "loopback", method: "GET", path: "/assets/app.js", peer: "192.0.2.7:40000", want: 403, text: true},
		{name: "other peer health", mode: "loopback", method: "GET", path: "/health", peer: "192.0.2.7:40000"},
		{name: "other peer health, not GET", mode: "loopback", method: "DELETE", path: "/health", peer: "192.0.2.7:40000", want: 403},
		{name: "front listener", mode: "loopback", method: "GET", path: "/api/instances", peer: "@", front: true},
		{name: "front listener over TCP", mode: "loopback", method: "GET", path: "/", peer: "10.0.0.5:40000", front: true},
		{name: "other peer over HTTPS", mode: "loopback", method: "GET", path: "/api/instances", peer: "192.0.2.7:40000", tls: true},
		{name: "unset is loopback", mode: "", method: "GET", path: "/api/instances", peer: "192.0.2.7:40000", want: 403},
		{name: "any", mode: "any", method: "GET", path: "/api/instances", peer: "192.0.2.7:40000"},
		{name: "any dashboard", mode: "any", method: "GET", path: "/", peer: "192.0.2.7:40000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := rootHandler(servedBy, tc.mode, slog.New(slog.DiscardHandler))
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.RemoteAddr = tc.peer
			if tc.front {
				r = r.WithContext(auth.WithFront(r.Context()))
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if tc.want == 0 {
				if rec.Code == http.StatusForbidden {
					t.Fatalf("refused: %d %s", rec.Code, rec.Body)
				}
				return
			}
			body := rec.Body.String()
			if rec.Code != tc.want || rec.Header().Get("X-Served-By") != "" || strings.Count(strings.TrimSpace(body), "\n") != 0 {
				t.Fatalf("%d %q, want %d and one line", rec.Code, body, tc.want)
			}
			msg := strings.TrimSpace(body)
			if !tc.text {
				var e struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("not the API's JSON error: %v %q", err, body)
				}
				msg = e.Error
			}
			for _, want := range []string{"forbidden: ", "loopback", "[settings.tls]", "settings.front_listen", `settings.api_over_http = "any"`} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
		})
	}
}

// TestAPIOverPlainHTTPListeners runs the root handler behind the real
// listeners: the plain-HTTP one reached over loopback and the front
// proxy's unix socket are served; a peer on another local address (when
// this host has one) is refused.
func TestAPIOverPlainHTTPListeners(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "front.sock")
	_, port, _ := net.SplitHostPort(freeAddr(t))
	cfg, err := config.Parse("/t.toml", []byte(fmt.Sprintf("[settings]\ndomain = \"example.com\"\nlisten = \":%s\"\nfront_listen = \"unix:%s\"\n", port, sock)))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	servers, err := publicServers(cfg, &activation.Listeners{}, newFake(), nil, rootHandler(servedBy, cfg.Settings.APIOverHTTP, log), log)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		go s.serve(make(chan error, 1))
		t.Cleanup(func() { _ = s.srv.Close() })
	}
	get := func(network, addr string, local net.Addr) int {
		t.Helper()
		d := net.Dialer{LocalAddr: local}
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, network, addr) },
		}}
		resp, err := c.Get("http://example.com/api/instances")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := get("tcp", "127.0.0.1:"+port, nil); code != http.StatusUnauthorized {
		t.Errorf("over loopback: %d, want the API's 401", code)
	}
	if code := get("unix", sock, nil); code != http.StatusUnauthorized {
		t.Errorf("through the front socket: %d, want the API's 401", code)
	}
	ip := nonLoopbackIP()
	if ip == nil {
		t.Log("this host has no address but loopback: the refusal is tested on requests only (TestAPIOverPlainHTTP)")
		return
	}
	if code := get("tcp", net.JoinHostPort(ip.String(), port), &net.TCPAddr{IP: ip}); code != http.StatusForbidden {
		t.Errorf("from %s: %d, want 403", ip, code)
	}
}

// nonLoopbackIP returns an IPv4 address of this host that is not loopback,
// or nil.
func nonLoopbackIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	return nil
}
