package dbusapi

import (
	"strings"
	"testing"

	godbus "github.com/godbus/dbus/v5"
)

func TestWatcherOverflow(t *testing.T) {
	w := &stream{events: make(chan Event, 3)}
	ev := func(n uint64) Event { return Event{Kind: EventChanged, Unit: Unit{Name: "u", Seq: Seq{1, n}}} }
	read := func() string {
		select {
		case ev := <-w.events:
			return render(ev)
		default:
			return "nothing"
		}
	}
	var got []string
	for n := range uint64(5) {
		w.send(ev(n + 1)) // 3 does not fit: a Resync takes its place; 4 and 5 are dropped
	}
	got = append(got, read())
	w.send(ev(6)) // one slot free: still kept for the Resync that is queued
	got = append(got, read(), read())
	w.send(ev(7)) // room again
	w.send(Event{Kind: EventResync})
	got = append(got, read(), read(), read())
	want := []string{"changed u #1", "changed u #2", "resync", "changed u #7", "resync", "nothing"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("read %s\nwant %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

func TestCallCounter(t *testing.T) {
	var cc callCounter
	call := func(member string) *godbus.Message {
		return &godbus.Message{Type: godbus.TypeMethodCall, Headers: map[godbus.HeaderField]godbus.Variant{
			godbus.FieldMember: godbus.MakeVariant(member),
		}}
	}
	for _, m := range []*godbus.Message{
		call("Get"), call("Get"), call("ListUnitsByPatterns"),
		{Type: godbus.TypeSignal, Headers: map[godbus.HeaderField]godbus.Variant{godbus.FieldMember: godbus.MakeVariant("Get")}},
		{Type: godbus.TypeMethodReply},
	} {
		cc.intercept(m)
	}
	c := &Conn{}
	c.calls.n = cc.n
	got := c.Calls()
	if len(got) != 2 || got["Get"] != 2 || got["ListUnitsByPatterns"] != 1 {
		t.Errorf("Calls() = %v", got)
	}
	got["Get"] = 100 // a copy
	if c.Calls()["Get"] != 2 {
		t.Error("Calls returned its own map")
	}
}
