package fleetops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/names"
)

// Move moves n to the host to with its data (see the package comment),
// asking n's owner to when that is another host. withoutData flips the
// placement only, even when the owner is down: for an instance whose host
// is gone for good, its data restored from a backup on to (or lost).
func (o *Ops) Move(ctx context.Context, n names.Instance, to string, withoutData bool) (apitype.MoveResponse, error) {
	resp := apitype.MoveResponse{Instance: n.String(), To: to}
	if err := fleet.ValidName(to); err != nil {
		return resp, fmt.Errorf("move %s: %w", n, err)
	}
	p, ok := o.agent.Placement(n)
	if !ok {
		return resp, fmt.Errorf("%w: move %s: it is placed nowhere", errdefs.ErrNotFound, n)
	}
	resp.From = p.Host
	switch {
	case p.Host == to:
		return resp, nil
	case !o.agent.Live(to):
		return resp, fmt.Errorf("%w: move %s: fleet host %q is not live", errdefs.ErrUnavailable, n, to)
	case withoutData:
		t0 := time.Now()
		_, err := o.agent.Move(ctx, n, to)
		resp.Seconds = time.Since(t0).Seconds()
		return resp, err
	case p.Host != o.self && !o.agent.Live(p.Host):
		return resp, fmt.Errorf("%w: move %s: its host %s is down, and its data is there: bring the host back, or move it --without-data",
			errdefs.ErrUnavailable, n, p.Host)
	case p.Host != o.self:
		c, err := o.peers.client(p.Host)
		if err != nil {
			return resp, err
		}
		return c.Move(ctx, n, to, false)
	}
	return o.moveFromHere(ctx, n, to)
}

// moveFromHere moves an instance of this host: fence, copy, flip, forget.
func (o *Ops) moveFromHere(ctx context.Context, n names.Instance, to string) (apitype.MoveResponse, error) {
	resp := apitype.MoveResponse{Instance: n.String(), From: o.self, To: to}
	// Ask etcd first (a read, at once when it is away): a move that
	// could not flip the placement must not stop the instance and copy
	// its data for nothing.
	if p, ok, err := o.agent.LookupPlacement(ctx, n); err != nil {
		return resp, fmt.Errorf("move %s: %w", n, err)
	} else if !ok || p.Host != o.self {
		return resp, fmt.Errorf("%w: move %s: it no longer lives here", errdefs.ErrConflict, n)
	}
	done := o.busy.add(n)
	if !o.local.Known(n) { // placed here, never registered: register it to fence it
		if _, err := o.local.CreateMany([]names.Instance{n}); err != nil {
			done()
			return resp, err
		}
	}
	// What the instance had here that is this host's, not its data's: its
	// weight in its service's pool and its own keep-awake. The target gets
	// them after the flip.
	var kept moved
	if info, err := o.local.Get(ctx, n); err == nil {
		kept = moved{weight: info.Weight, awakeUntil: info.KeepAwakeUntil}
	}
	t0 := time.Now()
	if err := o.local.Fence(ctx, n); err != nil {
		done()
		return resp, fmt.Errorf("move %s: stop it: %w", n, err)
	}
	bytes, err := o.push(ctx, n, to)
	resp.Bytes = bytes
	if err != nil {
		o.local.Unfence(n)
		done()
		return resp, fmt.Errorf("move %s to %s: copy its data: %w; it stays on %s", n, to, err, o.self)
	}
	_, err = o.agent.Move(ctx, n, to)
	switch {
	case errors.Is(err, errdefs.ErrUnavailable):
		// etcd did not answer: the flip may have happened. The instance
		// stays fenced (and busy) until etcd says where it lives.
		o.wg.Go(func() { defer done(); o.settle(n, to) })
		return resp, fmt.Errorf("move %s to %s: %w; whether it moved is unknown until etcd answers: it stays stopped here until then, then lives on %s or %s",
			n, to, err, o.self, to)
	case err != nil:
		o.abandon(n, to)
		done()
		return resp, fmt.Errorf("move %s to %s: %w; it stays on %s", n, to, err, o.self)
	}
	resp.Seconds = time.Since(t0).Seconds()
	o.forget(n)
	done()
	o.log.Info("moved an instance", "instance", n.String(), "to", to, "bytes", bytes, "unavailable", time.Since(t0))
	if kept.weight > 0 || time.Until(kept.awakeUntil) > time.Second {
		o.wg.Go(func() { o.carry(n, to, kept) })
	}
	return resp, nil
}

// moved is what a moved instance had on its old host besides its data.
type moved struct {
	weight     int
	awakeUntil time.Time
}

// carry gives a moved instance, on its new host, the weight and the
// keep-awake it had here. The new host knows the instance once its copy of
// the placements has the flip (milliseconds): until then it answers that
// the instance lives here, and carry asks again, for up to half a minute.
func (o *Ops) carry(n names.Instance, to string, m moved) {
	c, err := o.peers.client(to)
	weightSet := m.weight == 0
	deadline := time.Now().Add(30 * time.Second)
	for wait := 20 * time.Millisecond; err == nil; wait = min(2*wait, time.Second) {
		ctx, cancel := context.WithTimeout(o.life, 5*time.Second)
		if !weightSet {
			_, err = c.SetWeight(ctx, n, m.weight)
			weightSet = err == nil
		}
		if d := time.Until(m.awakeUntil); err == nil && d > time.Second {
			_, err = c.KeepAwake(ctx, n, d.Round(time.Second))
		}
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-o.life.Done():
			return
		case <-time.After(wait):
			err = nil // ask again
		}
	}
	if err != nil {
		o.log.Warn("an instance moved, but its new host did not take its weight or keep-awake", "instance", n.String(), "to", to,
			"weight", m.weight, "awake_until", m.awakeUntil, "err", err)
	}
}

// push streams n's data and own credentials to the host to.
func (o *Ops) push(ctx context.Context, n names.Instance, to string) (int64, error) {
	c, err := o.peers.client(to)
	if err != nil {
		return 0, err
	}
	creds, err := o.creds.Own(n)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, o.local.DataDir(n), creds)) }()
	r, err := c.PutData(ctx, n, pr)
	pr.CloseWithError(errors.New("the upload ended")) // the writer stops, if it has not
	return r.Bytes, err
}

// forget lets n go from this host after it moved: its record, data and
// credentials.
func (o *Ops) forget(n names.Instance) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(o.life), time.Minute)
	defer cancel()
	err := o.local.Delete(ctx, n, true)
	if err == nil {
		err = o.creds.Forget(n)
	}
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		o.log.Error("an instance moved away, but this host could not remove its copy", "instance", n.String(), "err", err)
	}
}

// abandon undoes a move that did not happen: the instance may wake here
// again, and the target drops its copy of the data (best effort: a copy
// left there is replaced by the next move, never used otherwise).
func (o *Ops) abandon(n names.Instance, to string) {
	o.local.Unfence(n)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(o.life), 30*time.Second)
	defer cancel()
	c, err := o.peers.client(to)
	if err == nil {
		err = c.DropData(ctx, n)
	}
	if err != nil {
		o.log.Warn("a move did not happen, and its target keeps a copy of the data", "instance", n.String(), "target", to, "err", err)
	}
}

// settle waits until etcd says where n lives after a flip it did not
// answer, then finishes the move or abandons it.
func (o *Ops) settle(n names.Instance, to string) {
	for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
		ctx, cancel := context.WithTimeout(o.life, 5*time.Second)
		p, ok, err := o.agent.LookupPlacement(ctx, n)
		cancel()
		switch {
		case err == nil && ok && p.Host == to:
			o.log.Info("etcd answers: the instance moved", "instance", n.String(), "to", to)
			o.forget(n)
			return
		case err == nil:
			o.log.Info("etcd answers: the instance did not move", "instance", n.String(), "to", to)
			o.abandon(n, to)
			return
		}
		select {
		case <-o.life.Done():
			return // the fence ends with the daemon; the next start reads the placement
		case <-time.After(wait):
		}
	}
}
