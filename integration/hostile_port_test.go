package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Port takeover (docs/isolation.md, "Ports"): mallory binds alice's port
// in a loop while alice wakes and while she restarts after a crash. With
// the port guard every bind fails, and every request for alice reaches
// alice. Without it mallory takes the port in the gap between the
// daemon's check and alice's own bind (or while systemd restarts her),
// passes the readiness check and answers alice's traffic.
//
// A request sent right after the crash can meet a keep-alive connection
// of the proxy to the dead app: such a request fails with 502 (the proxy
// never sends a request twice once it was written to an app; see
// proxy/proxy.go). Those are counted apart and reported; mallory's report
// shows she never held the port, so none of them is hers.
func TestHostilePortTakeover(t *testing.T) {
	eachLevel(t, `health_check_interval = "30s"`, func(t *testing.T, d *daemon, svc string) {
		alice, mallory := svc+":alice", svc+":mallory"
		d.ten("spawn", alice)
		d.ten("spawn", mallory)
		port := d.info(alice).Port
		loop := 10 * time.Second
		if svc == "box" {
			loop = 15 * time.Second // gVisor wakes slower
		}
		d.ten("stop", alice)

		attack := make(chan attackResult, 1)
		go func() {
			attack <- d.attackAsync(svc, "mallory", "bind-loop", url.Values{"victim_port": {strconv.Itoa(port)}, "for": {loop.String()}})
		}()
		time.Sleep(200 * time.Millisecond) // the loop has begun

		const cycles, batch = 4, 125
		var woken, restarted answers
		host := d.instanceHost(svc, "alice")
		t0 := time.Now()
		for c := range cycles {
			if c > 0 {
				d.ten("stop", alice)
			}
			woken.add(d.burst(host, batch)) // wakes alice
			if p := d.info(alice).Port; p != port {
				t.Errorf("alice moved from port %d to %d: something held her port", port, p)
				port = p
			}
			crash(port)
			restarted.add(d.burst(host, batch)) // while systemd restarts her
		}
		took := time.Since(t0)
		r := <-attack
		t.Logf("measured: %s: %d requests to alice in %v: %d woke her 4 times: %v; %d sent right after 4 crashes: %v",
			svc, cycles*2*batch, took.Round(time.Millisecond), woken.total(), &woken, restarted.total(), &restarted)
		if took > loop {
			t.Errorf("the traffic took %v, longer than the attack (%v)", took, loop)
		}
		if r.err != nil {
			t.Fatalf("bind-loop: %v", r.err)
		}
		mustBlock(t, svc, []attackReport{r.report})
		if !strings.Contains(r.report.Detail, "operation not permitted") {
			t.Errorf("the binds did not fail with EPERM (the guard): %s", r.report.Detail)
		}
		if woken.byWho["alice"] != cycles*batch {
			t.Errorf("of %d requests that woke alice, %d reached her: %v", cycles*batch, woken.byWho["alice"], &woken)
		}
		if n := restarted.byWho["alice"] + restarted.byWho["status 502"]; n != cycles*batch || restarted.byWho["mallory"] > 0 {
			t.Errorf("of %d requests sent while alice restarted, %d reached her (and %d got 502 from her dead app): %v",
				cycles*batch, restarted.byWho["alice"], restarted.byWho["status 502"], &restarted)
		}
	})
}

// TestHostileBindOtherPorts: mallory can bind no port of the tenant range
// but her own, and an ephemeral port still works.
func TestHostileBindOtherPorts(t *testing.T) {
	eachLevel(t, `port_range = "21000-21999"`, func(t *testing.T, d *daemon, svc string) {
		d.ten("spawn", svc+":alice")
		d.ten("spawn", svc+":mallory")
		reports := d.attack(d.instanceHost(svc, "mallory"), "bind-other", url.Values{"port_range": {"21000-21999"}})
		mustBlock(t, svc, reports)
	})
}

// attackResult is an attack run in the background.
type attackResult struct {
	report attackReport
	err    error
}

// attackAsync runs one attack of instance svc:id through the proxy; unlike
// attack, it may run in another goroutine.
func (d *daemon) attackAsync(svc, id, name string, params url.Values) attackResult {
	code, body, err := d.request(d.instanceHost(svc, id), "/attack/"+name+"?"+params.Encode())
	if err != nil || code != 200 {
		return attackResult{err: fmt.Errorf("%d %v %s", code, err, body)}
	}
	var r attackResult
	r.err = json.Unmarshal([]byte(body), &r.report)
	return r
}

// answers counts who answered requests: the instance id named in the test
// app's "hello from svc:id" or, for failures, the status or error.
type answers struct {
	mu    sync.Mutex
	byWho map[string]int
}

func (a *answers) add(b *answers) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byWho == nil {
		a.byWho = map[string]int{}
	}
	for k, v := range b.byWho {
		a.byWho[k] += v
	}
}

func (a *answers) count(who string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byWho == nil {
		a.byWho = map[string]int{}
	}
	a.byWho[who]++
}

func (a *answers) total() int {
	n := 0
	for _, v := range a.byWho {
		n += v
	}
	return n
}

func (a *answers) String() string {
	return fmt.Sprint(a.byWho)
}

// burst sends n GET / to host through the proxy, 25 at a time, and counts
// who answered.
func (d *daemon) burst(host string, n int) *answers {
	var a answers
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range 25 {
		wg.Go(func() {
			for range jobs {
				code, body, err := d.request(host, "/")
				switch {
				case err != nil:
					a.count("error: " + err.Error())
				case code != 200:
					a.count("status " + strconv.Itoa(code))
				default:
					_, who, _ := strings.Cut(strings.Fields(body + " x x x")[2], ":")
					a.count(who)
				}
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return &a
}
