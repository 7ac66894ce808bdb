package dashboard

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServes(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		name, path string
		want       int
		ctype      string
	}{
		{"page", "/", 200, "text/html"},
		{"script", "/assets/app.js", 200, "text/javascript"},
		{"styles", "/assets/app.css", 200, "text/css"},
		{"icon", "/assets/favicon.svg", 200, "image/svg+xml"},
		{"unknown asset", "/assets/nope.js", 404, ""},
		{"the page by its file name", "/index.html", 200, "text/html"},
		{"anything else", "/api/instances", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, h, tc.path, nil)
			if rec.Code != tc.want {
				t.Fatalf("GET %s: %d, want %d", tc.path, rec.Code, tc.want)
			}
			if tc.want != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			for k := range securityHeaders {
				if rec.Header().Get(k) == "" {
					t.Errorf("no %s header", k)
				}
			}
			if rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestRevalidates(t *testing.T) {
	h := Handler()
	first := get(t, h, "/assets/app.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get(t, h, "/assets/app.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %d, want 304", rec.Code)
	}
}

// TestSelfContained checks that nothing the dashboard loads comes from
// elsewhere (it must work offline, without a CDN or web fonts), and that
// the page has no inline script or style, which the CSP would block.
func TestSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?(https?:)?//|fetch\(\s*["'\x60]https?:`)
	err := eachFile(func(p string, b []byte) error {
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another site: %q", p, m)
		}
		if strings.HasSuffix(p, ".html") {
			s := string(b)
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(s) || strings.Contains(s, "<style") || regexp.MustCompile(`\sstyle=|\son[a-z]+=`).MatchString(s) {
				t.Errorf("%s has inline script, style or event handlers", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
