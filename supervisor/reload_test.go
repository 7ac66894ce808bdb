package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

func reloadConfig(t *testing.T, s *Supervisor, services string) *config.Config {
	t.Helper()
	old := s.config()
	cfg, err := config.Parse(old.Path, []byte(fmt.Sprintf("[settings]\ndata_dir = %q\nport_range = \"21000-21999\"\nhealth_check_interval = \"100ms\"\n%s",
		old.Settings.DataDir, services)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestReload(t *testing.T) {
	f := newFake(0)
	s := newTestSupervisor(t, f, webService+blogService)
	ctx := context.Background()
	for _, in := range []string{"web:a", "web:b", "blog:x"} {
		n, _ := names.Parse(in)
		if _, err := s.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	asleep, _ := names.Parse("web:c")
	if err := s.Create(asleep, 0); err != nil {
		t.Fatal(err)
	}

	// web changes, blog goes, news comes.
	r, err := s.Reload(reloadConfig(t, s, webService+"idle_timeout = \"1h\"\n[service.news]\ncommand = \"/bin/true\"\nisolation = \"process\"\nready = \"tcp\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Added, []string{"news"}) || !slices.Equal(r.Changed, []string{"web"}) || !slices.Equal(r.Removed, []string{"blog"}) ||
		!slices.Equal(r.RestartPending, []string{"web:a", "web:b"}) || !slices.Equal(r.Orphaned, []string{"blog:x"}) {
		t.Fatalf("Reloaded = %+v", r)
	}
	// An added service works at once.
	if _, err := s.Spawn(ctx, names.Instance{Service: "news", ID: "n"}); err != nil {
		t.Errorf("spawn of an added service: %v", err)
	}
	// The orphan keeps running and is listed; it is never woken again.
	x, _ := s.Get(ctx, names.Instance{Service: "blog", ID: "x"})
	if !x.Orphaned || x.State != StateRunning {
		t.Errorf("blog:x: %+v", x)
	}
	if s.ServiceConfig("blog") == nil {
		t.Error("a removed service's running orphans lost their config")
	}
	// A rolling restart applies the change, one instance at a time.
	done, err := s.RestartService(ctx, "web")
	if err != nil || len(done) != 2 {
		t.Fatalf("RestartService = %v, %v", done, err)
	}
	for _, id := range []string{"a", "b"} {
		if i, _ := s.Get(ctx, names.Instance{Service: "web", ID: id}); i.RestartPending || i.State != StateRunning {
			t.Errorf("web:%s after the restart: %+v", id, i)
		}
	}
	if i, _ := s.Get(ctx, asleep); i.State != StateAsleep || f.count(f.starts, asleep.Unit()) != 0 {
		t.Errorf("the rolling restart woke asleep web:c: %s", i.State)
	}
	orphan := names.Instance{Service: "blog", ID: "x"}
	if err := s.Stop(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, orphan); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("waking an orphan: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, orphan, true); err != nil {
		t.Errorf("delete of an orphan: %v", err)
	}

	// data_dir cannot change.
	bad := reloadConfig(t, s, webService)
	bad.Settings.DataDir = "/elsewhere"
	if _, err := s.Reload(bad); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("data_dir change: %v", err)
	}
}

const blogService = `
[service.blog]
command = "/bin/true"
isolation = "process"
ready = "tcp"
`
