package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// Secrets: what tenants must not read besides files (read-files in
// attack.go): the daemon's API and, over the system bus, another unit's
// environment (docs/isolation.md, "Secrets").

// systemBus is the D-Bus system bus socket.
const systemBus = "/run/dbus/system_bus_socket"

func init() {
	// connect-api connects to the daemon's API socket (api) and, if it
	// can, asks it for the instance list.
	register("connect-api", func(q map[string][]string) (bool, string) {
		path := first(q, "api")
		if path == "" {
			return true, "no api"
		}
		c, err := net.DialTimeout("unix", path, 2*time.Second)
		if err != nil {
			return true, "connect " + path + ": " + err.Error()
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprint(c, "GET /api/instances HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false, "connected to " + path + " (no answer: " + err.Error() + ")"
		}
		resp.Body.Close()
		return false, "connected to " + path + ": GET /api/instances answered " + resp.Status
	})
	// system-bus connects to the system bus and reads the victim's unit
	// (victim_unit) Environment= from systemd, as any local user can.
	register("system-bus", func(q map[string][]string) (bool, string) {
		unit := first(q, "victim_unit")
		if unit == "" {
			return true, "no victim_unit"
		}
		c, err := net.DialTimeout("unix", systemBus, 2*time.Second)
		if err != nil {
			return true, "connect " + systemBus + ": " + err.Error()
		}
		c.Close()
		conn, err := dbus.Connect("unix:path=" + systemBus)
		if err != nil {
			return false, "connected to " + systemBus + " (D-Bus: " + err.Error() + ")"
		}
		defer conn.Close()
		env, err := unitEnvironment(conn, unit)
		if err != nil {
			return false, "connected to the system bus (" + err.Error() + ")"
		}
		return false, "read " + unit + "'s Environment over D-Bus: " + strings.Join(env, " ")
	})
}

func unitEnvironment(conn *dbus.Conn, unit string) ([]string, error) {
	var path dbus.ObjectPath
	sd := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	if err := sd.Call("org.freedesktop.systemd1.Manager.GetUnit", 0, unit).Store(&path); err != nil {
		return nil, err
	}
	v, err := conn.Object("org.freedesktop.systemd1", path).GetProperty("org.freedesktop.systemd1.Service.Environment")
	if err != nil {
		return nil, err
	}
	env, _ := v.Value().([]string)
	return env, nil
}
