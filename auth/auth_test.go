package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestIssueStoresOnlyTheHash(t *testing.T) {
	st := openStore(t)
	secret, tok, err := Issue(st, "alice", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != SecretBytes || len(secret) != SecretLen {
		t.Fatalf("secret %q: %d bytes, %v", secret, len(raw), err)
	}
	if tok.Tenant != "alice" || tok.Description != "laptop" || len(tok.ID) != 2*idBytes {
		t.Errorf("token = %+v", tok)
	}
	if tok.Hash != Hash(secret) || !strings.HasPrefix(tok.Hash, "sha256:") || strings.Contains(tok.Hash, secret) {
		t.Errorf("hash %q of %q", tok.Hash, secret)
	}
	got, err := Verify(st, secret)
	if err != nil || got.ID != tok.ID || got.Tenant != "alice" {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	// The store file holds the hash and neither form of the secret.
	b, err := os.ReadFile(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || strings.Contains(string(b), string(raw)) {
		t.Error("the store file contains the secret")
	}
	if !strings.Contains(string(b), tok.Hash) {
		t.Error("the store file does not contain the hash: wrong file?")
	}
	if _, err := st.RevokeToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(st, secret); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Errorf("Verify after revoke: %v", err)
	}
	// Two tokens never share a secret or an id.
	s2, t2, err := Issue(st, "", "")
	if err != nil || s2 == secret || t2.ID == tok.ID || t2.Tenant != "" {
		t.Errorf("second token %q %+v %v", s2, t2, err)
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	st := openStore(t)
	for _, tc := range []struct{ name, tenant, desc string }{
		{"uppercase tenant", "Alice", ""},
		{"dotted tenant", "a.b", ""},
		{"path tenant", "../x", ""},
		{"newline in description", "alice", "a\nb"},
		{"long description", "", strings.Repeat("x", MaxDescription+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Issue(st, tc.tenant, tc.desc); !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Issue(%q, %q) = %v, want ErrInvalid", tc.tenant, tc.desc, err)
			}
		})
	}
}

// fakeStore answers every lookup with tok, counting lookups.
type fakeStore struct {
	tok     store.Token
	err     error
	lookups int
}

func (f *fakeStore) CreateToken(store.Token) error { return nil }
func (f *fakeStore) TokenByHash(string) (store.Token, error) {
	f.lookups++
	return f.tok, f.err
}

func TestVerifyComparesTheStoredHash(t *testing.T) {
	secret := strings.Repeat("A", SecretLen)
	// A store that finds a record whose hash is not the secret's (a
	// corrupt index, say): the constant-time comparison must refuse it.
	f := &fakeStore{tok: store.Token{ID: "x", Hash: Hash(strings.Repeat("B", SecretLen))}}
	if _, err := Verify(f, secret); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("mismatched hash accepted: %v", err)
	}
	f.tok.Hash = Hash(secret)
	if got, err := Verify(f, secret); err != nil || got.ID != "x" {
		t.Fatalf("matching hash: %+v %v", got, err)
	}
	f.err = errors.New("disk on fire")
	if _, err := Verify(f, secret); err == nil || errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("store failure reported as %v", err)
	}
}

func TestVerifyRejectsMalformedWithoutLookup(t *testing.T) {
	f := &fakeStore{}
	for _, s := range []string{"", "short", strings.Repeat("A", SecretLen-1), strings.Repeat("A", SecretLen+1),
		strings.Repeat("A", SecretLen-1) + "=", strings.Repeat("A", SecretLen-1) + " ", strings.Repeat("A", SecretLen-1) + "+"} {
		if _, err := Verify(f, s); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify(%q) = %v", s, err)
		}
	}
	if f.lookups != 0 {
		t.Errorf("%d store lookups for malformed tokens", f.lookups)
	}
}

func TestBearerToken(t *testing.T) {
	tok := strings.Repeat("a", SecretLen)
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
		present bool
		ok      bool
	}{
		{"none", nil, "", false, true},
		{"bearer", []string{"Bearer " + tok}, tok, true, true},
		{"lowercase", []string{"bearer " + tok}, tok, true, true},
		{"uppercase", []string{"BEARER " + tok}, tok, true, true},
		{"mixed case", []string{"BeArEr " + tok}, tok, true, true},
		{"extra space kept", []string{"Bearer  " + tok}, " " + tok, true, true},
		{"raw token", []string{tok}, "", true, false},
		{"empty", []string{""}, "", true, false},
		{"scheme only", []string{"Bearer"}, "", true, false},
		{"scheme and space", []string{"Bearer "}, "", true, false},
		{"no space", []string{"Bearer" + tok}, "", true, false},
		{"colon", []string{"Bearer:" + tok}, "", true, false},
		{"basic", []string{"Basic " + tok}, "", true, false},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/instances?token="+tok+"&access_token="+tok, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, present, err := BearerToken(r)
			if got != tc.want || present != tc.present || (err == nil) != tc.ok {
				t.Errorf("BearerToken = %q, %v, %v; want %q, %v, ok=%v", got, present, err, tc.want, tc.present, tc.ok)
			}
		})
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestThrottle(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	th := NewThrottle()
	th.Now = c.now
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	for i := 1; i < DefaultMaxFailures; i++ {
		if th.Fail(a) {
			t.Fatalf("blocked after %d failures", i)
		}
		c.t = c.t.Add(time.Second)
	}
	if _, blocked := th.Blocked(a); blocked {
		t.Fatal("blocked before the limit")
	}
	if !th.Fail(a) {
		t.Fatalf("not blocked after %d failures", DefaultMaxFailures)
	}
	if wait, blocked := th.Blocked(a); !blocked || wait != DefaultCooldown {
		t.Fatalf("Blocked(a) = %v, %v", wait, blocked)
	}
	if _, blocked := th.Blocked(b); blocked {
		t.Fatal("another client is blocked too")
	}
	c.t = c.t.Add(DefaultCooldown)
	if _, blocked := th.Blocked(a); blocked {
		t.Fatal("still blocked after the cooldown")
	}
	// Failures spread wider than the window never block.
	for range 3 * DefaultMaxFailures {
		if th.Fail(b) {
			t.Fatal("failures outside the window blocked b")
		}
		c.t = c.t.Add(DefaultWindow/time.Duration(DefaultMaxFailures-1) + time.Millisecond)
	}
	// IPv6 clients are counted by /64.
	for i := range DefaultMaxFailures {
		th.Fail(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}))
	}
	if _, blocked := th.Blocked(netip.MustParseAddr("2001:db8::ffff")); !blocked {
		t.Error("failures from one /64 did not block it")
	}
	if _, blocked := th.Blocked(netip.MustParseAddr("2001:db8:0:1::1")); blocked {
		t.Error("another /64 is blocked")
	}
}

func TestThrottleIsBounded(t *testing.T) {
	th := NewThrottle()
	th.Capacity = 100
	first := netip.MustParseAddr("10.0.0.1")
	for range DefaultMaxFailures {
		th.Fail(first)
	}
	if _, blocked := th.Blocked(first); !blocked {
		t.Fatal("not blocked")
	}
	for i := range 1000 {
		th.Fail(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
		if th.size() > 100 {
			t.Fatalf("%d clients remembered, capacity 100", th.size())
		}
	}
	if _, blocked := th.Blocked(first); blocked {
		t.Error("the least recently seen client was not evicted")
	}
}

func TestAuthenticatorThrottlesPerClient(t *testing.T) {
	st := openStore(t)
	secret, _, err := Issue(st, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(st, nil, nil, nil)
	req := func(remote, header string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/instances", nil)
		r.RemoteAddr = remote
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		return r
	}
	// Requests without a token are refused but not counted.
	for range 2 * DefaultMaxFailures {
		if _, err := a.Authenticate(req("192.0.2.1:1", "")); !errors.Is(err, errdefs.ErrUnauthorized) {
			t.Fatalf("no token: %v", err)
		}
	}
	if tok, err := a.Authenticate(req("192.0.2.1:1", "Bearer "+secret)); err != nil || tok.Tenant != "alice" {
		t.Fatalf("valid token: %+v %v", tok, err)
	}
	wrong := "Bearer " + strings.Repeat("x", SecretLen)
	for i := range DefaultMaxFailures {
		if _, err := a.Authenticate(req("192.0.2.1:2", wrong)); !errors.Is(err, errdefs.ErrUnauthorized) {
			t.Fatalf("wrong token %d: %v", i, err)
		}
	}
	_, err = a.Authenticate(req("192.0.2.1:3", "Bearer "+secret))
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, errdefs.ErrRateLimited) || rl.RetryAfter() <= 0 {
		t.Fatalf("valid token from the blocked client: %v", err)
	}
	if tok, err := a.Authenticate(req("192.0.2.2:1", "Bearer "+secret)); err != nil || tok.Tenant != "alice" {
		t.Fatalf("valid token from another client: %+v %v", tok, err)
	}
}

// size is how many clients the throttle remembers.
func (t *Throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
