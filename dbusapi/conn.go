// Package dbusapi is tenement's one connection to systemd.
//
// It wraps go-systemd's D-Bus client (only its ...Context methods) with what
// the daemon needs: transient units started and stopped with their job
// results checked, typed unit state, a stream of the state of tenement@
// units decoded from systemd's signals (Watch: no call per event or per
// unit, never polling) with a bounded resync (Snapshot), a count of the
// calls it makes (Calls), and a connection that re-dials when the bus
// drops.
package dbusapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/tenement/tenement/errdefs"
)

// Conn is a connection to systemd that reconnects when the bus drops. It is
// safe for concurrent use.
type Conn struct {
	log   *slog.Logger
	dial  func(ctx context.Context) (*link, error)
	calls callCounter
	// life bounds every underlying connection: godbus closes a connection
	// when the context it was dialled with ends, so dials use this one,
	// which ends with Close, and never a caller's.
	life    context.Context
	endLife context.CancelFunc

	mu     sync.Mutex
	sc     *sd.Conn
	sig    *sigHandler // sc's signal connection
	gen    int         // incremented on every (re)connect
	closed bool
	stream *stream // nil until Watch

	stop chan struct{}
	done chan struct{}
}

// Options configure Dial.
type Options struct {
	// Bus selects the transport: "private" is systemd's own socket
	// /run/systemd/private (root only, one hop less), "system" the system
	// bus, "" private when available, else the system bus.
	Bus string
	Log *slog.Logger
}

const privateSocket = "/run/systemd/private"

// Dial connects to systemd.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, endLife := context.WithCancel(context.Background())
	c := &Conn{
		log:     log.With("component", "dbus"),
		life:    life,
		endLife: endLife,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.dial = dialer(opts.Bus, &c.calls)
	l, err := dialWithin(ctx, c.life, c.dial)
	if err != nil {
		endLife()
		return nil, fmt.Errorf("%w: connect to systemd: %w", errdefs.ErrUnavailable, err)
	}
	c.sc, c.sig = l.sd, l.sig
	go c.watch()
	return c, nil
}

// Close closes the connection and ends the change stream.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	sc := c.sc
	c.mu.Unlock()
	close(c.stop)
	<-c.done
	if sc != nil {
		sc.Close()
	}
	c.endLife()
}

// dialWithin dials with the long-lived life context, giving up when ctx
// ends first (the dial then finishes in the background and is closed).
func dialWithin(ctx, life context.Context, dial func(context.Context) (*link, error)) (*link, error) {
	type result struct {
		l   *link
		err error
	}
	ch := make(chan result, 1)
	go func() {
		l, err := dial(life)
		ch <- result{l, err}
	}()
	select {
	case r := <-ch:
		return r.l, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.l != nil {
				r.l.sd.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// conn returns the current go-systemd connection and its generation.
func (c *Conn) conn() (*sd.Conn, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, 0, fmt.Errorf("%w: systemd connection closed", errdefs.ErrUnavailable)
	}
	if c.sc == nil {
		return nil, 0, fmt.Errorf("%w: not connected to systemd", errdefs.ErrUnavailable)
	}
	return c.sc, c.gen, nil
}

// do runs f on the connection. When f fails because the connection is
// gone, it reconnects and runs f once more.
func (c *Conn) do(ctx context.Context, f func(sc *sd.Conn) error) error {
	sc, gen, err := c.conn()
	if err != nil {
		if err = c.reconnect(ctx, gen); err != nil {
			return err
		}
		if sc, _, err = c.conn(); err != nil {
			return err
		}
	}
	err = f(sc)
	if err == nil || sc.Connected() {
		return err
	}
	if rerr := c.reconnect(ctx, gen); rerr != nil {
		return errors.Join(err, rerr)
	}
	sc, _, cerr := c.conn()
	if cerr != nil {
		return cerr
	}
	return f(sc)
}

// reconnect replaces the connection of generation gen (unless another
// caller already did) and resubscribes.
func (c *Conn) reconnect(ctx context.Context, gen int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: systemd connection closed", errdefs.ErrUnavailable)
	}
	if c.gen != gen && c.sc != nil && c.sc.Connected() {
		return nil // someone else reconnected already
	}
	if c.sc != nil {
		c.sc.Close()
		c.sc = nil
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, err := dialWithin(dctx, c.life, c.dial)
	if err != nil {
		return fmt.Errorf("%w: reconnect to systemd: %w", errdefs.ErrUnavailable, err)
	}
	c.sc, c.sig = l.sd, l.sig
	c.gen++
	c.log.Info("reconnected to systemd", "generation", c.gen)
	if c.stream != nil {
		if err := c.tapLocked(dctx, c.stream); err != nil {
			c.log.Warn("watch units after reconnect failed; reconnecting again", "err", err)
		}
	}
	return nil
}

// watch notices a dropped connection without waiting for the next call, so
// that state changes keep flowing: it checks the connection's state (a
// local flag, no bus traffic) and reconnects with a backoff.
func (c *Conn) watch() {
	defer close(c.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	backoff := time.Second
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		sc, gen := c.sc, c.gen
		c.mu.Unlock()
		if sc != nil && sc.Connected() {
			backoff = time.Second
			continue
		}
		c.log.Warn("systemd connection lost; reconnecting")
		if err := c.reconnect(context.Background(), gen); err != nil {
			c.log.Error("reconnect failed", "err", err, "retry_in", backoff)
			select {
			case <-c.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// isNoSuchUnit reports whether err is systemd's "unit not loaded" error.
func isNoSuchUnit(err error) bool {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.NoSuchUnit"
	}
	return false
}

// isUnitExists reports whether err is systemd's "unit already exists".
func isUnitExists(err error) bool {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.UnitExists"
	}
	return false
}
