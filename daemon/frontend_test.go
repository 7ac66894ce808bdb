package daemon

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenement/tenement/config"
)

// TestRootHandler checks the split of the root domain: the dashboard's
// page and assets without a token, everything else through the API.
func TestRootHandler(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", "api")
		w.WriteHeader(http.StatusUnauthorized)
	})
	h := rootHandler(api, config.APIOverHTTPAny, slog.New(slog.DiscardHandler))
	for _, tc := range []struct {
		method, path string
		api          bool
	}{
		{"GET", "/", false},
		{"HEAD", "/", false},
		{"GET", "/assets/app.js", false},
		{"GET", "/metrics", true},
		{"GET", "/api/instances", true},
		{"GET", "/api/summary", true},
		{"GET", "/health", true},
		{"GET", "/index.html", true},
		{"GET", "/favicon.ico", true},
		{"POST", "/", true},
		{"DELETE", "/assets/app.js", true},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if got := rec.Header().Get("X-Served-By") == "api"; got != tc.api {
			t.Errorf("%s %s: served by the API %v, want %v (status %d)", tc.method, tc.path, got, tc.api, rec.Code)
		}
		if !tc.api && rec.Code != http.StatusOK {
			t.Errorf("%s %s: %d, want 200 without a token", tc.method, tc.path, rec.Code)
		}
	}
}
