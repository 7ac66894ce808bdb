package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
)

// fakeFleet is the agent's cache: who owns what, who is live where.
type fakeFleet struct {
	owners map[string]string // instance -> host
	addrs  map[string]string // live host -> addr
	self   string
	peers  map[netip.Addr]string
}

func (f *fakeFleet) Owner(n names.Instance) (host, addr string, local, alive bool) {
	host = f.owners[n.String()]
	addr, alive = f.addrs[host]
	return host, addr, host == f.self, alive
}

func (f *fakeFleet) PeerAt(ip netip.Addr) (string, bool) {
	h, ok := f.peers[ip]
	return h, ok
}

const secret = "0123456789abcdef0123456789abcdef-fleet"

// twoHosts is h1, which forwards, and h2, which owns web:a and whose app
// echoes what it got; h2's root domain says who the API would see.
type twoHosts struct {
	h1, h2  *Proxy
	h2URL   string
	reached atomic.Int64 // requests h2 received
	fl1     *fakeFleet
}

func newTwoHosts(t *testing.T, h2Secret string) *twoHosts {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"host": r.Host, "xff": r.Header.Get("X-Forwarded-For"),
			"hop": r.Header.Get(apitype.HopHeader), "proto": r.Header.Get("X-Forwarded-Proto")})
	}))
	t.Cleanup(app.Close)
	c, err := config.Parse("/t.toml", []byte("[service.web]\ncommand = \"/bin/true\"\nrequest_timeout = \"2s\"\nwake_timeout = \"7s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	be := &backend{svc: c.Services["web"], addr: strings.TrimPrefix(app.URL, "http://")}
	th := &twoHosts{}
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := auth.ClientAddr(r, nil)
		peer, _ := auth.FromPeer(r.Context())
		io.WriteString(w, "client="+a.String()+" peer="+peer)
	})
	loop := netip.MustParseAddr("127.0.0.1")
	fl2 := &fakeFleet{owners: map[string]string{"web:a": "h2"}, self: "h2", peers: map[netip.Addr]string{loop: "h1"}}
	th.h2 = New(Options{Domain: "example.com", Backend: be, Root: root,
		Fleet: &FleetOptions{Fleet: fl2, Host: "h2", Secret: h2Secret}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.reached.Add(1)
		th.h2.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	th.h2URL = srv.URL
	fl2.addrs = map[string]string{"h1": "127.0.0.1:1", "h2": strings.TrimPrefix(srv.URL, "http://")}
	th.fl1 = &fakeFleet{owners: fl2.owners, addrs: fl2.addrs, self: "h1", peers: map[netip.Addr]string{}}
	th.h1 = New(Options{Domain: "example.com", Backend: be, Fleet: &FleetOptions{Fleet: th.fl1, Host: "h1", Secret: secret}})
	return th
}

func (th *twoHosts) get(p *Proxy, host string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://"+host+"/", nil)
	r.RemoteAddr = "192.0.2.7:4000" // a client on the internet
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

// TestFleetForwardOneHop: h1 forwards a request for h2's instance in one
// hop, Host unchanged; h2 believes the client h1 names (the secret and
// h1's address prove the hop) and no app ever sees the hop header.
func TestFleetForwardOneHop(t *testing.T) {
	th := newTwoHosts(t, secret)
	w := th.get(th.h1, "a.web.example.com", map[string]string{"X-Forwarded-For": "6.6.6.6"})
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	want := map[string]string{"host": "a.web.example.com", "xff": "192.0.2.7, 127.0.0.1", "hop": "", "proto": "http"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the app saw %s = %q, want %q", k, got[k], v)
		}
	}
	if n := th.reached.Load(); n != 1 {
		t.Errorf("h2 received %d requests, want 1", n)
	}
	// A peer's API call: the client it names, and the peer's mark.
	r := httptest.NewRequest("GET", th.h2URL+"/api/x", nil)
	r.Header.Set(apitype.HopHeader, "h1 "+secret)
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	resp, err := http.DefaultClient.Do(mustRequest(t, r))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "client=192.0.2.7 peer=h1" {
		t.Errorf("h2's root saw %q, want the client h1 names and h1's mark", b)
	}
}

// TestFleetHopWithoutProof: a request that carries the hop header with
// the wrong secret, or from an address that is no live host's, is a
// client's: its forwarding headers are not believed, the header is
// removed, and it is never forwarded.
func TestFleetHopWithoutProof(t *testing.T) {
	th := newTwoHosts(t, "another secret entirely, 32 chars or more")
	w := th.get(th.h1, "a.web.example.com", map[string]string{"X-Forwarded-For": "6.6.6.6"})
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got["xff"] != "127.0.0.1" || got["hop"] != "" {
		t.Errorf("with the wrong secret the app saw xff %q, hop %q; want the peer as client, no hop header", got["xff"], got["hop"])
	}
	// A forged hop header sent to h1 for h2's instance: not forwarded.
	th.reached.Store(0)
	w = th.get(th.h1, "a.web.example.com", map[string]string{apitype.HopHeader: "h9 " + secret})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || th.reached.Load() != 0 {
		t.Errorf("a request that carried the hop header: %d (Retry-After %q), h2 reached %d times; want 503 and no hop",
			w.Code, w.Header().Get("Retry-After"), th.reached.Load())
	}
}

// TestFleetHopFromElsewhere: the right secret is not enough: the hop must
// come from the address of the live host it names.
func TestFleetHopFromElsewhere(t *testing.T) {
	th := newTwoHosts(t, secret)
	call := func(hop string) string {
		r, _ := http.NewRequest("GET", th.h2URL+"/api/x", nil)
		r.Header.Set(apitype.HopHeader, hop)
		r.Header.Set("X-Forwarded-For", "192.0.2.7")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := call("h3 " + secret); got != "client=127.0.0.1 peer=" {
		t.Errorf("the secret, from h1's address, naming h3: %q; want the peer as client, no mark", got)
	}
	th.h2.fleet.Fleet.(*fakeFleet).peers = map[netip.Addr]string{} // 127.0.0.1 is no live host's
	if got := call("h1 " + secret); got != "client=127.0.0.1 peer=" {
		t.Errorf("the secret, from no live host's address: %q; want the peer as client, no mark", got)
	}
}

// TestFleetOwnerDown: an owner whose lease expired gets 503 with
// Retry-After and no connection; an owner that refuses connections too.
func TestFleetOwnerDown(t *testing.T) {
	th := newTwoHosts(t, secret)
	h2 := th.fl1.addrs["h2"]
	delete(th.fl1.addrs, "h2")
	w := th.get(th.h1, "a.web.example.com", nil)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "7" || th.reached.Load() != 0 {
		t.Errorf("owner's lease expired: %d, Retry-After %q, h2 reached %d times; want 503, 7, 0", w.Code, w.Header().Get("Retry-After"), th.reached.Load())
	}
	th.fl1.addrs["h2"] = "127.0.0.1:1" // live, but nothing listens
	if w := th.get(th.h1, "a.web.example.com", nil); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("owner refuses connections: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	th.fl1.addrs["h2"] = h2
	// not placed anywhere, and the service route: this host's own
	if w := th.get(th.h1, "b.web.example.com", nil); w.Code != 200 {
		t.Errorf("an instance placed nowhere is this host's business: %d", w.Code)
	}
	th.reached.Store(0)
	if w := th.get(th.h1, "web.example.com", nil); w.Code != 200 || th.reached.Load() != 0 {
		t.Errorf("the service route: %d, forwarded %d times; want 200 from here", w.Code, th.reached.Load())
	}
}

func mustRequest(t *testing.T, r *http.Request) *http.Request {
	t.Helper()
	out, err := http.NewRequest(r.Method, r.URL.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Header = r.Header
	return out
}
