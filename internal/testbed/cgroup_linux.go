//go:build linux

package testbed

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CgroupLayout is the layout of this process's /sys/fs/cgroup: inside a manager, "unified",
// "hybrid" or "legacy", as systemd saw it at boot (see cgroupLayout).
func CgroupLayout() string { return cgroupLayout("/") }

// cgroupLayout says how root/sys/fs/cgroup is laid out, as systemd finds out at boot: a
// cgroup2 mount there is "unified"; a tmpfs with a cgroup2 mount at unified/ beside the v1
// hierarchies is "hybrid"; v1 alone is "legacy". root is "/" inside, /proc/PID/root from
// the host.
func cgroupLayout(root string) string {
	dir := filepath.Join(root, "sys/fs/cgroup")
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "none"
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "unified"
	}
	if err := unix.Statfs(filepath.Join(dir, "unified"), &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "hybrid"
	}
	return "legacy"
}
