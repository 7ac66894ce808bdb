package units

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/tenement/tenement/store"
)

// Paths of the host that hold other tenants' secrets.
const (
	// ConfigDir is where the packages install the config and the
	// credentials.
	ConfigDir = "/etc/tenement"
	// TransientDir holds every transient unit's file, Environment= and
	// all, readable by every user.
	TransientDir = "/run/systemd/transient"
	// SystemBusDir holds the D-Bus system bus socket, over which any
	// local user can read every unit's Environment=. The directory, not
	// the socket, is hidden: a socket made again (dbus restarted) would
	// slip out from under a mount on the old one, as the kernel detaches
	// a mount whose file is removed.
	SystemBusDir = "/run/dbus"
	// RuntimeUnitDir holds the drop-ins of every instance's commands
	// (dropin.go): other tenants' command lines.
	RuntimeUnitDir = "/run/systemd/system"
)

// sharedDirs are directories never hidden whole: a secret in one of them
// (a config file in /etc) is hidden by itself.
var sharedDirs = []string{
	"/", "/etc", "/run", "/var", "/var/lib", "/var/run", "/var/tmp", "/tmp",
	"/usr", "/usr/local", "/usr/lib", "/usr/share", "/opt", "/srv", "/home", "/root", "/mnt", "/media",
}

// hiddenPaths returns what namespace and sandbox units must not see
// (InaccessiblePaths=; "-": a path that does not exist is no error): the
// daemon's config, the API and front sockets, the store, the credentials
// of every instance, every transient unit's file, and the system bus.
// systemd (PID 1) still reads the unit's own credentials from the host.
//
// A secret's whole directory is hidden when it holds nothing the instance
// needs (its data, workdir or program; a config next to the app and its
// data, as in a development setup, is hidden by itself), so that a file
// replaced by a rename (an editor saving the config, a socket made again
// on restart) does not slip out from under the mount.
func hiddenPaths(s Spec, dataDir, workdir string) []string {
	set := s.Settings
	needed := []string{filepath.Clean(set.DataDir), dataDir, workdir}
	for _, a := range s.Argv {
		if filepath.IsAbs(a) {
			needed = append(needed, filepath.Clean(a))
		}
	}
	h := hider{needed: needed}
	h.dir(ConfigDir)
	if s.ConfigPath != "" {
		h.fileOrDir(s.ConfigPath)
	}
	h.fileOrDir(set.APISocket)
	if network, addr := set.FrontAddr(); network == "unix" {
		h.fileOrDir(addr)
	}
	h.file(filepath.Join(set.DataDir, store.FileName))
	h.dir(set.CredentialsDir)
	h.dir(TransientDir)
	h.dir(RuntimeUnitDir)
	h.dir(SystemBusDir)
	return h.out
}

// hider collects InaccessiblePaths= entries.
type hider struct {
	needed []string // paths the instance must still reach
	hidden []string
	out    []string
}

// fileOrDir hides p's directory when it may be, else p itself.
func (h *hider) fileOrDir(p string) {
	if p = filepath.Clean(p); !h.dir(filepath.Dir(p)) {
		h.file(p)
	}
}

// dir hides directory d unless it is shared or holds a needed path; it
// reports whether d is hidden.
func (h *hider) dir(d string) bool {
	d = filepath.Clean(d)
	if !filepath.IsAbs(d) || slices.Contains(sharedDirs, d) {
		return false
	}
	for _, n := range h.needed {
		if within(d, n) {
			return false
		}
	}
	h.file(d)
	return true
}

// file hides p unless it is hidden already.
func (h *hider) file(p string) {
	p = filepath.Clean(p)
	for _, x := range h.hidden {
		if within(x, p) {
			return
		}
	}
	h.hidden = append(h.hidden, p)
	h.out = append(h.out, "-"+p)
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}
