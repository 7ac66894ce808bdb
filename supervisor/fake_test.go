package supervisor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// fakeSystemd stands in for systemd at the D-Bus boundary: a "unit" is an
// HTTP listener on the port from its Environment, started after a delay.
type fakeSystemd struct {
	delay   time.Duration
	changes chan dbusapi.Change

	mu     sync.Mutex
	units  map[string]*fakeUnit
	starts map[string]int
	stops  map[string]int
}

type fakeUnit struct {
	env    []string
	active string
	ln     net.Listener
}

func newFake(delay time.Duration) *fakeSystemd {
	return &fakeSystemd{delay: delay, changes: make(chan dbusapi.Change, 1024),
		units: map[string]*fakeUnit{}, starts: map[string]int{}, stops: map[string]int{}}
}

func (f *fakeSystemd) StartTransient(ctx context.Context, name string, props []units.Property, aux ...dbusapi.Aux) error {
	f.mu.Lock()
	if u := f.units[name]; u != nil {
		f.mu.Unlock()
		return fmt.Errorf("%w: %s exists", errdefs.ErrConflict, name)
	}
	env, _ := units.Get(props, "Environment").([]string)
	u := &fakeUnit{env: env, active: "activating"}
	f.units[name] = u
	f.starts[name]++
	f.mu.Unlock()
	time.Sleep(f.delay)
	port := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PORT="); ok {
			port = v
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	f.mu.Lock()
	u.ln, u.active = ln, "active"
	f.mu.Unlock()
	f.changes <- dbusapi.Change{Unit: name, ActiveState: "active"}
	return nil
}

func (f *fakeSystemd) Start(ctx context.Context, name string) error { return nil }

func (f *fakeSystemd) Stop(ctx context.Context, name string) error {
	f.mu.Lock()
	u := f.units[name]
	delete(f.units, name)
	f.stops[name]++
	f.mu.Unlock()
	if u != nil && u.ln != nil {
		u.ln.Close()
	}
	f.changes <- dbusapi.Change{Unit: name, ActiveState: "inactive"}
	return nil
}

func (f *fakeSystemd) ResetFailed(ctx context.Context, name string) error  { return nil }
func (f *fakeSystemd) WaitUnloaded(ctx context.Context, name string) error { return nil }

func (f *fakeSystemd) State(ctx context.Context, name string) (dbusapi.UnitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.units[name]
	if u == nil {
		return dbusapi.UnitState{Name: name, LoadState: "not-found", ActiveState: "inactive"}, nil
	}
	sub := "running"
	if u.active != "active" {
		sub = "start"
	}
	return dbusapi.UnitState{Name: name, LoadState: "loaded", ActiveState: u.active, SubState: sub, Environment: u.env, MainPID: 42}, nil
}

func (f *fakeSystemd) List(ctx context.Context, patterns ...string) ([]dbusapi.UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dbusapi.UnitStatus
	for name, u := range f.units {
		out = append(out, dbusapi.UnitStatus{Name: name, LoadState: "loaded", ActiveState: u.active})
	}
	return out, nil
}

func (f *fakeSystemd) Subscribe(prefix string) (<-chan dbusapi.Change, error) { return f.changes, nil }

func (f *fakeSystemd) count(m map[string]int, unit string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[unit]
}

// newTestSupervisor runs a supervisor over fake systemd and a real store.
func newTestSupervisor(t *testing.T, f *fakeSystemd, services string) *Supervisor {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(dir+"/tenement.toml", []byte(fmt.Sprintf("[settings]\ndata_dir = %q\nport_range = \"21000-21999\"\nhealth_check_interval = \"100ms\"\n%s", dir, services)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(Options{Config: cfg, Systemd: f, Store: st, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() { s.Run(ctx, func() { close(ready) }); close(done) }()
	<-ready
	t.Cleanup(func() {
		cancel()
		<-done
		f.mu.Lock()
		for _, u := range f.units {
			if u.ln != nil {
				u.ln.Close()
			}
		}
		f.mu.Unlock()
	})
	return s
}

const webService = `
[service.web]
command = "/bin/true"
isolation = "process"
ready = "tcp"
`
