//go:build linux

package testbed

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

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

// cgroupTree is what this process's /sys/fs/cgroup offers.
type cgroupTree struct {
	layout string
	// controllers can be used in the tree: those of the v1 hierarchies mounted there, and
	// those the cgroup2 hierarchy's root lists in cgroup.controllers.
	controllers map[string]bool
	// v1 are the controllers the kernel has bound to a cgroup v1 hierarchy, here or
	// anywhere on the machine (a non-zero hierarchy in /proc/cgroups): a cgroup2 tree
	// cannot have them.
	v1 map[string]bool
}

func readCgroupTree() (cgroupTree, error) {
	t := cgroupTree{layout: cgroupLayout("/"), controllers: map[string]bool{}, v1: map[string]bool{}}
	known := map[string]bool{}
	b, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return t, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l) // subsys_name hierarchy num_cgroups enabled
		if len(f) == 4 && !strings.HasPrefix(f[0], "#") {
			known[f[0]] = true
			t.v1[f[0]] = f[1] != "0"
		}
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return t, err
	}
	defer mi.Close()
	sc := bufio.NewScanner(mi)
	for sc.Scan() {
		f := strings.Fields(sc.Text()) // ... mountpoint(4) ... - fstype source superopts
		sep := len(f)
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep+3 >= len(f) || (f[4] != "/sys/fs/cgroup" && !strings.HasPrefix(f[4], "/sys/fs/cgroup/")) {
			continue
		}
		switch f[sep+1] {
		case "cgroup":
			for _, o := range strings.Split(f[sep+3], ",") {
				if known[o] {
					t.controllers[o] = true
				}
			}
		case "cgroup2":
			c, err := os.ReadFile(filepath.Join(f[4], "cgroup.controllers"))
			if err != nil {
				return t, err
			}
			for _, o := range strings.Fields(string(c)) {
				t.controllers[o] = true
			}
		}
	}
	return t, sc.Err()
}
