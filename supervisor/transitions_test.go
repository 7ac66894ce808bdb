package supervisor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// TestTransitions follows an instance through the states of its life as
// systemd 252 moves its units: each step sends systemd's events (the
// sequences of dbusapi/signals.go) or asks the supervisor something, and
// the instance must then be (or come to be) in a state, with a reason
// and a restart count.
func TestTransitions(t *testing.T) {
	type step struct {
		do       string      // what happens, for messages
		events   []unitState // systemd's, on the service unit
		act      func(t *testing.T, s *Supervisor, n names.Instance)
		want     State
		reason   string // the start of the reason
		restarts int    // the restarts counted
		wakes    string // the wakes so far (Observer.Woke), when set
	}
	const web = `[service.web]
command = "/bin/true"
isolation = "process"
ready = "tcp"
`
	for _, tc := range []struct {
		name     string
		services string
		delay    time.Duration // of the fake's starts
		asleep   bool          // start from a created instance, not a spawned one
		steps    []step
	}{
		{name: "a crash systemd restarts: running, starting, running", services: web, steps: []step{
			{do: "the app exits with an error", events: crashed, want: StateStarting},
			{do: "RestartSec passes", events: restartSec, want: StateStarting, restarts: 1},
			{do: "the restart job runs", events: restarted, want: StateRunning, restarts: 1},
			{do: "a second crash and restart", events: slices.Concat(crashed, restartSec, restarted), want: StateRunning, restarts: 2,
				wakes: "web:alice spawn"}, // a restart is no wake
		}},
		{name: "systemd gives up at the start limit: failed", services: web, steps: []step{
			{do: "the app exits with an error", events: crashed, want: StateStarting},
			{do: "RestartSec passes", events: restartSec, want: StateStarting, restarts: 1},
			{do: "the start limit refuses the restart", events: refused, want: StateFailed, restarts: 1,
				reason: "tenement@web-alice.service failed (result exit-code"},
			{do: "a user restarts it", act: restart, want: StateRunning, restarts: 2},
		}},
		{name: "without Restart= a failure is final at once", services: web + "restart = \"never\"\n", steps: []step{
			{do: "the app exits with an error", events: crashed[:1], want: StateFailed,
				reason: "unit failed (result exit-code, status 0) after 0 restarts by systemd"},
		}},
		{name: "an exit with success puts it to sleep", services: web, steps: []step{
			{do: "the app exits 0", events: []unitState{{active: dbusapi.Inactive, sub: dbusapi.SubDead, result: "success"}}, want: StateAsleep},
		}},
		{name: "asleep behind its socket, a connection wakes it", services: web + "activation = \"socket\"\n", steps: []step{
			{do: "it goes idle; the socket keeps listening", act: idleStop, want: StateAsleep},
			{do: "a connection starts the service", events: started, want: StateRunning, wakes: "web:alice spawn, web:alice request"},
			{do: "it goes idle again", act: idleStop, want: StateAsleep},
		}},
		{name: "a stop that arrives during a start", services: web, delay: 300 * time.Millisecond, asleep: true, steps: []step{
			{do: "a spawn starts it and a stop comes before it is up", act: stopDuringStart, want: StateAsleep},
			{do: "the next spawn starts it", act: spawn, want: StateRunning},
		}},
		{name: "unhealthy past max_restarts: failed", services: "max_restarts = 1\nbackoff_base_ms = 10\n" + web +
			"health = \"/health\"\n[service.web.env]\nHEALTH = \"fail\"\n", steps: []step{
			{do: "health checks fail, one restart, fail again", want: StateFailed, restarts: 1,
				reason: "unhealthy: 3 failed health checks (health /health returned 503 Service Unavailable) after 1 restarts within 5m0s"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, obs := newFake(tc.delay), &wakes{}
			s := newObservedSupervisor(t, f, tc.services, obs)
			n := names.Instance{Service: "web", ID: "alice"}
			if tc.asleep {
				if err := s.Create(n, 0); err != nil {
					t.Fatal(err)
				}
			} else if _, err := s.Spawn(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			for _, st := range tc.steps {
				if st.events != nil {
					f.send(n.Unit(), st.events...)
					if err := s.sync(context.Background()); err != nil { // the events are applied
						t.Fatal(err)
					}
				}
				if st.act != nil {
					st.act(t, s, n)
				}
				waitFor(t, st.do+": "+string(st.want), func() bool {
					i, _ := s.Get(context.Background(), n)
					return i.State == st.want && i.Restarts == st.restarts // restarts are stored after the state changed
				})
				i, _ := s.Get(context.Background(), n)
				if !strings.HasPrefix(i.Reason, st.reason) {
					t.Errorf("%s: %s, reason %q; want reason %q", st.do, i.State, i.Reason, st.reason)
				}
				if st.wakes != "" && obs.String() != st.wakes {
					t.Errorf("%s: wakes %q, want %q", st.do, obs, st.wakes)
				}
			}
		})
	}
}

// The steps that ask the supervisor.

func restart(t *testing.T, s *Supervisor, n names.Instance) {
	if _, err := s.Restart(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

func spawn(t *testing.T, s *Supervisor, n names.Instance) {
	if _, err := s.Spawn(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// idleStop stops the instance as its idle timer does: the service only,
// a socket stays.
func idleStop(t *testing.T, s *Supervisor, n names.Instance) {
	if err := s.stopInst(context.Background(), s.lookup(n), false, false); err != nil {
		t.Fatal(err)
	}
}

// stopDuringStart spawns the instance and stops it while its start job
// runs: the stop wins, and the spawn fails saying so.
func stopDuringStart(t *testing.T, s *Supervisor, n names.Instance) {
	spawned := make(chan error, 1)
	go func() {
		_, err := s.Spawn(context.Background(), n)
		spawned <- err
	}()
	waitFor(t, "starting", func() bool {
		i, _ := s.Get(context.Background(), n)
		return i.State == StateStarting
	})
	if err := s.Stop(context.Background(), n); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := <-spawned; !errors.Is(err, errdefs.ErrUnavailable) || !strings.HasSuffix(err.Error(), "web:alice was stopped while starting") {
		t.Errorf("the spawn the stop cut short: %v, want ErrUnavailable: ... was stopped while starting", err)
	}
}
