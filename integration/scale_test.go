package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
)

// The scale test's tenants: registered asleep in one `ten create`, every
// tenth one woken by a request. Sizes are the (13): enough that a
// read path asking systemd per instance shows, small enough for a minute
// on two cores with the daemon built with -race.
const (
	scaleRegistered = 2000
	scaleAwake      = 200
	scaleWakers     = 16 // requests in flight while waking
	// reflectBound is how soon a crash, a stop and a wake must show in
	// `ten ps`: a bound on event handling (the signal is applied when it
	// arrives), not a performance figure; those are in bench/.
	reflectBound = time.Second
)

const scaleServices = `
[service.s]
command = "{app}"
isolation = "process"
health = "/health"
`

// perInstanceReads are the D-Bus methods that read one unit. None may be
// called while the daemon follows a crash, a stop and a wake: its state
// comes from systemd's signals. (go-systemd's GetUnitProperties is a
// GetAll on the wire, a single property a Get.)
var perInstanceReads = []string{"Get", "GetAll", "GetUnit", "GetUnitByPID", "LoadUnit", "GetUnitProcesses", "ListUnitsByNames"}

func TestScaleRegisteredAndAwake(t *testing.T) {
	d := startDaemon(t, `port_range = "24000-24999"`, scaleServices)
	var all, awake []string
	for i := range scaleRegistered {
		id := fmt.Sprintf("s:t%04d", i)
		all = append(all, id)
		if i%(scaleRegistered/scaleAwake) == 0 {
			awake = append(awake, id)
		}
	}
	file := filepath.Join(t.TempDir(), "tenants")
	if err := os.WriteFile(file, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	d.ten("create", "--from-file", file)
	t.Logf("measured: ten create --from-file of %d instances: %v", scaleRegistered, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	d.wakeAll(awake)
	t.Logf("measured: %d wakes by a request each, %d at a time: %v", len(awake), scaleWakers, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	before := d.ps()
	t.Logf("measured: ten ps --json at %d registered / %d awake: %v", scaleRegistered, scaleAwake, time.Since(t0).Round(time.Millisecond))
	checkScaleList(t, before, all, awake)
	pids := unitPIDs(t, awake)
	for _, name := range awake {
		if got, want := before[name].MainPID, pids[name]; int(got) != want || want == 0 {
			t.Errorf("%s: ten ps says MainPID %d, systemctl show %d", name, got, want)
		}
	}

	// kill -9 and a new daemon: it adopts every running unit as it is.
	d.kill9()
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("%s (pid %d) died with the daemon: %v", name, pid, err)
		}
	}
	t0 = time.Now()
	d.start() // returns once `ten ps` answers: serving begins after adoption
	after := d.ps()
	t.Logf("measured: re-adoption after kill -9 at %d registered / %d awake: %v from the new daemon's start until ten ps listed them",
		scaleRegistered, scaleAwake, time.Since(t0).Round(time.Millisecond))
	checkScaleList(t, after, all, awake)
	now := unitPIDs(t, awake)
	for _, name := range awake {
		b, a := before[name], after[name]
		if a.MainPID != b.MainPID || int(a.MainPID) != now[name] || a.Port != b.Port {
			t.Errorf("%s: before kill -9 pid %d port %d; after: ten ps pid %d port %d, systemctl pid %d",
				name, b.MainPID, b.Port, a.MainPID, a.Port, now[name])
		}
	}
	// An adopted instance serves through the proxy, from the same process.
	host := strings.Replace(awake[3], "s:", "", 1) + ".s." + d.domain
	if code, body, err := d.request(host, "/"); err != nil || code != 200 || !strings.Contains(body, fmt.Sprintf("pid=%d", pids[awake[3]])) {
		t.Errorf("request to adopted %s: %d %q %v; want 200 from pid %d", awake[3], code, body, err, pids[awake[3]])
	}
	if t.Failed() {
		t.FailNow()
	}

	d.followWithoutReads(t, after, awake[1], awake[2], all[1])
}

// followWithoutReads crashes one running instance, stops another and wakes
// an asleep one, and checks that each shows in the daemon's list (and so
// in `ten ps`) within reflectBound, while the daemon makes no per-instance
// read of systemd (its tenement_systemd_calls_total before and after).
func (d *daemon) followWithoutReads(t *testing.T, list map[string]apitype.Instance, crashed, stopped, woken string) {
	t.Helper()
	calls := d.systemdCalls()
	t.Logf("D-Bus calls of the new daemon until now (its adoption): %v", calls)

	c := list[crashed]
	t0 := time.Now()
	crash(c.Port)
	d.reflected(t0, crashed, "crash restarted by systemd", func(i apitype.Instance) bool {
		return i.State == apitype.StateRunning && i.MainPID != 0 && i.MainPID != c.MainPID && i.Restarts == c.Restarts+1
	})

	t0 = time.Now()
	d.ten("stop", stopped)
	d.reflected(t0, stopped, "stop", func(i apitype.Instance) bool {
		return i.State == apitype.StateAsleep && i.Port == 0 && i.MainPID == 0
	})

	t0 = time.Now()
	host := strings.Replace(woken, "s:", "", 1) + ".s." + d.domain
	if code, body, err := d.request(host, "/"); err != nil || code != 200 || !strings.HasPrefix(body, "hello from "+woken) {
		t.Fatalf("wake %s: %d %q %v", woken, code, body, err)
	}
	d.reflected(t0, woken, "wake by a request", func(i apitype.Instance) bool {
		return i.State == apitype.StateRunning && i.Port != 0 && i.MainPID != 0
	})

	grown := map[string]uint64{}
	for m, n := range d.systemdCalls() {
		if n > calls[m] {
			grown[m] = n - calls[m]
		}
	}
	t.Logf("D-Bus calls while following a crash, a stop and a wake: %v", grown)
	for _, m := range perInstanceReads {
		if grown[m] != 0 {
			t.Errorf("%d %s calls: a per-instance read of systemd", grown[m], m)
		}
	}
	// The counter sees the calls that did happen, so a zero above means
	// something.
	if grown["StartTransientUnit"] == 0 || grown["StopUnit"] == 0 {
		t.Errorf("the wake's StartTransientUnit and the stop's StopUnit were not counted: %v", grown)
	}
}

// reflected waits until ok holds for name's entry in the list `ten ps`
// prints, and checks that it did within reflectBound of t0. It polls the
// same API call `ten ps` makes (GET /api/instances, every instance) from
// this process: the CLI, built with -race, takes half a second at 2 000
// instances, too coarse to time a bound of 1 s. Then `ten ps` itself must
// show it.
func (d *daemon) reflected(t0 time.Time, name, what string, ok func(apitype.Instance) bool) {
	d.t.Helper()
	c, err := client.New("unix:"+d.sock, "")
	if err != nil {
		d.t.Fatal(err)
	}
	var last apitype.Instance
	for time.Since(t0) < 5*reflectBound {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		list, err := c.Instances(ctx)
		cancel()
		if err != nil {
			d.t.Fatalf("GET /api/instances: %v", err)
		}
		for _, i := range list {
			if i.Name == name {
				last = i
			}
		}
		if !ok(last) {
			continue
		}
		if took := began.Sub(t0); took > reflectBound {
			d.t.Errorf("%s of %s: first listed by a GET /api/instances begun %v after it, want within %v", what, name, took, reflectBound)
		} else {
			d.t.Logf("measured: %s of %s listed by a GET /api/instances begun %v after it", what, name, took.Round(time.Millisecond))
		}
		if i := d.ps()[name]; !ok(i) {
			d.t.Errorf("%s of %s: the API lists it, ten ps then shows %+v", what, name, i)
		}
		return
	}
	d.t.Errorf("%s of %s: not listed after %v: %+v", what, name, 5*reflectBound, last)
}

// wakeAll wakes each instance with one request through the proxy,
// scaleWakers at a time.
func (d *daemon) wakeAll(ns []string) {
	d.t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	work := make(chan string)
	for range scaleWakers {
		wg.Go(func() {
			for name := range work {
				host := strings.Replace(name, "s:", "", 1) + ".s." + d.domain
				code, body, err := d.request(host, "/")
				if err != nil || code != 200 || !strings.HasPrefix(body, "hello from "+name) {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %d %q %v", name, code, body, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, n := range ns {
		work <- n
	}
	close(work)
	wg.Wait()
	if len(failed) > 0 {
		d.t.Fatalf("%d of %d wakes failed: %s", len(failed), len(ns), strings.Join(failed[:min(5, len(failed))], "; "))
	}
}

// checkScaleList checks that ten ps lists every instance, the awake ones
// running with a port of their own and a MainPID, the others asleep with
// neither.
func checkScaleList(t *testing.T, list map[string]apitype.Instance, all, awake []string) {
	t.Helper()
	if len(list) != len(all) {
		t.Errorf("ten ps lists %d instances, want %d", len(list), len(all))
	}
	ports := map[int]string{}
	bad := 0
	for _, name := range all {
		i, ok := list[name]
		wantAwake := slices.Contains(awake, name)
		switch {
		case !ok:
			t.Errorf("%s not in ten ps", name)
		case wantAwake && (i.State != apitype.StateRunning || i.Port < 24000 || i.Port > 24999 || i.MainPID == 0):
			t.Errorf("%s: %s port %d pid %d, want running with a port of 24000-24999 and a MainPID", name, i.State, i.Port, i.MainPID)
		case !wantAwake && (i.State != apitype.StateAsleep || i.Port != 0 || i.MainPID != 0):
			t.Errorf("%s: %s port %d pid %d, want asleep with no port", name, i.State, i.Port, i.MainPID)
		case wantAwake && ports[i.Port] != "":
			t.Errorf("%s and %s both hold port %d", ports[i.Port], name, i.Port)
		case wantAwake:
			ports[i.Port] = name
			continue
		default:
			continue
		}
		if bad++; bad == 10 {
			t.Fatalf("more wrong entries follow")
		}
	}
}

// unitPIDs returns the MainPID systemd reports for each instance's unit,
// from one `systemctl show`.
func unitPIDs(t *testing.T, ns []string) map[string]int {
	t.Helper()
	args := []string{"show", "-p", "Id", "-p", "MainPID"}
	byUnit := map[string]string{}
	for _, name := range ns {
		unit := "tenement@" + strings.Replace(name, ":", "-", 1) + ".service"
		byUnit[unit] = name
		args = append(args, unit)
	}
	out := systemctl(t, args...)
	pids := map[string]int{}
	for block := range strings.SplitSeq(out, "\n\n") {
		props := map[string]string{}
		for line := range strings.SplitSeq(strings.TrimSpace(block), "\n") {
			k, v, _ := strings.Cut(line, "=")
			props[k] = v
		}
		if name, ok := byUnit[props["Id"]]; ok {
			pids[name], _ = strconv.Atoi(props["MainPID"])
		}
	}
	if len(pids) != len(ns) {
		t.Fatalf("systemctl show gave the MainPID of %d units of %d:\n%s", len(pids), len(ns), out)
	}
	return pids
}

// systemdCalls returns the daemon's tenement_systemd_calls_total by
// method, from /metrics on the local socket.
func (d *daemon) systemdCalls() map[string]uint64 {
	d.t.Helper()
	mf := d.scrapeSocket()["tenement_systemd_calls_total"]
	if mf == nil {
		d.t.Fatal("no tenement_systemd_calls_total in /metrics")
	}
	out := map[string]uint64{}
	for _, m := range mf.Metric {
		for _, lp := range m.Label {
			if lp.GetName() == "method" {
				out[lp.GetValue()] = uint64(m.GetCounter().GetValue())
			}
		}
	}
	return out
}
