package supervisor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// handle applies one change signalled by systemd. It re-reads the unit's
// state: signals may be coalesced, the state read after them is current.
func (s *Supervisor) handle(ctx context.Context, ch dbusapi.Change) {
	if ctx.Err() != nil {
		return
	}
	if ch.Resync {
		s.resync(ctx)
		return
	}
	n, err := names.FromUnit(ch.Unit)
	if err != nil {
		return
	}
	in := s.lookup(n)
	if in == nil {
		return
	}
	if strings.HasSuffix(ch.Unit, ".socket") {
		s.refreshSocket(ctx, in)
		return
	}
	if ch.ActiveState == "" {
		return // the signal changed something else
	}
	in.mu.Lock()
	owned, launching := in.owned, in.launching
	if launching && owned {
		// The daemon's own launch is in progress and waits for readiness
		// itself: the signal's state is enough (a failure is read in
		// full by unitTrouble), with no round trip to systemd while it
		// is busy starting the unit.
		in.sdActive = ch.ActiveState
	}
	in.mu.Unlock()
	if owned && !launching {
		s.refresh(ctx, in)
	}
}

// resync re-reads every owned unit's state (after a reconnect or lost
// signals).
func (s *Supervisor) resync(ctx context.Context) {
	s.mu.RLock()
	all := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		all = append(all, in)
	}
	s.mu.RUnlock()
	for _, in := range all {
		in.mu.Lock()
		owned := in.owned
		in.mu.Unlock()
		if owned {
			s.refresh(ctx, in)
		}
	}
}

// refreshSocket notices a socket unit that went away behind the daemon's
// back (systemctl stop of the .socket), so requests wake it again.
func (s *Supervisor) refreshSocket(ctx context.Context, in *inst) {
	in.mu.Lock()
	epoch, up := in.epoch, in.socketUp
	in.mu.Unlock()
	if !up {
		return
	}
	st, err := s.sd.State(ctx, in.name.SocketUnit())
	if err != nil {
		s.log.Warn("read unit state", "unit", in.name.SocketUnit(), "err", err)
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.epoch != epoch || in.state == StateStopping || st.ActiveState == "active" {
		return
	}
	s.log.Warn("instance socket went away", "instance", in.name.String(), "state", st.ActiveState)
	in.socketUp = false
	in.owned = in.state == StateRunning || in.state == StateStarting
}

func (s *Supervisor) refresh(ctx context.Context, in *inst) {
	in.mu.Lock()
	epoch := in.epoch
	in.mu.Unlock()
	st, err := s.sd.State(ctx, in.unit)
	if err != nil {
		s.log.Warn("read unit state", "unit", in.unit, "err", err)
		return
	}
	s.apply(in, st, epoch)
}

// apply moves an owned instance to follow its unit's state. While a start
// or stop of the daemon's own is in progress, that operation decides the
// state; apply only records what systemd says.
//
// A state read before the daemon's latest start of the unit (an older
// epoch) is stale and ignored; the signals of the new start follow.
func (s *Supervisor) apply(in *inst, st dbusapi.UnitState, epoch uint64) {
	in.mu.Lock()
	if !in.owned || in.epoch != epoch {
		in.mu.Unlock()
		return
	}
	restarts := 0
	if st.NRestarts > in.nrestarts {
		restarts = int(st.NRestarts - in.nrestarts)
		in.nrestarts = st.NRestarts
	}
	active := st.ActiveState
	if !st.Loaded() {
		active = "inactive"
	}
	in.sdActive = active
	if st.MainPID != 0 {
		in.mainPID = st.MainPID
	}
	var failReason string
	switch in.state {
	case StateRunning:
		switch {
		case active == "activating" || (active == "active" && st.SubState != "running" && st.SubState != "exited"):
			// systemd is restarting a crashed app: wait for it again.
			s.log.Warn("instance crashed; systemd is restarting it", "instance", in.name.String(), "result", st.Result)
			in.endRun()
			s.beginStart(in, false, false)
		case active == "failed":
			failReason = fmt.Sprintf("unit failed (result %s, status %d) after %d restarts by systemd; see journalctl -u %s",
				st.Result, st.ExecMainStatus, st.NRestarts, in.unit)
			in.endRun()
			in.state, in.reason = StateFailed, failReason
		case active == "inactive":
			s.log.Info("instance exited", "instance", in.name.String(), "result", st.Result)
			in.endRun()
			in.state, in.owned = StateAsleep, in.socketUp
		}
	case StateAsleep:
		// Socket activation: a connection started the service.
		if in.svc.Activation == config.ActivationSocket && (active == "activating" || active == "active") {
			in.lastWake = time.Now()
			s.beginStart(in, false, true)
		}
	case StateFailed:
		if active == "inactive" {
			in.owned = in.socketUp
		}
	}
	in.mu.Unlock()
	if restarts > 0 {
		for range restarts { // signals may coalesce several restarts
			s.obs.Restarted(in.name, "crash")
		}
		if err := s.update(in, func(r *store.Instance) { r.Restarts += restarts }); err != nil {
			s.log.Error("count restart", "instance", in.name.String(), "err", err)
		}
	}
	if failReason != "" {
		s.log.Error("instance failed", "instance", in.name.String(), "reason", failReason)
		s.markFailed(in, failReason)
		s.forgetLater(in)
	}
}
