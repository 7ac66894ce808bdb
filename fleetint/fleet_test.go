//go:build linux

package fleetint

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
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
		eventually(t, 10*time.Second, h.Name+" lists the 30", func() error {
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
