package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
	"github.com/tenement/tenement/units"
)

// fakeSystemd stands in for systemd at the D-Bus boundary: it reports the
// given units as running units of the daemon (which adopts them from its
// first Snapshot) and counts the reads after that (State and Snapshot).
type fakeSystemd struct {
	mu     sync.Mutex
	units  map[string]dbusapi.Unit
	events chan dbusapi.Event
	states atomic.Int64
}

func (f *fakeSystemd) StartTransient(context.Context, string, []units.Property, ...dbusapi.Aux) error {
	return fmt.Errorf("%w: the fake starts nothing", errdefs.ErrUnimplemented)
}
func (f *fakeSystemd) Start(context.Context, string) error       { return nil }
func (f *fakeSystemd) Stop(context.Context, string) error        { return nil }
func (f *fakeSystemd) ResetFailed(context.Context, string) error { return nil }
func (f *fakeSystemd) SetProperties(context.Context, string, []units.Property) error {
	return nil
}

func (f *fakeSystemd) State(_ context.Context, name string) (dbusapi.UnitState, error) {
	f.states.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.units[name]; ok {
		return dbusapi.UnitState{Name: name, LoadState: "loaded", ActiveState: string(u.ActiveState), Environment: u.Environment}, nil
	}
	return dbusapi.UnitState{Name: name, LoadState: "not-found"}, nil
}

func (f *fakeSystemd) Watch(context.Context, dbusapi.WatchOptions) (<-chan dbusapi.Event, error) {
	f.events <- dbusapi.Event{Kind: dbusapi.EventResync}
	return f.events, nil
}

func (f *fakeSystemd) Snapshot(context.Context, dbusapi.Field, ...string) (dbusapi.Snapshot, error) {
	f.states.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var s dbusapi.Snapshot
	for _, u := range f.units {
		s.Units = append(s.Units, u)
	}
	return s, nil
}

var _ supervisor.Systemd = (*fakeSystemd)(nil)

// testAPI is an API server over a real supervisor (with fake systemd) and
// a real store, served over TCP with tokens and on a unix socket.
type testAPI struct {
	srv   *Server
	sup   *supervisor.Supervisor
	sd    *fakeSystemd
	st    *store.Store
	cfg   *config.Config
	url   string       // http://127.0.0.1:port
	local *http.Client // over the unix socket: uid 0, admin
}

const testServices = `
[service.notes]
command = "/bin/sh"
isolation = "process"
[service.blog]
command = "/bin/sh"
isolation = "process"
`

// newTestAPI starts an API whose daemon adopts the given running
// instances ("service:id"); port i+1 of the range is the i-th's.
func newTestAPI(t *testing.T, running ...string) *testAPI {
	t.Helper()
	return newTestAPIWith(t, running, nil)
}

// newTestAPIWith starts an API whose daemon adopts the given running
// instances and the given failed ones.
func newTestAPIWith(t *testing.T, running, failed []string) *testAPI {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "tenement.toml"), fmt.Appendf(nil,
		"[settings]\ndata_dir = %q\ncredentials_dir = %q\nport_range = \"21000-29999\"\nhealth_check_interval = \"1h\"\n%s",
		filepath.Join(dir, "data"), filepath.Join(dir, "credentials"), testServices))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.Settings.DataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sd := &fakeSystemd{units: map[string]dbusapi.Unit{}, events: make(chan dbusapi.Event, 16)}
	for i, s := range running {
		n, err := names.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		sd.units[n.Unit()] = dbusapi.Unit{Name: n.Unit(), Fields: dbusapi.ListFields | dbusapi.UnitFields | dbusapi.ServiceFields | dbusapi.FieldEnvironment,
			LoadState: dbusapi.Loaded, ActiveState: dbusapi.Active, SubState: dbusapi.SubRunning, MainPID: uint32(1000 + i),
			Environment: []string{fmt.Sprintf("PORT=%d", 21001+i), units.MarkerEnv(cfg.Settings.DataDir)}}
	}
	for _, s := range failed {
		n, err := names.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		sd.units[n.Unit()] = dbusapi.Unit{Name: n.Unit(), Fields: dbusapi.ListFields | dbusapi.UnitFields | dbusapi.ServiceFields | dbusapi.FieldEnvironment,
			LoadState: dbusapi.Loaded, ActiveState: dbusapi.Failed, SubState: "failed",
			Environment: []string{units.MarkerEnv(cfg.Settings.DataDir)}}
	}
	log := slog.New(slog.DiscardHandler)
	sup, err := supervisor.New(supervisor.Options{Config: cfg, Systemd: sd, Store: st, Log: log, Wrapper: "/bin/true", DropInDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() { sup.Run(ctx, func() { close(ready) }); close(done) }()
	<-ready
	t.Cleanup(func() { cancel(); <-done })

	a := &testAPI{srv: New(sup, log), sup: sup, sd: sd, st: st, cfg: cfg}
	a.srv.Auditor, a.srv.Tokens = st, st
	a.srv.Authenticate = TokenAuth(auth.NewAuthenticator(st, nil, nil, log))
	a.url = serve(t, a.srv, "tcp", "127.0.0.1:0")
	sock := filepath.Join(dir, "api.sock")
	serve(t, a.srv, "unix", sock)
	a.local = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return a
}

// serve serves h on a new listener, as the daemon does, and returns the
// URL of a TCP one.
func serve(t *testing.T, h http.Handler, network, addr string) string {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ConnContext = ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	return "http://" + ln.Addr().String()
}

// token issues a token ("" tenant: admin).
func (a *testAPI) token(t *testing.T, tenant string) (secret string, tok store.Token) {
	t.Helper()
	secret, tok, err := auth.Issue(a.st, tenant, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret, tok
}

// call sends a request with a token over TCP (token "local": over the
// unix socket, as uid 0) and returns the status and body.
func (a *testAPI) call(t *testing.T, method, path, token string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	c, base := http.DefaultClient, a.url
	if token == "local" {
		c, base = a.local, "http://unix"
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "local" && token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(b))
}

func mustInstance(t *testing.T, s string) names.Instance {
	t.Helper()
	n, err := names.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
