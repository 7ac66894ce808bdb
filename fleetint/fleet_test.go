//go:build linux

package fleetint

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// The tests share one fleet and run in this order; the last ones stop
// etcd, then a host.

// TestFleetSpreadAndRoute: 30 instances created through one host spread
// by capacity (15, 10, 5 for 25, 20, 15); a request for each, sent to each
// of the three hosts, reaches the right instance (90 requests) and wakes
// it on its owner only.
func TestFleetSpreadAndRoute(t *testing.T) {
	c := fleetOf(t)
	h1 := c.hosts[0]
	args := []string{"create", "--json"}
	for i := range 30 {
		args = append(args, fmt.Sprintf("notes:t%02d", i))
	}
	var created apitype.CreateResponse
	if err := json.Unmarshal([]byte(h1.mustTen(t, args...)), &created); err != nil {
		t.Fatal(err)
	}
	if created.Created != 30 || created.Hosts["h1"] != 15 || created.Hosts["h2"] != 10 || created.Hosts["h3"] != 5 {
		t.Fatalf("created %+v, want 15 on h1, 10 on h2, 5 on h3", created)
	}
	owner := map[string]string{}
	for _, h := range c.hosts { // every host lists all 30, with their hosts
		testbed.Eventually(t, 10*time.Second, h.Name+" lists the 30", func() error {
			ps := h.ps(t)
			n := 0
			for name, i := range ps {
				if strings.HasPrefix(name, "notes:t") {
					n++
					owner[name] = i.Host
				}
			}
			if n != 30 {
				return fmt.Errorf("%d instances", n)
			}
			return nil
		})
	}
	t0 := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var fails []string
	for i := range 30 {
		id := fmt.Sprintf("t%02d", i)
		for _, h := range c.hosts {
			wg.Go(func() {
				status, _, body, err := h.get(id, "notes", "/")
				if err != nil || status != 200 || !strings.HasPrefix(body, "hello from notes:"+id+" ") {
					mu.Lock()
					fails = append(fails, fmt.Sprintf("%s via %s: %d %q %v", id, h.Name, status, body, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(fails) > 0 {
		t.Fatalf("%d of 90 requests failed:\n%s", len(fails), strings.Join(fails, "\n"))
	}
	t.Logf("measured: 90 requests (30 wakes, each instance asked through all three hosts at once) in %v", time.Since(t0).Round(time.Millisecond))
	// each instance woke on its owner, and only there
	for _, h := range c.hosts {
		units := h.units(t)
		for name, host := range owner {
			unit := "tenement@notes-" + strings.TrimPrefix(name, "notes:") + ".service"
			if has := slices.Contains(units, unit); has != (host == h.Name) {
				t.Errorf("%s: unit of %s (owner %s) loaded: %v", h.Name, name, host, has)
			}
		}
		for name, i := range h.ps(t) {
			if !strings.HasPrefix(name, "notes:t") {
				continue
			}
			if mine := i.Host == h.Name; mine && i.State != apitype.StateRunning || !mine && i.State != apitype.StateUnknown {
				t.Errorf("%s lists %s on %s as %s", h.Name, name, i.Host, i.State)
			}
		}
	}
}

// TestFleetForwardedClient: the owner's app sees the client that the
// forwarding host saw, and the hop header never reaches it; a forged hop
// header from a client is not believed, and not forwarded.
func TestFleetForwardedClient(t *testing.T) {
	c := fleetOf(t)
	h1 := c.hosts[0]
	var id string
	for name, i := range h1.ps(t) {
		if strings.HasPrefix(name, "notes:t") && i.Host == "h2" {
			id = strings.TrimPrefix(name, "notes:")
			break
		}
	}
	if id == "" {
		t.Fatal("no instance on h2")
	}
	status, _, body, err := h1.get(id, "notes", "/headers", "X-Forwarded-For", "6.6.6.6")
	var got struct {
		Headers http.Header `json:"headers"`
	}
	if err != nil || status != 200 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("%d %s %v", status, body, err)
	}
	// the test reaches h1 from the hub (10.77.0.1); h1 forwards from its own address
	if xff := got.Headers.Get("X-Forwarded-For"); xff != "10.77.0.1, "+h1.IP {
		t.Errorf("the app saw X-Forwarded-For %q, want the client h1 saw, then h1", xff)
	}
	if hop := got.Headers.Get(apitype.HopHeader); hop != "" {
		t.Errorf("the app saw the hop header %q", hop)
	}
	status, hdr, _, _ := h1.get(id, "notes", "/", apitype.HopHeader, "h3 not-the-secret")
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("a client's forged hop header for another host's instance: %d, want 503 with Retry-After and no hop", status)
	}
}

// TestFleetSpawnOnRequest: a request for an unknown instance of a
// spawn_on_request service places it on the host that got the request,
// which creates and wakes it; every host then forwards to it.
func TestFleetSpawnOnRequest(t *testing.T) {
	c := fleetOf(t)
	h1, h2 := c.hosts[0], c.hosts[1]
	status, _, body, err := h2.get("walkin", "open", "/")
	if err != nil || status != 200 || !strings.HasPrefix(body, "hello from open:walkin ") {
		t.Fatalf("first request through h2: %d %q %v", status, body, err)
	}
	testbed.Eventually(t, 5*time.Second, "h1 lists it on h2", func() error {
		if i := h1.ps(t)["open:walkin"]; i.Host != "h2" {
			return fmt.Errorf("on %q", i.Host)
		}
		return nil
	})
	if status, _, body, _ := h1.get("walkin", "open", "/"); status != 200 || !strings.HasPrefix(body, "hello from open:walkin ") {
		t.Errorf("through h1: %d %q", status, body)
	}
}

// TestFleetTokens: a token created on h1 works on h2 and h3 within the
// watch's delay; revoked on h3, it stops working on h1.
func TestFleetTokens(t *testing.T) {
	c := fleetOf(t)
	h1, h2, h3 := c.hosts[0], c.hosts[1], c.hosts[2]
	var tok apitype.NewToken
	if err := json.Unmarshal([]byte(h1.mustTen(t, "token", "create", "--json", "--description", "fleet test")), &tok); err != nil {
		t.Fatal(err)
	}
	list := func(h *tenHost) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+h.addr()+"/api/instances?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := c.http.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t0 := time.Now()
	for _, h := range []*tenHost{h2, h3} {
		testbed.Eventually(t, 5*time.Second, "the token on "+h.Name, func() error {
			if s := list(h); s != 200 {
				return fmt.Errorf("%d", s)
			}
			return nil
		})
	}
	t.Logf("measured: a token made on h1 worked on h2 and h3 after %v", time.Since(t0).Round(time.Millisecond))
	h3.mustTen(t, "token", "revoke", tok.ID)
	testbed.Eventually(t, 5*time.Second, "the revocation on h1", func() error {
		if s := list(h1); s != http.StatusUnauthorized {
			return fmt.Errorf("%d", s)
		}
		return nil
	})
}

// TestFleetDomains: a custom domain bound on one host reaches its
// instance through every host (the owner's, in one hop from the others);
// a move of the domain is seen everywhere; deleting the instance unbinds
// it fleet-wide.
func TestFleetDomains(t *testing.T) {
	c := fleetOf(t)
	h1, h2, h3 := c.hosts[0], c.hosts[1], c.hosts[2]
	h1.mustTen(t, "create", "--host", "h2", "notes:dom1", "notes:dom2")
	h1.mustTen(t, "domain", "add", "notes:dom1", "Shop.Dom1.Example")
	getHost := func(h *tenHost, host string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+h.addr()+"/", nil)
		req.Host = host
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, h := range c.hosts {
		testbed.Eventually(t, 10*time.Second, "shop.dom1.example through "+h.Name, func() error {
			if code, body := getHost(h, "shop.dom1.example"); code != 200 || !strings.HasPrefix(body, "hello from notes:dom1 ") {
				return fmt.Errorf("%d %q", code, body)
			}
			return nil
		})
	}
	if out, err := h3.ten("domain", "add", "notes:dom2", "shop.dom1.example"); err == nil || !strings.Contains(out, "bound to notes:dom1") {
		t.Errorf("binding it again on h3: %v %q, want a conflict naming notes:dom1", err, out)
	}
	h3.mustTen(t, "domain", "add", "--move", "notes:dom2", "shop.dom1.example")
	for _, h := range c.hosts {
		testbed.Eventually(t, 10*time.Second, "the moved domain through "+h.Name, func() error {
			if code, body := getHost(h, "shop.dom1.example"); code != 200 || !strings.HasPrefix(body, "hello from notes:dom2 ") {
				return fmt.Errorf("%d %q", code, body)
			}
			return nil
		})
	}
	if out := h1.mustTen(t, "domain", "list"); !strings.Contains(out, "shop.dom1.example") || !strings.Contains(out, "notes:dom2") {
		t.Errorf("h1's domain list: %q", out)
	}
	h1.mustTen(t, "delete", "notes:dom2")
	for _, h := range []*tenHost{h1, h2, h3} {
		testbed.Eventually(t, 10*time.Second, "the domain gone on "+h.Name, func() error {
			if code, _ := getHost(h, "shop.dom1.example"); code != http.StatusNotFound {
				return fmt.Errorf("%d", code)
			}
			return nil
		})
	}
}

// TestFleetMove: ten move of an instance with data, asked of a third
// host, keeps the data, and a client that retries on 503 sees no other
// failure meanwhile.
func TestFleetMove(t *testing.T) {
	c := fleetOf(t)
	h1, h2, h3 := c.hosts[0], c.hosts[1], c.hosts[2]
	h1.mustTen(t, "create", "--host", "h1", "notes:mover")
	secret := filepath.Join(h1.dir, "db-password")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	h1.mustTen(t, "credential", "set", "notes:mover", "DB_PASSWORD", "--from-file", secret)
	// Its weight in the service's pool and its keep-awake go with it.
	h1.mustTen(t, "weight", "notes:mover", "40")
	h1.mustTen(t, "keep-awake", "notes:mover", "--for", "2h")
	if status, _, body, err := h2.get("mover", "notes", "/write?name=rows&value=alice-rows"); err != nil || status != 200 {
		t.Fatalf("write through h2: %d %s %v", status, body, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var oks, unavailable int
	var others []string
	for _, h := range c.hosts { // a client through each host, retrying on 503
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, _, body, err := h.get("mover", "notes", "/read?name=rows")
				mu.Lock()
				switch {
				case err == nil && status == 200 && body == "alice-rows":
					oks++
				case err == nil && status == http.StatusServiceUnavailable:
					unavailable++
				default:
					others = append(others, fmt.Sprintf("via %s: %d %q %v", h.Name, status, body, err))
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	var moved apitype.MoveResponse
	if err := json.Unmarshal([]byte(h3.mustTen(t, "move", "notes:mover", "--to", "h2", "--json")), &moved); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("measured: move of %d bytes: unavailable %.2fs; the clients got %d answers, %d of them 503", moved.Bytes, moved.Seconds, oks+unavailable, unavailable)
	if moved.From != "h1" || moved.To != "h2" || moved.Bytes == 0 {
		t.Errorf("moved %+v", moved)
	}
	if len(others) > 0 {
		t.Errorf("a retrying client saw other failures than 503:\n%s", strings.Join(others, "\n"))
	}
	for _, h := range c.hosts {
		if status, _, body, _ := h.get("mover", "notes", "/read?name=rows"); status != 200 || body != "alice-rows" {
			t.Errorf("after the move, via %s: %d %q", h.Name, status, body)
		}
	}
	if i := h1.ps(t)["notes:mover"]; i.Host != "h2" {
		t.Errorf("h1 lists it on %q", i.Host)
	}
	testbed.Eventually(t, 10*time.Second, "h2 gives it the weight and keep-awake it had on h1", func() error {
		i := h2.ps(t)["notes:mover"]
		if i.Weight != 40 || time.Until(i.KeepAwakeUntil) < time.Hour {
			return fmt.Errorf("weight %d, awake until %v", i.Weight, i.KeepAwakeUntil)
		}
		return nil
	})
	if units := h1.units(t); slices.Contains(units, "tenement@notes-mover.service") {
		t.Error("the unit still runs on h1")
	}
	if out := h2.mustTen(t, "credential", "list", "notes:mover"); !strings.Contains(out, "DB_PASSWORD") {
		t.Errorf("the credential did not move: %s", out)
	}
	if out, err := h1.ten("credential", "list", "notes:mover"); err == nil && strings.Contains(out, "DB_PASSWORD") {
		t.Errorf("h1 kept the credential: %s", out)
	}
}

// TestFleetCommandsFromAnyHost: restart, health, stop, weight and
// keep-awake of an instance that lives on h2, asked of h1 (admin) and of
// h3 (the tenant's own token), reach it on h2; another tenant's token is
// refused on h3 before anything is asked of h2.
func TestFleetCommandsFromAnyHost(t *testing.T) {
	c := fleetOf(t)
	h1, h2, h3 := c.hosts[0], c.hosts[1], c.hosts[2]
	h1.mustTen(t, "create", "--host", "h2", "notes:cmd")
	h1.mustTen(t, "spawn", "notes:cmd")
	pid := h2.ps(t)["notes:cmd"].MainPID
	if pid == 0 {
		t.Fatalf("spawned through h1, not running on h2: %+v", h2.ps(t)["notes:cmd"])
	}
	h1.mustTen(t, "restart", "notes:cmd")
	if i := h2.ps(t)["notes:cmd"]; i.State != apitype.StateRunning || i.MainPID == pid || i.MainPID == 0 {
		t.Errorf("restarted through h1: %s, MainPID %d (was %d)", i.State, i.MainPID, pid)
	}
	testbed.Eventually(t, 10*time.Second, "health through h1", func() error {
		if out, err := h1.ten("health", "notes:cmd"); err != nil || !strings.Contains(out, "healthy") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	h1.mustTen(t, "weight", "notes:cmd", "30")
	h1.mustTen(t, "stop", "notes:cmd")
	if i := h2.ps(t)["notes:cmd"]; i.State != apitype.StateAsleep || i.Weight != 30 {
		t.Errorf("after weight and stop through h1: %s, weight %d", i.State, i.Weight)
	}

	token := func(tenant string) string {
		var tok apitype.NewToken
		if err := json.Unmarshal([]byte(h1.mustTen(t, "token", "create", "--json", "--tenant", tenant)), &tok); err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	// over h3's listener, where a token is who the caller is (on the local
	// socket, root is admin whatever the token)
	own, other := token("cmd"), token("someone-else")
	api := "http://" + h3.addr()
	testbed.Eventually(t, 10*time.Second, "the tenant keeps itself awake through h3", func() error {
		if out, err := h3.ten("--server", api, "--token", own, "keep-awake", "notes:cmd", "--for", "2h"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if until := h2.ps(t)["notes:cmd"].KeepAwakeUntil; time.Until(until) < time.Hour {
		t.Errorf("keep-awake through h3: until %v", until)
	}
	if out, err := h3.ten("--server", api, "--token", other, "keep-awake", "notes:cmd", "--for", "1m"); err == nil {
		t.Errorf("another tenant's token kept notes:cmd awake through h3: %s", out)
	}
}

// TestFleetDrain: ten drain moves every instance off a host, with its
// data, and nothing new is placed on it afterwards.
func TestFleetDrain(t *testing.T) {
	c := fleetOf(t)
	h1, h2 := c.hosts[0], c.hosts[1]
	var before []string
	for name, i := range h1.ps(t) {
		if i.Host == "h2" {
			before = append(before, name)
		}
	}
	if len(before) == 0 {
		t.Fatal("nothing on h2 to drain")
	}
	t0 := time.Now()
	var r apitype.DrainResponse
	if err := json.Unmarshal([]byte(h1.mustTen(t, "drain", "h2", "--json")), &r); err != nil {
		t.Fatal(err)
	}
	t.Logf("measured: drained %d instances off h2 in %v", len(r.Moved), time.Since(t0).Round(time.Millisecond))
	if len(r.Moved) != len(before) || len(r.Failed) != 0 {
		t.Fatalf("drain moved %d of %d: %+v", len(r.Moved), len(before), r)
	}
	for _, h := range c.hosts {
		testbed.Eventually(t, 10*time.Second, h.Name+" sees h2 empty", func() error {
			for name, i := range h.ps(t) {
				if i.Host == "h2" {
					return fmt.Errorf("%s still on h2", name)
				}
			}
			return nil
		})
	}
	if status, _, body, _ := h2.get("mover", "notes", "/read?name=rows"); status != 200 || body != "alice-rows" {
		t.Errorf("the moved instance's data after the drain: %d %q", status, body)
	}
	var created apitype.CreateResponse
	if err := json.Unmarshal([]byte(h1.mustTen(t, "create", "--json", "notes:d1", "notes:d2", "notes:d3")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Hosts["h2"] != 0 {
		t.Errorf("created %+v: some on the drained host", created)
	}
}

// TestFleetEtcdDown: with etcd stopped every host keeps serving its own
// instances (and forwarding: the last view stays); a create, a move and a
// token fail with one clear line; once etcd is back, creates work again.
func TestFleetEtcdDown(t *testing.T) {
	c := fleetOf(t)
	h1 := c.hosts[0]
	if err := c.f.Etcd.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			c.f.Etcd.Start(t.Context())
		}
	}()
	owners := map[string]string{}
	for name, i := range h1.ps(t) {
		if strings.HasPrefix(name, "notes:t") {
			owners[strings.TrimPrefix(name, "notes:")] = i.Host
		}
	}
	for _, h := range c.hosts {
		for id, owner := range owners {
			if owner != h.Name {
				continue
			}
			if status, _, body, err := h.get(id, "notes", "/"); err != nil || status != 200 || !strings.HasPrefix(body, "hello from notes:"+id) {
				t.Errorf("%s's own %s with etcd down: %d %q %v", h.Name, id, status, body, err)
			}
		}
	}
	if status, _, _, err := h1.get("t00", "notes", "/"); err != nil || status != 200 {
		t.Errorf("any instance through h1 with etcd down: %d %v", status, err)
	}
	to := "h1"
	if h1.ps(t)["notes:mover"].Host == "h1" {
		to = "h3"
	}
	t0 := time.Now()
	for _, args := range [][]string{{"create", "notes:while-down"}, {"token", "create"}, {"move", "notes:mover", "--to", to}} {
		out, err := h1.ten(args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(out, "etcd unreachable") {
			t.Errorf("ten %s with etcd down: %v\n%s\nwant one line saying etcd is unreachable", strings.Join(args, " "), err, out)
		}
	}
	t.Logf("measured: three changes refused with etcd down in %v", time.Since(t0).Round(time.Millisecond))
	if err := c.f.Etcd.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	t0 = time.Now()
	testbed.Eventually(t, 30*time.Second, "a create after etcd's restart", func() error {
		out, err := h1.ten("create", "notes:after-etcd")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	t.Logf("measured: creates worked again %v after etcd restarted", time.Since(t0).Round(time.Millisecond))
	for _, h := range c.hosts {
		testbed.Eventually(t, 10*time.Second, h.Name+" lists it", func() error {
			if _, ok := h.ps(t)["notes:after-etcd"]; !ok {
				return fmt.Errorf("not listed")
			}
			return nil
		})
	}
}

// TestFleetHostDown: a host dies (its daemon killed with SIGKILL, so its
// lease is not revoked, then its manager stopped): its instances answer
// 503 with Retry-After through the other hosts at once (the connection is
// refused), and without a forwarding attempt once its lease has expired,
// within the lease's TTL; the other hosts' keep answering, and new
// instances avoid it.
func TestFleetHostDown(t *testing.T) {
	c := fleetOf(t)
	h1, h3 := c.hosts[0], c.hosts[2]
	owners := map[string]string{}
	for name, i := range h1.ps(t) {
		if strings.HasPrefix(name, "notes:t") {
			owners[strings.TrimPrefix(name, "notes:")] = i.Host
		}
	}
	var onH3 string
	for id, o := range owners {
		if o == "h3" {
			onH3 = id
		}
	}
	if onH3 == "" {
		t.Fatalf("owners %v", owners)
	}
	t0 := time.Now()
	if out, err := h3.Command(t.Context(), "systemctl", "kill", "--signal=SIGKILL", daemonUnit).CombinedOutput(); err != nil {
		t.Fatalf("kill h3's daemon: %v %s", err, out)
	}
	if err := h3.Stop(); err != nil {
		t.Fatal(err)
	}
	var first, expired time.Duration
	testbed.Eventually(t, leaseTTL+5*time.Second, "503 for h3's instance", func() error {
		status, hdr, _, err := h1.get(onH3, "notes", "/")
		if err == nil && status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "" {
			first = time.Since(t0)
			return nil
		}
		return fmt.Errorf("%d %v", status, err)
	})
	testbed.Eventually(t, leaseTTL+5*time.Second, "h3's lease expires", func() error {
		if i := h1.ps(t)["notes:"+onH3]; !i.HostDown {
			return fmt.Errorf("h3 not down yet")
		}
		expired = time.Since(t0)
		return nil
	})
	t.Logf("measured: h3 killed; its instances answered 503 with Retry-After through h1 after %v; its lease expired after %v (TTL %v)",
		first.Round(time.Millisecond), expired.Round(time.Millisecond), leaseTTL)
	if expired > leaseTTL+2*time.Second {
		t.Errorf("h3 was seen down after %v, more than the lease TTL", expired)
	}
	if status, hdr, _, err := h1.get(onH3, "notes", "/"); err != nil || status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("h3's instance after its lease expired: %d %v", status, err)
	}
	for id, o := range owners {
		if o == "h3" {
			continue
		}
		if status, _, _, err := h1.get(id, "notes", "/"); err != nil || status != 200 {
			t.Errorf("%s on %s with h3 down: %d %v", id, o, status, err)
		}
	}
	var created apitype.CreateResponse
	args := []string{"create", "--json"}
	for i := range 6 {
		args = append(args, fmt.Sprintf("notes:late%d", i))
	}
	if err := json.Unmarshal([]byte(h1.mustTen(t, args...)), &created); err != nil {
		t.Fatal(err)
	}
	if created.Created != 6 || created.Hosts["h3"] != 0 {
		t.Errorf("created %+v with h3 down, want none on h3", created)
	}
	if out, err := h1.ten("delete", "notes:"+onH3); err == nil || !strings.Contains(out, "which is down") {
		t.Errorf("delete of a dead host's instance: %v %s", err, out)
	}
}
