package dbusapi

import (
	"context"
	"errors"
	"os"
	"strconv"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// link is one generation's connection: go-systemd's, and the handler of
// the godbus connection on which it receives signals.
type link struct {
	sd  *sd.Conn
	sig *sigHandler
}

// dialer returns the function that dials systemd for bus (see
// Options.Bus). It builds go-systemd's connection from godbus connections
// of its own, dialled as go-systemd's NewSystemdConnectionContext and
// NewSystemConnectionContext do, with two additions: a signal handler that
// decodes unit signals for Watch, and an interceptor that counts calls.
// Watch thus needs no connection of its own.
func dialer(bus string, cc *callCounter) func(ctx context.Context) (*link, error) {
	private := bus == "private"
	if bus == "" && os.Geteuid() == 0 && os.Getenv("DBUS_SYSTEM_BUS_ADDRESS") == "" {
		if _, err := os.Stat(privateSocket); err == nil {
			private = true
		}
	}
	return func(ctx context.Context) (*link, error) {
		var handlers []*sigHandler
		sc, err := sd.NewConnection(func() (*godbus.Conn, error) {
			h := newSigHandler()
			h.private = private
			conn, err := dialBus(ctx, private, h, cc)
			if err != nil {
				return nil, err
			}
			h.conn = conn
			handlers = append(handlers, h)
			return conn, nil
		})
		if err != nil {
			return nil, err
		}
		var sig *sigHandler
		for _, h := range handlers {
			if h.listened.Load() {
				if sig != nil {
					sig = nil
					break
				}
				sig = h
			}
		}
		if sig == nil {
			sc.Close()
			return nil, errors.New("cannot tell which of go-systemd's connections receives its signals")
		}
		return &link{sd: sc, sig: sig}, nil
	}
}

// dialBus opens one authenticated godbus connection.
func dialBus(ctx context.Context, private bool, h *sigHandler, cc *callCounter) (*godbus.Conn, error) {
	opts := []godbus.ConnOption{
		godbus.WithContext(ctx),
		godbus.WithSignalHandler(h),
		godbus.WithOutgoingInterceptor(cc.intercept),
	}
	var conn *godbus.Conn
	var err error
	if private {
		conn, err = godbus.Dial("unix:path="+privateSocket, opts...)
	} else {
		conn, err = godbus.SystemBusPrivate(opts...)
	}
	if err != nil {
		return nil, err
	}
	// EXTERNAL with the uid, not the user name: no user database lookup.
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if !private { // systemd's own socket is peer to peer: no Hello
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}
