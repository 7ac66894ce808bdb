package portguard

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/tenement/tenement/errdefs"
)

// ErrNoCgroup2 is why a guard cannot run: the process is in no cgroup v2
// hierarchy (a pure cgroup v1 host), and cgroup BPF programs need one.
var ErrNoCgroup2 = fmt.Errorf("%w: no cgroup v2 hierarchy is mounted (a cgroup BPF program needs one: boot with a unified or hybrid cgroup layout)", errdefs.ErrUnavailable)

// ownCgroup returns the process's cgroup v2 path (the "0::" line of
// /proc/self/cgroup), e.g. "/tenement.slice/tenement-notes.slice/tenement@notes-alice.service".
func ownCgroup(procSelfCgroup io.Reader) (string, error) {
	sc := bufio.NewScanner(procSelfCgroup)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok && strings.HasPrefix(p, "/") {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNoCgroup2
}

// cgroupDir returns the directory of cgroup v2 path cg: under the first
// cgroup2 mount in mountinfo (/proc/self/mountinfo's format) whose root
// contains it (/sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on
// a hybrid one, wherever it is mounted).
func cgroupDir(mountinfo io.Reader, cg string) (string, error) {
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		root, point, fstype, ok := parseMount(sc.Text())
		if !ok || fstype != "cgroup2" {
			continue
		}
		if rel, ok := within(root, cg); ok {
			return path.Join(point, rel), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNoCgroup2
}

// parseMount reads one mountinfo line: "ID PARENT MAJ:MIN ROOT POINT OPTS
// [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS".
func parseMount(line string) (root, point, fstype string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 7 {
		return "", "", "", false
	}
	for i := 6; i < len(f)-1; i++ {
		if f[i] == "-" {
			return unescape(f[3]), unescape(f[4]), f[i+1], true
		}
	}
	return "", "", "", false
}

// within returns p relative to root when p is root or below it.
func within(root, p string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
