package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// deployServices: web's versions are healthy; sick's answer /health with
// 503 (the fake's app reads HEALTH=fail from its environment).
var deployServices = func() string {
	var b strings.Builder
	for _, svc := range []string{"web", "sick"} {
		fmt.Fprintf(&b, "[service.%s]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\nhealth = \"/health\"\n", svc)
	}
	return b.String() + "[service.sick.env]\nHEALTH = \"fail\"\n"
}()

func TestDeploy(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		running string // spawned before the deploy, with weight 40
		deploy  string
		weight  int
		wantErr error
		errHas  string
		// after the deploy
		wantState  State
		wantWeight int
		wantWakes  string
	}{
		{name: "a healthy new version gets its weight", deploy: "web:v2", weight: 60,
			wantState: StateRunning, wantWeight: 60, wantWakes: "web:v2 deploy"},
		{name: "a new version that never gets healthy is stopped at weight 0", deploy: "sick:v2", weight: 60,
			wantErr: errdefs.ErrUnavailable, errHas: "did not become healthy within 1s (last check: unhealthy); stopped it (weight 0)",
			wantState: StateAsleep, wantWeight: 0, wantWakes: "sick:v2 deploy"},
		{name: "a running version that is not healthy is left as it was", running: "sick:v1", deploy: "sick:v1", weight: 100,
			wantErr: errdefs.ErrUnavailable, errHas: "it was already running and is left as it was",
			wantState: StateRunning, wantWeight: 40, wantWakes: "sick:v1 spawn"},
		{name: "a running healthy version takes the weight", running: "web:v1", deploy: "web:v1", weight: 100,
			wantState: StateRunning, wantWeight: 100, wantWakes: "web:v1 spawn"},
		{name: "no such service", deploy: "nope:v1", weight: 100, wantErr: errdefs.ErrNotFound},
		{name: "a weight out of range", deploy: "web:v3", weight: 101, wantErr: errdefs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &wakes{}
			s := newObservedSupervisor(t, newFake(0), deployServices, obs)
			if tc.running != "" {
				n, _ := names.Parse(tc.running)
				if _, err := s.Spawn(ctx, n); err != nil {
					t.Fatal(err)
				}
				if err := s.SetWeight(n, 40); err != nil {
					t.Fatal(err)
				}
			}
			n, _ := names.Parse(tc.deploy)
			info, err := s.Deploy(ctx, n, tc.weight, time.Second)
			if !errors.Is(err, tc.wantErr) || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("Deploy = %v, want %v containing %q", err, tc.wantErr, tc.errHas)
			}
			if err == nil && (info.State != StateRunning || info.Weight != tc.weight) {
				t.Errorf("Deploy's answer: %s, weight %d", info.State, info.Weight)
			}
			if tc.wantState == "" {
				if s.Known(n) {
					t.Errorf("a refused deploy created %s", n)
				}
				return
			}
			if got, _ := s.Get(ctx, n); got.State != tc.wantState || got.Weight != tc.wantWeight {
				t.Errorf("after: %s, weight %d; want %s, weight %d", got.State, got.Weight, tc.wantState, tc.wantWeight)
			}
			if got := obs.String(); got != tc.wantWakes {
				t.Errorf("wakes %q, want %q", got, tc.wantWakes)
			}
		})
	}
}

func TestRouteRefuses(t *testing.T) {
	ctx := context.Background()
	s := newTestSupervisor(t, newFake(0), deployServices+"[service.once]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\nrestart = \"never\"\n")
	for _, id := range []string{"web:v1", "web:v2", "sick:v1", "once:v1", "once:v2"} {
		n, _ := names.Parse(id)
		if _, err := s.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	crashed, _ := names.Parse("once:v2")
	s.sd.(*fakeSystemd).crash(crashed.Unit())
	waitFor(t, "once:v2 failed", func() bool {
		i, _ := s.Get(ctx, crashed)
		return i.State == StateFailed
	})
	for _, tc := range []struct {
		from, to string
		want     error
		errHas   string
	}{
		{"web:v1", "web:v1", errdefs.ErrInvalid, "route web:v1 to itself"},
		{"web:v1", "sick:v1", errdefs.ErrInvalid, "not the same service"},
		{"web:v1", "web:v3", errdefs.ErrNotFound, "instance web:v3"},
		{"web:v3", "web:v1", errdefs.ErrNotFound, "instance web:v3"},
		{"once:v1", "once:v2", errdefs.ErrConflict, "once:v2 has failed (unit failed"},
		{"web:v1", "web:v2", nil, ""},
	} {
		from, _ := names.Parse(tc.from)
		to, _ := names.Parse(tc.to)
		err := s.Route(from, to)
		if !errors.Is(err, tc.want) || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("Route(%s, %s) = %v, want %v containing %q", from, to, err, tc.want, tc.errHas)
		}
	}
	for id, want := range map[string]int{"web:v1": 0, "web:v2": 100, "once:v1": 0} {
		n, _ := names.Parse(id)
		if i, _ := s.Get(ctx, n); i.Weight != want {
			t.Errorf("%s: weight %d, want %d", id, i.Weight, want)
		}
	}
}
