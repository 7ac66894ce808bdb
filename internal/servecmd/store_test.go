package servecmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// ten runs ten with the server side's commands and returns its exit
// status, stdout and stderr.
func ten(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), &cli.Env{Stdout: &stdout, Stderr: &stderr}, args, Commands...)
	return code, stdout.String(), stderr.String()
}

// fakeUnits is systemd's view of units at the D-Bus boundary.
type fakeUnits struct {
	listed []string
	states map[string]dbusapi.UnitState
}

func (f fakeUnits) List(context.Context, ...string) ([]dbusapi.UnitStatus, error) {
	var out []dbusapi.UnitStatus
	for _, n := range f.listed {
		out = append(out, dbusapi.UnitStatus{Name: n})
	}
	return out, nil
}

func (f fakeUnits) State(_ context.Context, name string) (dbusapi.UnitState, error) {
	if st, ok := f.states[name]; ok {
		return st, nil
	}
	return dbusapi.UnitState{Name: name, LoadState: "not-found"}, nil
}

func storeTestConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tenement.toml")
	text := fmt.Sprintf("[settings]\ndata_dir = %q\n[service.notes]\ncommand = \"/bin/true\"\nisolation = \"process\"\n", filepath.Join(dir, "data"))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestScanUnits(t *testing.T) {
	cfg := storeTestConfig(t)
	ours := units.MarkerEnv(cfg.Settings.DataDir)
	unit := func(active string, env ...string) dbusapi.UnitState {
		return dbusapi.UnitState{LoadState: "loaded", ActiveState: active, Environment: env}
	}
	f := fakeUnits{
		listed: []string{
			"tenement@notes-alice.service", "tenement@notes-bob.service", "tenement@notes-carol.socket",
			"tenement@notes-dave.service", "tenement@blog-erin.service", "tenement@notes-frank.service",
			"tenement@notes-other.service", "not-ours.service",
		},
		states: map[string]dbusapi.UnitState{
			"tenement@notes-alice.service": unit("active", "PORT=20001", ours),
			"tenement@notes-bob.service":   unit("failed", "PORT=20002", ours),
			"tenement@notes-carol.service": unit("inactive", "PORT=20003", ours), // asleep behind its socket
			"tenement@notes-dave.service":  unit("active", ours),                 // no PORT
			"tenement@blog-erin.service":   unit("active", "PORT=20005", ours),   // service gone from the config
			"tenement@notes-other.service": unit("active", "PORT=20006", units.MarkerEnv("/srv/other")),
		},
	}
	now := time.Unix(1e9, 0).UTC()
	r, err := scanUnits(context.Background(), f, cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range r.records {
		got = append(got, fmt.Sprintf("%s:%s:%d:%d", rec.Service, rec.ID, rec.Port, rec.Weight))
		if !rec.CreatedAt.Equal(now) {
			t.Errorf("%s created %v", rec.Name(), rec.CreatedAt)
		}
	}
	if want := "notes:alice:20001:0 notes:bob:20002:0 notes:carol:20003:0"; strings.Join(got, " ") != want {
		t.Errorf("records %v, want %s", got, want)
	}
	if len(r.Skipped) != 2 || !strings.Contains(strings.Join(r.Skipped, "\n"), `service "blog" is no longer configured`) ||
		!strings.Contains(strings.Join(r.Skipped, "\n"), "tenement@notes-dave.service: no valid PORT=") {
		t.Errorf("skipped %q", r.Skipped)
	}
	if strings.Contains(fmt.Sprint(r), "notes-other") {
		t.Errorf("another daemon's unit is reported: %+v", r)
	}
}

// TestStoreStateMessages: the one line a user gets for each state of the
// store, with the recovery command for the config in use.
func TestStoreStateMessages(t *testing.T) {
	cfg := storeTestConfig(t)
	path := filepath.Join(cfg.Settings.DataDir, store.FileName)
	corrupt := &store.CorruptError{Path: path, Err: errors.New("invalid database")}
	if err := storeState(cfg, corrupt, false); err == nil || err.Error() != "store "+path+" is corrupt (invalid database); tenants keep running; run: ten --config "+cfg.Path+" store recover" {
		t.Errorf("corrupt: %v", err)
	}
	if err := storeState(cfg, store.ErrLocked, true); err == nil || !strings.Contains(err.Error(), "the daemon holds the store "+path) {
		t.Errorf("locked: %v", err)
	}
	if storeState(cfg, corrupt, true) != nil {
		t.Error("recover must accept a corrupt store")
	}
}

// TestStoreRecoverRefusals: recover refuses a healthy store and one the
// daemon holds, in one line, and changes nothing.
func TestStoreRecoverRefusals(t *testing.T) {
	cfg := storeTestConfig(t)
	st, err := store.Open(cfg.Settings.DataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := ten("--config", cfg.Path, "store", "recover")
	if code == 0 || !strings.Contains(errOut, "the daemon holds the store") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("held: %d %q", code, errOut)
	}
	st.Close()
	code, _, errOut = ten("--config", cfg.Path, "store", "recover")
	if code == 0 || !strings.Contains(errOut, "is healthy: nothing to recover") {
		t.Errorf("healthy: %d %q", code, errOut)
	}
	if code, out, _ := ten("--config", cfg.Path, "store", "check"); code != 0 || !strings.Contains(out, "is healthy") {
		t.Errorf("check: %d %q", code, out)
	}
	if got, _ := filepath.Glob(filepath.Join(cfg.Settings.DataDir, "tenement.db*")); len(got) != 1 {
		t.Errorf("files %v", got)
	}
	f, _ := os.OpenFile(filepath.Join(cfg.Settings.DataDir, store.FileName), os.O_WRONLY, 0)
	f.WriteAt(make([]byte, 16384), 0)
	f.Close()
	code, _, errOut = ten("--config", cfg.Path, "store", "check")
	if code == 0 || !strings.Contains(errOut, "is corrupt") || !strings.Contains(errOut, "store recover") {
		t.Errorf("check of a corrupt store: %d %q", code, errOut)
	}
}
