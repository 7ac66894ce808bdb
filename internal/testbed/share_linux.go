//go:build linux

package testbed

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// makeShare creates the run's share dir StateRoot/NAME.share with tmp/ inside, records this
// process as its owner (so that cleanup-stale can remove it if we die before the manager is
// up) and copies the test binary into it. It returns the path of the copy.
func (l *launcher) makeShare() (string, error) {
	if err := os.MkdirAll(StateRoot, 0o755); err != nil {
		return "", err
	}
	l.share = filepath.Join(StateRoot, l.name+".share")
	// cleanup-stale takes this lock exclusively: it never sees the dir without its owner record
	root, err := os.Open(StateRoot)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if err := syscall.Flock(int(root.Fd()), syscall.LOCK_SH); err != nil {
		return "", fmt.Errorf("lock %s: %w", StateRoot, err)
	}
	err = os.Mkdir(l.share, 0o755)
	if err == nil {
		var st string
		if st, err = procStartTime(os.Getpid()); err == nil {
			err = os.WriteFile(filepath.Join(l.share, ".testbed-owner"), fmt.Appendf(nil, "%d %s\n", os.Getpid(), st), 0o644)
		}
	}
	_ = syscall.Flock(int(root.Fd()), syscall.LOCK_UN)
	if err != nil {
		return "", fmt.Errorf("share dir: %w", err)
	}
	bin, err := l.fillShare()
	if err != nil {
		_ = os.RemoveAll(l.share)
		return "", fmt.Errorf("share dir: %w", err)
	}
	return bin, nil
}

func (l *launcher) fillShare() (string, error) {
	tmp := filepath.Join(l.share, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o1777); err != nil { // like /tmp: dynamic users may use it too
		return "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(l.share, filepath.Base(exe))
	return bin, copyFile(bin, exe)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// procStartTime returns field 22 of /proc/PID/stat (start time in clock ticks since boot),
// which, with the pid, identifies a process even when pids are reused.
func procStartTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // comm may contain spaces and parentheses
	if i < 0 {
		return "", fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return "", fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return f[19], nil
}

// shares lists the host dirs the manager must see at the same path: the share dir, the Go
// module (found from the working directory; golden files and examples stay writable), and
// the directories of path-valued test flags (go test's -test.testlogfile, profiles, ...).
func (l *launcher) shares() []string {
	dirs := []string{l.share, ModuleRoot(l.cwd)}
	dirs = append(dirs, flagDirs(os.Args[1:], l.cwd)...)
	if d := os.Getenv("GOCOVERDIR"); d != "" && filepath.IsAbs(d) {
		dirs = append(dirs, d)
	}
	return minimalDirs(dirs)
}

// ModuleRoot walks up from dir to the directory holding go.mod; without one it returns dir.
// Test setup functions use it to build the project's binaries.
func ModuleRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

// pathFlags are the test flags naming files (their directory is shared) or directories.
var pathFlags = map[string]bool{
	"testlogfile": false, "coverprofile": false, "cpuprofile": false, "memprofile": false,
	"blockprofile": false, "mutexprofile": false, "trace": false,
	"outputdir": true, "gocoverdir": true, "fuzzcachedir": true,
}

// flagDirs returns the directories that path-valued test flags refer to. Top-level dirs
// such as /tmp are left out: sharing them would bind far more than intended.
func flagDirs(args []string, cwd string) []string {
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if !strings.HasPrefix(a, "test.") || len(a) == len(args[i]) {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "test."), "=")
		isDir, ok := pathFlags[name]
		if !ok {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				break
			}
			i++
			val = args[i]
		}
		if val == "" {
			continue
		}
		if !filepath.IsAbs(val) {
			val = filepath.Join(cwd, val)
		}
		if !isDir {
			val = filepath.Dir(val)
		}
		if val = filepath.Clean(val); strings.Count(val, "/") >= 2 {
			dirs = append(dirs, val)
		}
	}
	return dirs
}

// minimalDirs drops duplicates, dirs inside other listed dirs, non-directories, / and paths
// with white space (the script's SHARE is space-separated).
func minimalDirs(dirs []string) []string {
	for i := range dirs {
		dirs[i] = filepath.Clean(dirs[i])
	}
	sort.SliceStable(dirs, func(i, j int) bool { return len(dirs[i]) < len(dirs[j]) }) // parents first
	var out []string
next:
	for _, d := range dirs {
		if d == "/" || !filepath.IsAbs(d) || strings.ContainsAny(d, " \t\n\r") {
			continue
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		for _, o := range out {
			if d == o || strings.HasPrefix(d, o+"/") {
				continue next
			}
		}
		out = append(out, d)
	}
	return out
}
