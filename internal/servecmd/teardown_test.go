package servecmd

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/units"
)

// stoppingUnits is fakeUnits that records stops, and fails the stop of
// the units in fail.
type stoppingUnits struct {
	fakeUnits
	stopped []string
	fail    map[string]bool
}

func (f *stoppingUnits) Stop(_ context.Context, name string) error {
	if f.fail[name] {
		return fmt.Errorf("stop %s: job failed", name)
	}
	f.stopped = append(f.stopped, name)
	return nil
}

func (f *stoppingUnits) ResetFailed(context.Context, string) error { return nil }

// TestStopUnits: teardown stops this daemon's units only, sockets before
// services, goes on past a unit it cannot stop, and names it in one line.
func TestStopUnits(t *testing.T) {
	const marker = "/var/lib/tenement"
	loaded := func(env ...string) dbusapi.UnitState {
		return dbusapi.UnitState{LoadState: "loaded", ActiveState: "active", Environment: env}
	}
	f := &stoppingUnits{fakeUnits: fakeUnits{
		listed: []string{"tenement@notes-bob.service", "tenement@notes-alice.service", "tenement@notes-alice.socket",
			"tenement@notes-carol.service", "tenement@notes-other.service", "cron.service"},
		states: map[string]dbusapi.UnitState{
			"tenement@notes-alice.service": loaded(units.MarkerEnv(marker)),
			"tenement@notes-alice.socket":  loaded(),
			"tenement@notes-bob.service":   loaded("PORT=1", units.MarkerEnv(marker)),
			"tenement@notes-carol.service": loaded(units.MarkerEnv(marker)),
			"tenement@notes-other.service": loaded(units.MarkerEnv("/srv/other")),
		},
	}, fail: map[string]bool{"tenement@notes-bob.service": true}}
	var out bytes.Buffer
	err := stopUnits(context.Background(), &cli.Env{Stdout: &out}, f, marker)
	if want := "tenement@notes-alice.socket tenement@notes-alice.service tenement@notes-carol.service"; strings.Join(f.stopped, " ") != want {
		t.Errorf("stopped %v, want %s", f.stopped, want)
	}
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "stop tenement@notes-bob.service: job failed") {
		t.Errorf("error %v, want one line naming bob's unit", err)
	}
	if got := out.String(); got != "stopped tenement@notes-alice.service\nstopped tenement@notes-carol.service\n" {
		t.Errorf("printed %q", got)
	}
}
