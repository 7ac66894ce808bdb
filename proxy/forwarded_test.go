package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenement/tenement/auth"
)

// A client's own X-Forwarded-For and X-Forwarded-Proto reach the app only
// when the request came through the front proxy's listener. A tenant on
// loopback sending to the public listener is the client, whatever it says.
func TestForwardingHeadersOnlyFromFront(t *testing.T) {
	p := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-For")+"|"+r.Header.Get("X-Forwarded-Proto"))
	}))
	for _, tc := range []struct {
		name, remote string
		front        bool
		xff, proto   string
		want         string
	}{
		{"public, forged", "127.0.0.1:40000", false, "203.0.113.9", "https", "127.0.0.1|http"},
		{"public, none", "192.0.2.1:40000", false, "", "", "192.0.2.1|http"},
		{"front tcp", "10.0.0.2:40000", true, "203.0.113.9", "https", "203.0.113.9, 10.0.0.2|https"},
		{"front unix socket", "@", true, "203.0.113.9", "https", "203.0.113.9|https"},
		{"front unix socket, no xff", "@", true, "", "", "|http"},
		{"front, bad proto", "10.0.0.2:40000", true, "203.0.113.9", "gopher", "203.0.113.9, 10.0.0.2|http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://a.web.example.com/", nil)
			r.RemoteAddr = tc.remote
			if tc.front {
				r = r.WithContext(auth.WithFront(r.Context()))
			}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != 200 || w.Body.String() != tc.want {
				t.Errorf("app saw %d %q, want %q", w.Code, w.Body, tc.want)
			}
		})
	}
}
