package isolation

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/tenement/tenement/errdefs"
)

// DynamicUserSocket is systemd's varlink service for the dynamic users it
// allocated (DynamicUser=yes).
const DynamicUserSocket = "/run/systemd/userdb/io.systemd.DynamicUser"

// User is a user record's identity.
type User struct {
	Name string
	UID  int
	GID  int
}

// varlinkCall is a varlink method call (one JSON object, then a NUL).
type varlinkCall struct {
	Method     string `json:"method"`
	Parameters any    `json:"parameters"`
}

// varlinkReply is a varlink reply; Error is set when the call failed.
type varlinkReply struct {
	Error      string `json:"error"`
	Parameters struct {
		Record *struct {
			UserName string `json:"userName"`
			UID      *int   `json:"uid"`
			GID      *int   `json:"gid"`
		} `json:"record"`
	} `json:"parameters"`
}

// LookupUser asks the userdb varlink service at socket
// (io.systemd.UserDatabase.GetUserRecord) for the user called name.
func LookupUser(ctx context.Context, socket, name string) (User, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return User{}, fmt.Errorf("%w: look up user %s: %w", errdefs.ErrUnavailable, name, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	call, err := json.Marshal(varlinkCall{
		Method: "io.systemd.UserDatabase.GetUserRecord",
		Parameters: map[string]string{
			"userName": name,
			"service":  "io.systemd.DynamicUser",
		},
	})
	if err != nil {
		return User{}, err
	}
	if _, err := c.Write(append(call, 0)); err != nil {
		return User{}, fmt.Errorf("%w: look up user %s: %w", errdefs.ErrUnavailable, name, err)
	}
	msg, err := bufio.NewReader(c).ReadBytes(0)
	if err != nil {
		return User{}, fmt.Errorf("%w: look up user %s: reading the reply: %w", errdefs.ErrUnavailable, name, err)
	}
	return parseUserReply(name, msg[:len(msg)-1])
}

// parseUserReply reads a GetUserRecord reply.
func parseUserReply(name string, msg []byte) (User, error) {
	var r varlinkReply
	if err := json.Unmarshal(msg, &r); err != nil {
		return User{}, fmt.Errorf("%w: look up user %s: bad reply: %w", errdefs.ErrUnavailable, name, err)
	}
	if r.Error != "" {
		if r.Error == "io.systemd.UserDatabase.NoRecordFound" {
			return User{}, fmt.Errorf("%w: user %s: no such dynamic user", errdefs.ErrNotFound, name)
		}
		return User{}, fmt.Errorf("%w: look up user %s: %s", errdefs.ErrUnavailable, name, r.Error)
	}
	rec := r.Parameters.Record
	if rec == nil || rec.UID == nil || rec.UserName != name {
		return User{}, fmt.Errorf("%w: look up user %s: the reply has no record of it", errdefs.ErrUnavailable, name)
	}
	u := User{Name: name, UID: *rec.UID, GID: *rec.UID}
	if rec.GID != nil {
		u.GID = *rec.GID
	}
	if u.UID <= 0 || u.GID <= 0 {
		return User{}, fmt.Errorf("%w: user %s: uid %d gid %d is privileged", errdefs.ErrInvalid, name, u.UID, u.GID)
	}
	return u, nil
}
