package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWriteLimit: past its limit a token's changing calls get 429 with
// Retry-After, while its reads, another token's writes and the local
// socket's are not affected; a minute later it may write again.
func TestWriteLimit(t *testing.T) {
	a := newTestAPI(t, "notes:alice", "notes:bob")
	a.srv.LimitWrites(10)
	hot, _ := a.token(t, "")
	cold, _ := a.token(t, "")
	weight := func(token string) (int, http.Header, string) {
		return a.call(t, http.MethodPut, "/api/instances/notes:bob/weight", token, strings.NewReader(`{"weight": 0}`))
	}
	ok, limited := 0, 0
	for range 30 {
		status, h, body := weight(hot)
		switch status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if s, _ := strconv.Atoi(h.Get("Retry-After")); s < 1 || s > 6 || !strings.Contains(body, "api_writes_per_minute") {
				t.Fatalf("429 with Retry-After %q: %s", h.Get("Retry-After"), body)
			}
		default:
			t.Fatalf("weight: %d %s", status, body)
		}
	}
	if ok < 10 || ok > 11 || limited != 30-ok { // one more may refill during the loop
		t.Errorf("%d allowed, %d limited, want 10 allowed", ok, limited)
	}
	for _, tc := range []struct {
		name   string
		status func() int
	}{
		{"a read of the limited token", func() int { s, _, _ := a.call(t, http.MethodGet, "/api/instances", hot, nil); return s }},
		{"another token's write", func() int { s, _, _ := weight(cold); return s }},
		{"the local socket's write", func() int { s, _, _ := weight("local"); return s }},
	} {
		if got := tc.status(); got != http.StatusOK {
			t.Errorf("%s: %d", tc.name, got)
		}
	}
	// Limited calls are not audited as changes: only the allowed ones are.
	log, _ := a.st.AuditLog(0)
	if len(log) != ok+2 {
		t.Errorf("%d audit entries, want %d", len(log), ok+2)
	}
}

func TestWriteLimiterRefillsAndForgets(t *testing.T) {
	l := newWriteLimiter(60)
	now := time.Unix(1e9, 0)
	for i := range 60 {
		if err := l.allow("token:a", now); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err := l.allow("token:a", now)
	var wle *WriteLimitError
	if !errors.As(err, &wle) || wle.RetryAfter() != time.Second {
		t.Fatalf("61st call: %v", err)
	}
	if err := l.allow("token:a", now.Add(time.Second)); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	// Callers whose buckets are full again are forgotten once the map has
	// doubled: it does not grow with every caller ever seen.
	for i := range 10 * minSweep {
		if err := l.allow(fmt.Sprintf("token:%d", i), now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.callers); n > 2*minSweep+1 {
		t.Errorf("%d limiters kept for %d callers, most of them full again", n, 10*minSweep)
	}
	if newWriteLimiter(0).allow("x", now) != nil {
		t.Error("0 must mean no limit")
	}
}
