package dbusapi

import (
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// Change is a state change of a tenement@ unit, from systemd's
// PropertiesChanged signal. Resync means changes may have been missed (the
// connection was replaced, or signals arrived faster than they were read):
// the receiver should re-read the state of every unit it cares about.
type Change struct {
	Unit        string
	ActiveState string // "" when the signal did not carry it
	SubState    string
	Resync      bool
}

// changeBuffer holds signals between the D-Bus dispatcher and the reader;
// when it overflows the reader gets a Resync.
const changeBuffer = 4096

// Subscribe asks systemd for unit signals and returns the stream of changes
// to units whose names start with prefix. There is one stream per Conn; it
// survives reconnects (each is followed by a Resync) and is never closed:
// readers stop on their own context.
func (c *Conn) Subscribe(prefix string) (<-chan Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changes != nil {
		panic("dbusapi: Subscribe called twice")
	}
	c.changes = make(chan Change, changeBuffer)
	c.prefix = prefix
	if err := c.subscribeLocked(); err != nil {
		return nil, err
	}
	return c.changes, nil
}

// subscribeLocked subscribes the current connection; c.mu is held.
func (c *Conn) subscribeLocked() error {
	updates := make(chan *sd.PropertiesUpdate, changeBuffer)
	errs := make(chan error, 1)
	c.sc.SetPropertiesSubscriber(updates, errs)
	if err := c.sc.Subscribe(); err != nil {
		return err
	}
	go c.forward(c.genDone, updates, errs)
	return nil
}

// forward turns property updates of one connection generation into
// Changes until that connection is replaced.
func (c *Conn) forward(replaced <-chan struct{}, updates <-chan *sd.PropertiesUpdate, errs <-chan error) {
	for {
		select {
		case <-c.stop:
			return
		case <-replaced:
			return
		case u := <-updates:
			if !strings.HasPrefix(u.UnitName, c.prefix) {
				continue
			}
			ch := Change{Unit: u.UnitName}
			if v, ok := u.Changed["ActiveState"]; ok {
				ch.ActiveState, _ = v.Value().(string)
			}
			if v, ok := u.Changed["SubState"]; ok {
				ch.SubState, _ = v.Value().(string)
			}
			c.sendChange(ch)
		case <-errs:
			// The update channel overflowed: some changes are lost.
			c.sendChange(Change{Resync: true})
		}
	}
}

// sendChange delivers a change without blocking the dispatcher. When the
// reader falls behind and a change is dropped, the next change that fits is
// preceded by a Resync.
func (c *Conn) sendChange(ch Change) {
	if c.missed.Load() {
		select {
		case c.changes <- Change{Resync: true}:
			c.missed.Store(false)
		default:
			return
		}
	}
	select {
	case c.changes <- ch:
	default:
		c.missed.Store(true)
	}
}
