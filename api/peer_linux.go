package api

import (
	"context"
	"net"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// Peer is the credentials of the process at the other end of a unix socket
// connection, from SO_PEERCRED.
type Peer struct {
	UID, GID uint32
	PID      int32
}

type peerKey struct{}

// ConnContext records the peer credentials of unix socket connections; use
// it as http.Server.ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid})
}

// PeerFrom returns the peer of a request that came over the unix socket.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// localAdmin reports whether a local peer is an admin: root, or a member of
// the group (by primary or supplementary group).
func localAdmin(p Peer, group string) bool {
	if p.UID == 0 {
		return true
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return false
	}
	if strconv.Itoa(int(p.GID)) == g.Gid {
		return true
	}
	u, err := user.LookupId(strconv.Itoa(int(p.UID)))
	if err != nil {
		return false
	}
	gids, err := u.GroupIds()
	if err != nil {
		return false
	}
	for _, gid := range gids {
		if gid == g.Gid {
			return true
		}
	}
	return false
}
