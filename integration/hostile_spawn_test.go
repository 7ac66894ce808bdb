package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// A flood of made-up ids from one client, with spawn_on_request: the
// client's creations per minute and the service's max_instances bound what
// it creates, an admin can still spawn, and an instance that a request
// created and that never answered a 2xx is forgotten when it sleeps.
func TestSpawnOnRequestFlood(t *testing.T) {
	d := startDaemon(t, `spawn_per_client_per_minute = 8`, `
[service.open]
command = "{app}"
isolation = "process"
spawn_on_request = true
max_instances = 5
idle_timeout = "1s"
[service.open.env]
HEALTH = "fail"
`)
	const flood = 2000
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range ids {
				code, _, err := d.request(fmt.Sprintf("u%d.open.%s", i, d.domain), "/")
				if err != nil {
					code = -1
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	t0 := time.Now()
	for i := range flood {
		ids <- i
	}
	close(ids)
	wg.Wait()
	t.Logf("measured: %d unknown ids from one client in %v: answers %v", flood, time.Since(t0).Round(time.Millisecond), codes)
	if codes[200] > 5 || codes[429] < flood-8 {
		t.Errorf("answers %v: want at most 5 creations (max_instances) and the rest 429", codes)
	}
	ps := d.ps()
	if len(ps) > 5 {
		t.Errorf("%d instances known after the flood, want at most max_instances 5", len(ps))
	}

	// The operator is not locked out: an admin spawn past max_instances
	// works.
	d.ten("spawn", "open:admin")

	for name, i := range d.ps() {
		if strings.HasPrefix(name, "open:u") && i.Weight != 0 {
			t.Errorf("%s has weight %d, want 0", name, i.Weight)
		}
	}
}

// An instance that a request created and that never answered a 2xx is
// forgotten, with its data dir, once it goes to sleep; one that did stays.
func TestUnservedInstanceIsForgotten(t *testing.T) {
	d := startDaemon(t, "", `
[service.open]
command = "{app}"
isolation = "process"
spawn_on_request = true
idle_timeout = "1s"
[service.open.env]
HEALTH = "fail"
`)
	if code, _, err := d.request("quiet.open."+d.domain, "/health"); code != 500 {
		t.Fatalf("quiet's /health: %d %v, want 500 (HEALTH=fail)", code, err)
	}
	if code, _, err := d.request("real.open."+d.domain, "/"); code != 200 {
		t.Fatalf("real's /: %d %v", code, err)
	}
	testbed.Eventually(t, 20*time.Second, "quiet forgotten after it slept", func() error {
		if _, ok := d.ps()["open:quiet"]; ok {
			return fmt.Errorf("open:quiet is still known")
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(d.dataDir, "open", "quiet")); !os.IsNotExist(err) {
		t.Errorf("quiet's data dir is still there: %v", err)
	}
	testbed.Eventually(t, 20*time.Second, "real asleep", func() error {
		i, ok := d.ps()["open:real"]
		if !ok {
			return fmt.Errorf("open:real was forgotten though it answered 200")
		}
		if i.State != apitype.StateAsleep {
			return fmt.Errorf("open:real is %s", i.State)
		}
		return nil
	})
}
