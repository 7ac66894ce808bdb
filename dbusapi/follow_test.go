package dbusapi

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/names"
)

// follower keeps a table of units from a Watch stream, the way Watch's
// comment tells a reader to, and records every event it applies.
type follower struct {
	t       *testing.T
	c       *Conn
	ch      <-chan Event
	pattern string
	since   Seq
	units   map[string]Unit
	hist    map[string][]Event
	resyncs int // after the first
	events  int
}

// snapshotFields is what the followers ask Snapshot for.
const snapshotFields = UnitFields | ServiceFields

func follow(t *testing.T, c *Conn, prefix string, buffer int) *follower {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := c.Watch(ctx, WatchOptions{Prefix: prefix, Buffer: buffer})
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{t: t, c: c, ch: ch, pattern: prefix + "*", hist: map[string][]Event{}}
	select {
	case ev := <-ch:
		if ev.Kind != EventResync {
			t.Fatalf("first event %s, want resync", render(ev))
		}
		f.apply(ev)
		f.resyncs = 0
	case <-time.After(5 * time.Second):
		t.Fatal("no first resync")
	}
	return f
}

func (f *follower) apply(ev Event) {
	f.t.Helper()
	f.events++
	if ev.Kind == EventResync {
		f.resyncs++
		// A Snapshot fails when the connection goes away under it: the
		// one of the next connection covers everything.
		var s Snapshot
		var err error
		for range 100 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s, err = f.c.Snapshot(ctx, snapshotFields, f.pattern)
			cancel()
			if err == nil {
				break
			}
			f.t.Logf("resync: %v; again", err)
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			f.t.Fatal(err)
		}
		f.since, f.units = s.Seq, map[string]Unit{}
		for _, u := range s.Units {
			f.units[u.Name] = u
		}
		return
	}
	if ev.Unit.Seq.Before(f.since) {
		return
	}
	name := ev.Unit.Name
	f.hist[name] = append(f.hist[name], ev)
	switch ev.Kind {
	case EventNew:
		if _, ok := f.units[name]; !ok {
			f.units[name] = Unit{Name: name, Seq: ev.Unit.Seq}
		}
	case EventChanged:
		f.units[name] = f.units[name].Merge(ev.Unit)
	case EventRemoved:
		delete(f.units, name)
	}
}

// drain applies the events queued now, without waiting.
func (f *follower) drain() {
	f.t.Helper()
	for {
		select {
		case ev := <-f.ch:
			f.apply(ev)
		default:
			return
		}
	}
}

// until applies events until cond holds.
func (f *follower) until(what string, timeout time.Duration, cond func() bool) {
	f.t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case ev := <-f.ch:
			f.apply(ev)
		case <-deadline:
			f.t.Fatalf("%s: not within %v; %s", what, timeout, f.describe())
		}
	}
}

func (f *follower) describe() string {
	var b strings.Builder
	for name, evs := range f.hist {
		fmt.Fprintf(&b, "\n%s: %+v", name, f.units[name])
		for _, ev := range evs {
			b.WriteString("\n\t" + render(ev))
		}
	}
	return b.String()
}

func (f *follower) state(name string) string {
	u, ok := f.units[name]
	if !ok {
		return "gone"
	}
	return string(u.ActiveState) + "/" + string(u.SubState)
}

// step is one expected event of a unit's history.
type step struct {
	what string
	ok   func(ev Event, u Unit) bool // u: the unit's state once ev is merged
}

// inOrder checks that hist holds the steps as a subsequence.
func inOrder(t *testing.T, name string, hist []Event, steps []step) {
	t.Helper()
	var u Unit
	i := 0
	var seen []string
	for _, ev := range hist {
		u = u.Merge(ev.Unit)
		seen = append(seen, render(ev))
		if i < len(steps) && steps[i].ok(ev, u) {
			i++
		}
	}
	if i < len(steps) {
		t.Errorf("%s: no %q (step %d) in:\n\t%s", name, steps[i].what, i+1, strings.Join(seen, "\n\t"))
	}
}

func changed(active ActiveState, sub SubState, more func(u Unit) bool) func(Event, Unit) bool {
	return func(ev Event, u Unit) bool {
		return ev.Kind == EventChanged && u.ActiveState == active && u.SubState == sub && (more == nil || more(u))
	}
}

// perUnitReads are the calls that read one unit: none may happen while
// the events flow.
var perUnitReads = []string{"Get", "GetAll", "GetUnit", "LoadUnit", "GetUnitProcesses", "ListUnits", "ListUnitsByPatterns", "ListUnitsByNames"}

func callsSince(before map[string]uint64, c *Conn) map[string]uint64 {
	d := map[string]uint64{}
	for k, v := range c.Calls() {
		if v > before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

func countRunning(us map[string]Unit) int {
	k := 0
	for _, u := range us {
		if u.ActiveState == Active && u.SubState == SubRunning && u.MainPID != 0 {
			k++
		}
	}
	return k
}

// startMany starts n sleep units of service svc, 16 at a time.
func startMany(t testing.TB, c *Conn, svc string, n int) []string {
	t.Helper()
	ctx := context.Background()
	all := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := range n {
		in, _ := names.New(svc, fmt.Sprintf("u%d", i))
		all[i] = in.Unit()
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.StartTransient(ctx, in.Unit(), sleepUnit(in)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() { stopMany(t, c, all) })
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return all
}

func stopMany(t testing.TB, c *Conn, all []string) {
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, u := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.Stop(ctx, u); err != nil {
				t.Errorf("stop %s: %v", u, err)
			}
		}()
	}
	wg.Wait()
}
