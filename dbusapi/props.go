package dbusapi

import (
	"encoding/hex"
	"time"
)

// D-Bus interfaces of systemd's unit objects.
const (
	ifaceUnit    = "org.freedesktop.systemd1.Unit"
	ifaceService = "org.freedesktop.systemd1.Service"
	ifaceSocket  = "org.freedesktop.systemd1.Socket"
)

// prop is a D-Bus property tenement reads into a Unit field.
type prop struct {
	iface, name string
	field       Field
	set         func(u *Unit, v any) bool // false when v has the wrong type
}

// props are the properties Watch decodes from PropertiesChanged signals
// and Snapshot reads. What systemd 252 sends, measured in the test manager
// (see signals.go): every PropertiesChanged on an interface carries all of
// its properties flagged "emits change", with values, so each signal is
// the whole state of that interface, not a difference.
var props = []prop{
	{ifaceUnit, "ActiveState", FieldActiveState, func(u *Unit, v any) bool {
		s, ok := v.(string)
		u.ActiveState = ActiveState(s)
		return ok
	}},
	{ifaceUnit, "SubState", FieldSubState, func(u *Unit, v any) bool {
		s, ok := v.(string)
		u.SubState = SubState(s)
		return ok
	}},
	{ifaceUnit, "ActiveEnterTimestamp", FieldActiveEnter, func(u *Unit, v any) bool {
		t, ok := usec(v)
		u.ActiveEnter = t
		return ok
	}},
	{ifaceUnit, "StateChangeTimestamp", FieldStateChange, func(u *Unit, v any) bool {
		t, ok := usec(v)
		u.StateChange = t
		return ok
	}},
	{ifaceUnit, "InvocationID", FieldInvocationID, func(u *Unit, v any) bool {
		b, ok := v.([]byte)
		u.InvocationID = hex.EncodeToString(b)
		return ok
	}},
	{ifaceService, "MainPID", FieldMainPID, func(u *Unit, v any) bool {
		n, ok := v.(uint32)
		u.MainPID = n
		return ok
	}},
	{ifaceService, "Result", FieldResult, setResult},
	{ifaceSocket, "Result", FieldResult, setResult},
	{ifaceService, "NRestarts", FieldNRestarts, func(u *Unit, v any) bool {
		n, ok := v.(uint32)
		u.NRestarts = n
		return ok
	}},
	{ifaceService, "ExecMainCode", FieldExecMain, func(u *Unit, v any) bool {
		n, ok := v.(int32)
		u.ExecMainCode = n
		return ok
	}},
	{ifaceService, "ExecMainStatus", FieldExecMain, func(u *Unit, v any) bool {
		n, ok := v.(int32)
		u.ExecMainStatus = n
		return ok
	}},
	// Configuration: never in a signal (systemd flags it constant).
	{ifaceService, "Environment", FieldEnvironment, func(u *Unit, v any) bool {
		env, ok := v.([]string)
		u.Environment = env
		return ok
	}},
}

func setResult(u *Unit, v any) bool {
	s, ok := v.(string)
	u.Result = s
	return ok
}

// usec reads one of systemd's realtime timestamps (µs since the epoch; 0
// for never).
func usec(v any) (time.Time, bool) {
	n, ok := v.(uint64)
	if !ok || n == 0 {
		return time.Time{}, ok
	}
	return time.UnixMicro(int64(n)), true
}
