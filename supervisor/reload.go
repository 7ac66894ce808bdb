package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// configState is the config in force, with what is derived from it: each
// service's fingerprint, and the last config of the services a reload
// removed (their orphaned instances still run with it).
type configState struct {
	cfg     *config.Config
	prints  map[string]string
	removed map[string]*config.Service
}

func newConfigState(cfg *config.Config, removed map[string]*config.Service) *configState {
	st := &configState{cfg: cfg, prints: map[string]string{}, removed: removed}
	for name, svc := range cfg.Services {
		st.prints[name] = fingerprint(cfg, svc)
	}
	return st
}

func (st *configState) service(name string) *config.Service {
	if svc := st.cfg.Services[name]; svc != nil {
		return svc
	}
	return st.removed[name]
}

// fingerprint is what an instance's units are rendered from, besides its
// name and port: its service's config and the settings units use. Two
// fingerprints differ exactly when a start would render other units.
func fingerprint(cfg *config.Config, svc *config.Service) string {
	set := cfg.Settings
	b, _ := json.Marshal(struct {
		Path                               string
		Service                            *config.Service
		DataDir, CredentialsDir, PortRange string
		MaxRestarts                        int
		RestartWindow                      config.Duration
		FrontListen, APISocket             string
	}{cfg.Path, svc, set.DataDir, set.CredentialsDir, set.PortRange, set.MaxRestarts, set.RestartWindow, set.FrontListen, set.APISocket})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Reloaded says what a reload changed.
type Reloaded struct {
	Added   []string // services new in the config
	Changed []string // services whose config changed
	Removed []string // services no longer in the config
	// RestartPending lists the running instances that run with an older
	// config: their next start (ten restart) applies the new one.
	RestartPending []string
	// Orphaned lists the instances of removed services: they keep
	// running until stopped or deleted.
	Orphaned []string
}

// Reload puts cfg (loaded and checked by the caller) in force: added
// services work at once, changed ones apply at each instance's next start
// (running ones are restart-pending until then), and the instances of
// removed services are orphaned, never left unmanaged. data_dir cannot
// change: units carry it as their daemon's marker.
func (s *Supervisor) Reload(cfg *config.Config) (Reloaded, error) {
	old := s.cfg.Load()
	var r Reloaded
	if cfg.Settings.DataDir != old.cfg.Settings.DataDir {
		return r, fmt.Errorf("%w: settings.data_dir cannot change at a reload (%s -> %s): every unit carries it as its daemon's marker; stop the daemon, move the data, then start it",
			errdefs.ErrInvalid, old.cfg.Settings.DataDir, cfg.Settings.DataDir)
	}
	removed := map[string]*config.Service{}
	maps.Copy(removed, old.removed)
	for name, svc := range old.cfg.Services {
		if cfg.Services[name] == nil {
			removed[name] = svc
			r.Removed = append(r.Removed, name)
		}
	}
	next := newConfigState(cfg, removed)
	for name := range cfg.Services {
		delete(removed, name)
		switch p, ok := old.prints[name]; {
		case !ok:
			r.Added = append(r.Added, name)
		case p != next.prints[name]:
			r.Changed = append(r.Changed, name)
		}
	}
	lo, hi := cfg.Settings.PortBounds()
	s.ports.setRange(lo, hi)
	s.cfg.Store(next)
	select {
	case s.rescheduled <- struct{}{}: // keep_awake windows may have changed
	default:
	}
	for _, in := range s.all() {
		in.mu.Lock()
		if svc := cfg.Services[in.name.Service]; svc != nil {
			in.svc, in.orphaned = svc, false
		} else {
			in.orphaned = true
			if last := removed[in.name.Service]; last != nil {
				in.svc = last
			}
		}
		i := s.flags(in)
		in.mu.Unlock()
		if i.RestartPending {
			r.RestartPending = append(r.RestartPending, in.name.String())
		}
		if i.Orphaned {
			r.Orphaned = append(r.Orphaned, in.name.String())
		}
	}
	for _, l := range [][]string{r.Added, r.Changed, r.Removed, r.RestartPending, r.Orphaned} {
		slices.Sort(l)
	}
	s.log.Info("config reloaded", "added", r.Added, "changed", r.Changed, "removed", r.Removed,
		"restart_pending", len(r.RestartPending), "orphaned", len(r.Orphaned))
	return r, nil
}

// flags returns an instance's RestartPending and Orphaned. The caller holds
// in.mu.
func (s *Supervisor) flags(in *inst) Info {
	var i Info
	i.Orphaned = in.orphaned
	running := in.state == StateRunning || in.state == StateStarting
	i.RestartPending = running && !in.orphaned && in.runPrint != "" && in.runPrint != s.cfg.Load().prints[in.name.Service]
	return i
}

// all returns every known instance.
func (s *Supervisor) all() []*inst {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		out = append(out, in)
	}
	return out
}

// RestartService restarts the running instances of a service one at a
// time, each drained of its requests first and waited for until ready, so
// that the service keeps answering; it stops at the first that does not
// get ready. Asleep instances take the config in force at their next wake.
// It returns the instances it restarted.
func (s *Supervisor) RestartService(ctx context.Context, service string) ([]names.Instance, error) {
	if s.ServiceConfig(service) == nil {
		return nil, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, service)
	}
	list, _ := s.List(ListOptions{Service: service})
	var done []names.Instance
	for _, i := range list {
		if i.State != StateRunning && i.State != StateStarting {
			continue
		}
		if _, err := s.Restart(ctx, i.Instance); err != nil {
			return done, fmt.Errorf("restart %s (after %d of the service's running instances): %w", i.Instance, len(done), err)
		}
		done = append(done, i.Instance)
	}
	return done, nil
}
