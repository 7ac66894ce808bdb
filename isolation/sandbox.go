package isolation

import (
	"encoding/json"
	"path/filepath"
)

// The gVisor runtime the sandbox level runs: the static runsc build that
// scripts/deps installs (see docs/isolation.md for why this one).
const (
	// RunscVersion is the pinned gvisor.dev/gvisor module version.
	RunscVersion = "v0.0.0-20260905035102-160fafc42237"
	// RunscPlatform is how the sentry intercepts the app's system calls.
	RunscPlatform = "systrap"
)

// sandboxDir holds the bundle and runsc's state, in the unit's private
// /tmp (PrivateTmp=yes): no other unit sees it and systemd removes it when
// the unit stops.
const sandboxDir = "/tmp/tenement-sandbox"

// OCI runtime spec, only the fields the sandbox uses.
type (
	ociSpec struct {
		Version  string     `json:"ociVersion"`
		Process  ociProcess `json:"process"`
		Root     ociRoot    `json:"root"`
		Hostname string     `json:"hostname"`
		Mounts   []ociMount `json:"mounts"`
		Linux    ociLinux   `json:"linux"`
	}
	ociProcess struct {
		Terminal        bool     `json:"terminal"`
		User            ociUser  `json:"user"`
		Args            []string `json:"args"`
		Env             []string `json:"env"`
		Cwd             string   `json:"cwd"`
		NoNewPrivileges bool     `json:"noNewPrivileges"`
	}
	ociUser struct {
		UID int `json:"uid"`
		GID int `json:"gid"`
	}
	ociRoot struct {
		Path     string `json:"path"`
		Readonly bool   `json:"readonly"`
	}
	ociMount struct {
		Destination string   `json:"destination"`
		Type        string   `json:"type"`
		Source      string   `json:"source"`
		Options     []string `json:"options,omitempty"`
	}
	ociLinux struct {
		Namespaces []ociNamespace `json:"namespaces"`
	}
	ociNamespace struct {
		Type string `json:"type"`
	}
)

// sandboxEnv are variables of the unit that mean nothing inside gVisor.
var sandboxEnv = []string{"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "MAINPID"}

// BundleSpec returns the OCI config.json of an instance's sandbox: the
// unit's own view of the file system (already read-only, with the data
// root hidden but for the instance's dir) as a read-only root, fresh
// /proc, /dev, /sys, /tmp and /run, the data dir bound read-write at its
// own path, and the unit's credentials ($CREDENTIALS_DIRECTORY) read-only. The app runs as the instance's user with no capabilities;
// there is no network namespace, so with runsc --network=host the app
// listens on the unit's network.
func BundleSpec(o Options, u User, env []string, cwd string) ([]byte, error) {
	if cwd == "" || !filepath.IsAbs(cwd) {
		cwd = "/"
	}
	spec := ociSpec{
		Version: "1.0.2",
		Process: ociProcess{
			User:            ociUser{UID: u.UID, GID: u.GID},
			Args:            o.Argv,
			Env:             envWithout(env, sandboxEnv...),
			Cwd:             cwd,
			NoNewPrivileges: true,
		},
		Root:     ociRoot{Path: "/", Readonly: true},
		Hostname: o.ID,
		Mounts: []ociMount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			{Destination: "/var/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}},
			{Destination: o.DataDir, Type: "bind", Source: o.DataDir, Options: []string{"rbind", "rw", "nosuid", "nodev"}},
		},
		Linux: ociLinux{Namespaces: []ociNamespace{{"pid"}, {"ipc"}, {"uts"}, {"mount"}}},
	}
	if creds := getenv(env, "CREDENTIALS_DIRECTORY"); filepath.IsAbs(creds) {
		// The unit's credentials (LoadCredential=), under the fresh
		// /run: read-only, at the path the app's environment names.
		spec.Mounts = append(spec.Mounts, ociMount{Destination: creds, Type: "bind", Source: creds,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return json.MarshalIndent(spec, "", "  ")
}

// RunscArgs returns runsc's command line for the bundle in dir: its state
// in dir too, the unit's cgroup left alone (--ignore-cgroups: systemd's
// limits and kill apply to the whole sandbox), the unit's network, no
// overlay on the root (it is read-only, like the namespace level's), and
// the sandbox process's pid in dir/sandbox.pid (signals for the app go to
// it: it passes them on to the app).
func RunscArgs(runsc, dir, id string) []string {
	return []string{
		runsc,
		"--root=" + filepath.Join(dir, "state"),
		"--platform=" + RunscPlatform,
		"--network=host",
		"--ignore-cgroups",
		"--overlay2=none",
		"run", "--bundle", filepath.Join(dir, "bundle"), "--pid-file", filepath.Join(dir, "sandbox.pid"), id,
	}
}
