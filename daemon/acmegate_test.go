package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/acme"
)

// fakeCA is the part of an ACME CA that a new order reaches: the directory,
// nonces, and newOrder, which it counts by name.
type fakeCA struct {
	mu     sync.Mutex
	orders []string // the names of the orders it received
}

func (f *fakeCA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Replay-Nonce", "nonce")
	base := "http://" + r.Host
	switch r.URL.Path {
	case "/dir":
		io.WriteString(w, `{"newNonce":"`+base+`/nonce","newAccount":"`+base+`/acct","newOrder":"`+base+`/order"}`)
	case "/nonce":
		w.WriteHeader(http.StatusOK)
	case "/order":
		body, _ := io.ReadAll(r.Body)
		names := orderNames(body)
		f.mu.Lock()
		f.orders = append(f.orders, names...)
		f.mu.Unlock()
		w.Header().Set("Location", base+"/order/1")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"status":"pending","identifiers":[{"type":"dns","value":"`+names[0]+`"}],"authorizations":[],"finalize":"`+base+`/fin"}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeCA) seen() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.orders, " ")
}

// The gate lets through the acme package's own new orders for names the
// policy allows and refuses the others before they are sent, whoever asks:
// autocert's renewal timers never ask the host policy.
func TestOrderGate(t *testing.T) {
	ca := &fakeCA{}
	srv := httptest.NewServer(ca)
	t.Cleanup(srv.Close)
	f := newFake()
	pol := newHostPolicy("example.com", f, f)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	client := &acme.Client{Key: key, KID: acme.KeyID(srv.URL + "/acct/1"), DirectoryURL: srv.URL + "/dir",
		HTTPClient: &http.Client{Transport: &orderGate{base: http.DefaultTransport, allow: pol.Allow, log: slog.New(slog.DiscardHandler)}}}
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"notes.alice-corp.com", true},       // a bound custom domain
		{"alice.notes.example.com", true},    // a known instance
		{"mallory.notes.example.com", false}, // an unknown one
		{"evil.example.org", false},
	} {
		_, err := client.AuthorizeOrder(ctx, acme.DomainIDs(tt.name))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errNotServed)) {
			t.Errorf("order for %s: %v, want allowed=%v", tt.name, err, tt.ok)
		}
	}
	// The domain is unbound: its next order (a renewal) is refused.
	delete(f.domains, "notes.alice-corp.com")
	if _, err := client.AuthorizeOrder(ctx, acme.DomainIDs("notes.alice-corp.com")); !errors.Is(err, errNotServed) {
		t.Errorf("order for an unbound domain: %v, want refused", err)
	}
	if got := ca.seen(); got != "notes.alice-corp.com alice.notes.example.com" {
		t.Errorf("the CA received orders for %q", got)
	}
}

func TestOrderNames(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"protected":"e30","payload":"eyJpZGVudGlmaWVycyI6W3sidHlwZSI6ImRucyIsInZhbHVlIjoiYS5leGFtcGxlIn1dfQ","signature":"x"}`, "a.example"},
		{`{"protected":"e30","payload":"","signature":"x"}`, ""},            // POST-as-GET
		{`{"protected":"e30","payload":"e30","signature":"x"}`, ""},         // {}
		{`{"protected":"e30","payload":"not base64!","signature":"x"}`, ""}, // not an order
		{`not json`, ""},
	} {
		if got := strings.Join(orderNames([]byte(tt.body)), " "); got != tt.want {
			t.Errorf("orderNames(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// An unbound domain's certificates and keys leave the cache, so that no
// later daemon serves or renews them; other names' stay.
func TestForgetDropsTheCachedCertificate(t *testing.T) {
	c, _ := newTestCerts(t)
	ctx := context.Background()
	for _, key := range []string{"notes.alice-corp.com", "notes.alice-corp.com+rsa", "alice.notes.example.com"} {
		if err := c.m.Cache.Put(ctx, key, []byte("cert and key")); err != nil {
			t.Fatal(err)
		}
	}
	c.have["notes.alice-corp.com"] = struct{}{}
	c.forget("notes.alice-corp.com")
	c.forget("never-cached.example") // nothing to drop is no error
	for key, want := range map[string]bool{"notes.alice-corp.com": false, "notes.alice-corp.com+rsa": false, "alice.notes.example.com": true} {
		if _, err := c.m.Cache.Get(ctx, key); (err == nil) != want {
			t.Errorf("cache %s: %v, want present=%v", key, err, want)
		}
	}
	if c.hasCert("notes.alice-corp.com") {
		t.Error("the daemon still counts the unbound domain as having a certificate")
	}
}
