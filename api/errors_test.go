package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		header     string
		headerWant string
	}{
		{"throttled", &auth.RateLimitError{Wait: 1500 * time.Millisecond}, 429, "Retry-After", "2"},
		{"unauthorized", auth.ErrInvalidToken, 401, "WWW-Authenticate", `Bearer realm="tenement"`},
		{"forbidden", fmt.Errorf("%w: no", errdefs.ErrForbidden), 403, "Retry-After", ""},
		{"not found", fmt.Errorf("x: %w", errdefs.ErrNotFound), 404, "", ""},
		{"method", fmt.Errorf("%w: GET /x", errdefs.ErrMethodNotAllowed), 405, "", ""},
		{"internal", fmt.Errorf("disk on fire"), 500, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, slog.New(slog.DiscardHandler), tc.err)
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != tc.err.Error() {
				t.Errorf("body %q: %v", w.Body, err)
			}
			if w.Code != tc.status || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
			}
			if tc.header != "" && w.Header().Get(tc.header) != tc.headerWant {
				t.Errorf("%s = %q, want %q", tc.header, w.Header().Get(tc.header), tc.headerWant)
			}
		})
	}
}

func TestTokenIdentityScopes(t *testing.T) {
	alice, bob := names.Instance{Service: "notes", ID: "alice"}, names.Instance{Service: "blog", ID: "bob"}
	admin := TokenIdentity(store.Token{ID: "a1"})
	tenant := TokenIdentity(store.Token{ID: "t1", Tenant: "alice"})
	if !admin.Admin || admin.Actor != "token:a1" || !admin.CanRead(alice) || !admin.CanRead(bob) {
		t.Errorf("admin identity %+v", admin)
	}
	if tenant.Admin || tenant.Actor != "tenant:alice/token:t1" || !tenant.CanRead(alice) || tenant.CanRead(bob) {
		t.Errorf("tenant identity %+v", tenant)
	}
	if err := tenant.requireRead(bob); errdefs.HTTPStatus(err) != http.StatusNotFound {
		t.Errorf("tenant reading another's instance: %v", err)
	}
	if err := tenant.requireAdmin("deploy"); errdefs.HTTPStatus(err) != http.StatusForbidden {
		t.Errorf("tenant deploying: %v", err)
	}
}

func TestValidTokenID(t *testing.T) {
	for s, want := range map[string]bool{"3f2a9c1b7d4e": true, "old-id-1": true, "": false, "A": false, "../x": false, "a b": false} {
		if validTokenID(s) != want {
			t.Errorf("validTokenID(%q) = %v", s, !want)
		}
	}
}
