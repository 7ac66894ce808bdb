package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// burstResult is R rounds of C concurrent requests to an asleep instance.
type burstResult struct {
	all    sample // per round: until the last of the C answered
	each   sample // every request of every round
	starts []int  // unit starts per round (from the journal)
	pids   []int  // distinct app pids that answered, per round
	errors int
}

// burst puts n to sleep with sleep, then sends conc requests at once, each
// on its own connection (all connected before the clock starts).
func burst(ctx context.Context, d *daemon, n names.Instance, sleep func(context.Context) error, conc, rounds int) (*burstResult, error) {
	r := &burstResult{}
	for range rounds {
		if err := sleep(ctx); err != nil {
			return nil, err
		}
		if err := d.awaitState(ctx, n, apitype.StateAsleep); err != nil {
			return nil, err
		}
		time.Sleep(settle)
		before := journalStarts(n.Unit())
		conns := make([]*conn, conc)
		for i := range conns {
			conns[i] = newConn(d.listen, host(n), "/")
			conns[i].keep = true
			if err := conns[i].dial(); err != nil {
				return nil, err
			}
		}
		lat := make(sample, conc)
		bodies := make([]string, conc)
		fails := make([]error, conc)
		var wg sync.WaitGroup
		var t0 time.Time // written before the gate opens, read after
		gate := make(chan struct{})
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.close()
				<-gate
				code, err := c.get()
				lat[i] = time.Since(t0)
				if err == nil && code != 200 {
					err = fmt.Errorf("status %d", code)
				}
				fails[i], bodies[i] = err, string(c.body)
			}()
		}
		time.Sleep(5 * time.Millisecond) // every worker waits at the gate
		t0 = time.Now()
		close(gate)
		wg.Wait()
		pids := map[string]bool{}
		for i := range conns {
			if fails[i] != nil || !strings.HasPrefix(bodies[i], "hello from "+n.String()) {
				r.errors++
				continue
			}
			_, pid, _ := strings.Cut(strings.TrimSpace(bodies[i]), "pid=")
			pids[pid] = true
		}
		r.all = append(r.all, lat.q(1))
		r.each = append(r.each, lat...)
		r.pids = append(r.pids, len(pids))
		if err := d.awaitState(ctx, n, apitype.StateRunning); err != nil {
			return nil, err
		}
		r.starts = append(r.starts, countNewStarts(n.Unit(), before))
	}
	return r, nil
}

// journalStarts counts the app's start lines in the unit's journal.
func journalStarts(unit string) int {
	out, _ := exec.Command("journalctl", "--no-pager", "-o", "cat", "-u", unit).Output()
	return strings.Count(string(out), "testapp starting")
}

// countNewStarts waits until the journal has the new start, then a little
// longer to see a second one if there was one.
func countNewStarts(unit string, before int) int {
	deadline := time.Now().Add(3 * time.Second)
	for journalStarts(unit) == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return journalStarts(unit) - before
}
