package dbusapi

import (
	"maps"
	"sync"

	godbus "github.com/godbus/dbus/v5"
)

// callCounter counts the method calls a Conn sends, by D-Bus member name.
// It sits on the connections themselves (a godbus outgoing interceptor), so
// it counts every call on the wire: go-systemd's own (Hello, AddMatch, the
// GetUnit it makes for each JobRemoved when its property subscriber is
// set) as well as ours.
type callCounter struct {
	mu sync.Mutex
	n  map[string]uint64
}

// intercept is a godbus.Interceptor for outgoing messages.
func (cc *callCounter) intercept(msg *godbus.Message) {
	if msg.Type != godbus.TypeMethodCall {
		return
	}
	member, _ := msg.Headers[godbus.FieldMember].Value().(string)
	cc.mu.Lock()
	if cc.n == nil {
		cc.n = make(map[string]uint64)
	}
	cc.n[member]++
	cc.mu.Unlock()
}

// Calls returns how many D-Bus method calls the connection has sent to
// systemd (and, on the system bus, to the bus itself) since Dial, by
// member name: "StartTransientUnit", "GetAll" (a unit's properties, what
// State costs), "Get", "ListUnitsByPatterns", "AddMatch", ... Reconnects
// and go-systemd's internal calls are included. Tests use it to show that
// no per-unit read happened; metrics can export it as a counter.
func (c *Conn) Calls() map[string]uint64 {
	c.calls.mu.Lock()
	defer c.calls.mu.Unlock()
	return maps.Clone(c.calls.n)
}
