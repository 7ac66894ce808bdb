package integration

import (
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// isolation = "process" with a user: the app runs as that existing user
// and can enter, read and write its own data dir, which it owns.
func TestProcessIsolationWithUser(t *testing.T) {
	requireTenantUser(t)
	u, err := user.Lookup(tenantUser)
	if err != nil {
		t.Fatal(err)
	}
	d := startIsolated(t, "", `
[service.proc]
command = "{app}"
health = "/health"
isolation = "process"
user = "`+tenantUser+`"
`)
	d.ten("spawn", "proc:alice")
	host := d.instanceHost("proc", "alice")
	w := d.who(host)
	if strconv.Itoa(w.UID) != u.Uid {
		t.Errorf("app runs as uid %d, want %s (%s)", w.UID, u.Uid, tenantUser)
	}
	d.must(host, "/write?name=note&value=kept")
	if got := d.must(host, "/read?name=note"); got != "kept" {
		t.Errorf("read back %q", got)
	}
	fi, err := os.Stat(filepath.Join(d.dataDir, "proc", "alice", "note"))
	if err != nil || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)) != u.Uid {
		t.Errorf("data file: %v, want owner %s", err, u.Uid)
	}
	// The service's dir can be passed, not listed.
	if fi, err := os.Stat(filepath.Join(d.dataDir, "proc")); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("service dir: %v %v, want mode 0711", fi.Mode(), err)
	}
	mustBlock(t, "proc", d.attack(host, "read-files", url.Values{"path": {filepath.Join(d.dataDir, "proc")}}))
}
