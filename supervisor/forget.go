package supervisor

import (
	"context"
)

// forgetUnserved forgets, with its data dir, an instance that a request
// created (spawn_on_request) and that never answered a 2xx, once it is
// asleep or failed: a flood of made-up ids then leaves no store record, no
// port and no data dir behind. An instance that served a 2xx once is a
// real tenant's and stays. In a fleet its placement goes too.
func (s *Supervisor) forgetUnserved(in *inst) {
	in.mu.Lock()
	forget := in.rec.ByRequest && !in.rec.Served && !in.marking && in.inflight == 0 &&
		(in.state == StateAsleep || in.state == StateFailed)
	in.mu.Unlock()
	if !forget || s.lookup(in.name) != in {
		return
	}
	s.log.Info("forgetting an instance that a request created and that never answered 2xx", "instance", in.name.String())
	if err := s.Delete(context.WithoutCancel(s.life), in.name, true); err != nil {
		s.log.Error("forget instance", "instance", in.name.String(), "err", err)
		return
	}
	s.unplace(in.name) // in a fleet, its name is free again
}
