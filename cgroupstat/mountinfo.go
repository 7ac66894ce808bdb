package cgroupstat

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// hierarchies are where the cgroup hierarchies the Reader uses are
// mounted, as /proc/self/mountinfo says.
type hierarchies struct {
	unified string            // the cgroup2 hierarchy; "" when none is mounted
	v1      map[string]string // a cgroup v1 hierarchy by controller ("memory", "pids", "cpuacct", "name=systemd")
}

// parseMountinfo finds the cgroup hierarchies in a mountinfo file (see
// proc(5)): "36 35 98:0 /root /mount/point rw,opts optional... - fstype
// source superopts". A cgroup v1 hierarchy names its controllers in the
// super options ("rw,cpu,cpuacct"), cgroup2 has one hierarchy. Only mounts
// of a hierarchy's root ("/") are used, since a unit's cgroup path is
// relative to it; the first such mount of each wins.
func parseMountinfo(r io.Reader) (hierarchies, error) {
	h := hierarchies{v1: map[string]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) == 0 {
			continue
		}
		if sep < 0 || sep+3 >= len(f) {
			return hierarchies{}, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		root, point := unescapeMount(f[3]), unescapeMount(f[4])
		fstype, super := f[sep+1], f[sep+3]
		if root != "/" {
			continue
		}
		switch fstype {
		case "cgroup2":
			if h.unified == "" {
				h.unified = point
			}
		case "cgroup":
			for _, o := range strings.Split(super, ",") {
				switch {
				case o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") || o == "noprefix" || o == "clone_children" || o == "xattr":
				case h.v1[o] == "":
					h.v1[o] = point
				}
			}
		}
	}
	return h, sc.Err()
}

// unescapeMount undoes the octal escapes of mountinfo's path fields
// ("\040" for a space, "\011", "\012", "\134").
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
