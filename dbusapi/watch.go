package dbusapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	godbus "github.com/godbus/dbus/v5"

	"github.com/tenement/tenement/errdefs"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Prefix selects the units by name, e.g. "tenement@". Default "":
	// every unit.
	Prefix string
	// Buffer is how many events may wait for the reader (at least 2);
	// when it is full, events are dropped and the reader gets an
	// EventResync after the ones it has. Default 4096.
	Buffer int
}

// defaultBuffer holds a burst of some 500 units starting at once (each
// start is about seven events).
const defaultBuffer = 4096

// Watch returns the stream of events of the units whose names start with
// opts.Prefix, decoded from systemd's signals: no call per event, none per
// unit. It is the only such stream of the Conn; it survives reconnects
// and is never closed: readers stop on their own context.
//
// The stream begins with an EventResync; another follows each reconnect,
// each overflow, each daemon-reload (whose UnitRemoved and UnitNew for
// every unit are not passed on) and a re-executed systemd. A reader keeps
// its table of units this way:
//
//	EventResync:  s, err := c.Snapshot(ctx, want, prefix+"*"); on error
//	              retry (or wait for the Resync of the next connection);
//	              table = s.Units by name; since = s.Seq
//	any other:    skip it if ev.Unit.Seq.Before(since): the Snapshot
//	              already covers it
//	EventNew:     add ev.Unit.Name, without a state: until the unit
//	              changes, it is as loaded (a socket's service: inactive)
//	EventChanged: table[name] = table[name].Merge(ev.Unit)
//	EventRemoved: delete table[name]
//
// Events come in systemd's order, every transition (see signals.go for
// what 252 sends). The events of a unit come before the result of a job
// on it: when StartTransient, Stop, ... return, the unit's new state is
// in the stream already.
//
// Watch costs five AddMatch calls, a GetNameOwner and a Subscribe on the
// system bus, none on systemd's private socket (where systemd sends every
// signal to every client), at start and after each reconnect.
func (c *Conn) Watch(ctx context.Context, opts WatchOptions) (<-chan Event, error) {
	if opts.Buffer <= 0 {
		opts.Buffer = defaultBuffer
	}
	opts.Buffer = max(opts.Buffer, 2)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%w: systemd connection closed", errdefs.ErrUnavailable)
	}
	if c.stream != nil {
		return nil, fmt.Errorf("%w: Watch called twice", errdefs.ErrConflict)
	}
	w := &stream{prefix: opts.Prefix, events: make(chan Event, opts.Buffer)}
	if err := c.tapLocked(ctx, w); err != nil {
		return nil, fmt.Errorf("watch units %s*: %w", opts.Prefix, err)
	}
	c.stream = w
	return w.events, nil
}

// stream is the stream of events Watch returns.
type stream struct {
	prefix string
	mu     sync.Mutex // serializes senders: the connection's reader, tapLocked
	events chan Event
	// dropping: the last free slot holds a Resync, and events are
	// dropped until there is room again.
	dropping bool
}

// send delivers ev without blocking the connection's reader. The last
// slot of the buffer is kept for a Resync: when the buffer is that full,
// ev is dropped and a Resync queued in its place (once), which the reader
// reaches only after everything dropped meanwhile, so the Snapshot it
// then makes covers what was dropped.
func (w *stream) send(ev Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) < cap(w.events)-1 { // only senders add, under mu
		w.events <- ev
		w.dropping = false
		return
	}
	if !w.dropping {
		w.events <- Event{Kind: EventResync}
		w.dropping = true
	}
}

// matchRules select systemd's unit signals on the system bus. go-systemd
// adds JobRemoved's itself. Senders are checked again on arrival, as
// another client's broader rule would let other senders' signals in.
var matchRules = []string{
	"type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='UnitNew'",
	"type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='UnitRemoved'",
	"type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='Reloading'",
	"type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'",
	"type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.freedesktop.systemd1'",
}

// tapLocked attaches w to the current connection: it subscribes (on the
// system bus), queues a Resync, then lets the connection's signals
// through, so that every event of this connection follows the Resync.
// When that fails, the connection is closed for watch to replace. c.mu is
// held.
func (c *Conn) tapLocked(ctx context.Context, w *stream) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := &tap{w: w, gen: c.gen + 1, bus: !c.sig.private}
	if t.bus {
		owner, err := subscribeBus(ctx, c.sig.conn)
		if err != nil {
			c.sc.Close()
			return err
		}
		t.sender = owner
	}
	w.send(Event{Kind: EventResync})
	c.sig.tap.Store(t)
	return nil
}

// subscribeBus adds the match rules, asks systemd to send signals (it
// sends none on the system bus while no client is subscribed) and returns
// systemd's unique name.
func subscribeBus(ctx context.Context, conn *godbus.Conn) (string, error) {
	for _, rule := range matchRules {
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.AddMatch", 0, rule).Err; err != nil {
			return "", fmt.Errorf("add match %s: %w", rule, err)
		}
	}
	var owner string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, systemdName).Store(&owner); err != nil {
		return "", fmt.Errorf("find systemd on the bus: %w", err)
	}
	err := conn.Object(systemdName, "/org/freedesktop/systemd1").CallWithContext(ctx, "org.freedesktop.systemd1.Manager.Subscribe", 0).Err
	var de godbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.AlreadySubscribed" {
		err = nil // the old Subscribe did, on the same connection
	}
	if err != nil {
		return "", fmt.Errorf("subscribe: %w", err)
	}
	return owner, nil
}
