package supervisor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// adopt takes over this daemon's units that are already running: after a
// daemon restart or crash, tenants keep running and are listed again. Only
// units whose environment carries this daemon's marker are touched.
func (s *Supervisor) adopt(ctx context.Context) error {
	list, err := s.sd.List(ctx, names.UnitPattern)
	if err != nil {
		return fmt.Errorf("supervisor: list units: %w", err)
	}
	sockets := map[names.Instance]string{}
	for _, u := range list {
		if strings.HasSuffix(u.Name, ".socket") {
			if n, err := names.FromUnit(u.Name); err == nil {
				sockets[n] = u.ActiveState
			}
		}
	}
	adopted := 0
	for _, u := range list {
		if !strings.HasSuffix(u.Name, ".service") {
			continue
		}
		n, err := names.FromUnit(u.Name)
		if err != nil {
			continue
		}
		st, err := s.sd.State(ctx, u.Name)
		if err != nil {
			return fmt.Errorf("supervisor: adopt %s: %w", u.Name, err)
		}
		if !units.HasMarker(st.Environment, s.marker) {
			s.log.Debug("unit belongs to another daemon; leaving it alone", "unit", u.Name)
			continue
		}
		in, err := s.adoptInst(n, st)
		if err != nil {
			s.log.Warn("cannot adopt unit", "unit", u.Name, "err", err)
			continue
		}
		s.adoptState(in, st, sockets[n] == "active")
		s.watchStorage(in, s.dataDir(n))
		adopted++
	}
	s.log.Info("adopted running units", "count", adopted)
	return nil
}

// adoptInst returns the instance a unit of ours belongs to, recreating its
// record from the unit when the store lost it.
func (s *Supervisor) adoptInst(n names.Instance, st dbusapi.UnitState) (*inst, error) {
	port := 0
	for _, e := range st.Environment {
		if v, ok := strings.CutPrefix(e, "PORT="); ok {
			port, _ = strconv.Atoi(v)
		}
	}
	in := s.lookup(n)
	if in != nil {
		if port > 0 && port != in.rec.Port {
			old := in.rec.Port
			if err := s.update(in, func(r *store.Instance) { r.Port = port }); err != nil {
				return nil, err
			}
			s.ports.release(old)
			s.ports.take(port, n)
		}
		return in, nil
	}
	svc := s.cfg.Services[n.Service]
	if svc == nil {
		return nil, fmt.Errorf("service %q is no longer configured", n.Service)
	}
	if port == 0 {
		return nil, fmt.Errorf("unit has no PORT")
	}
	rec := store.Instance{Service: n.Service, ID: n.ID, Port: port, Weight: DefaultWeight, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateInstance(rec); err != nil {
		return nil, err
	}
	in = s.newInst(n, svc, rec)
	s.mu.Lock()
	s.insts[n] = in
	s.counts[n.Service]++
	s.mu.Unlock()
	s.ports.take(port, n)
	return in, nil
}

// adoptState sets an adopted instance's state from its unit's.
func (s *Supervisor) adoptState(in *inst, st dbusapi.UnitState, socketUp bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.owned, in.socketUp = true, socketUp
	in.sdActive, in.nrestarts, in.mainPID = st.ActiveState, st.NRestarts, st.MainPID
	switch st.ActiveState {
	case "active", "reloading":
		if in.state == StateFailed {
			return // failed stays failed until a user restarts it
		}
		now := time.Now()
		in.state, in.health = StateRunning, HealthUnknown
		in.since, in.lastActive = st.ActiveEnter, now
		if in.since.IsZero() {
			in.since = now
		}
		s.beginRun(in)
	case "activating":
		s.beginStart(in, false, false)
	case "failed":
		in.state = StateFailed
		if in.reason == "" {
			in.reason = fmt.Sprintf("unit failed (result %s, status %d)", st.Result, st.ExecMainStatus)
		}
	case "deactivating":
		// Let it finish; the next start waits for it to unload.
		in.state = StateAsleep
	default:
		if !socketUp {
			in.owned = false
		}
	}
}
