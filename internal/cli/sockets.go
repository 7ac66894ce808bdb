package cli

import (
	"context"
	"os/exec"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
)

// socketUnit is the packaged socket unit whose TCP sockets the daemon
// uses under systemd.
const socketUnit = "tenement.socket"

// socketAddrs returns the TCP addresses tenement.socket listens on, as
// systemctl shows them; none when systemctl is missing, systemd does not
// answer, or the unit is not installed (a daemon started by hand binds
// what the config says).
func socketAddrs(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", "show", "--property=LoadState", "--property=Listen", socketUnit).Output()
	if err != nil || !strings.Contains(string(out), "LoadState=loaded") {
		return nil
	}
	return config.ParseSystemdListen(string(out))
}
