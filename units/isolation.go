package units

import (
	"fmt"
	"path/filepath"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/isolation"
)

// Values of namespace flags and capabilities that the properties below
// take over D-Bus.
const (
	cloneNewNS  = 0x00020000 // CLONE_NEWNS
	cloneNewUTS = 0x04000000 // CLONE_NEWUTS
	cloneNewIPC = 0x08000000 // CLONE_NEWIPC
	cloneNewPID = 0x20000000 // CLONE_NEWPID
	cloneNewNet = 0x40000000 // CLONE_NEWNET

	capChown        = 0
	capDACOverride  = 1
	capDACReadSrch  = 2
	capFowner       = 3
	capFsetID       = 4
	capKill         = 5
	capSetGID       = 6
	capSetUID       = 7
	capSysChroot    = 18
	capSysAdmin     = 21
	errnoEPERM      = 1
	errnoENOSYS     = 38
	noSetUIDFlag    = "no-setuid"
	privilegedFlag  = "privileged"
	dataRootTmpMode = "mode=0755"
)

// isolationProperties returns the properties of the instance's isolation
// level and may wrap exec in the level's wrapper.
func isolationProperties(s Spec, dataDir, workdir string, exec *Exec) ([]Property, error) {
	svc := s.Service
	switch svc.Isolation {
	case config.IsolationProcess:
		var p []Property
		if svc.User != "" {
			p = append(p, Property{"User", svc.User})
		}
		return p, nil
	case config.IsolationNamespace, config.IsolationSandbox:
	default:
		return nil, fmt.Errorf("%w: %s: unknown isolation %q", errdefs.ErrInvalid, s.Instance, svc.Isolation)
	}
	if svc.Isolation == config.IsolationSandbox && svc.Activation == config.ActivationSocket {
		return nil, fmt.Errorf("%w: render %s: isolation = \"sandbox\" cannot use activation = \"socket\"", errdefs.ErrInvalid, s.Instance)
	}
	if svc.Isolation == config.IsolationSandbox && svc.Ready == config.ReadyNotify {
		return nil, fmt.Errorf("%w: render %s: isolation = \"sandbox\" cannot use ready = \"notify\": READY=1 cannot reach systemd from inside gVisor; use ready = \"health\" or \"tcp\"", errdefs.ErrInvalid, s.Instance)
	}
	user := isolation.UserName(s.Instance)
	o := isolation.Options{Mode: svc.Isolation, User: user, DataDir: dataDir, Argv: exec.Argv}
	if svc.Isolation == config.IsolationSandbox {
		o.ID = isolation.ContainerID(s.Instance)
	}
	*exec = Exec{
		Path:  s.Wrapper,
		Argv:  append([]string{s.Wrapper}, o.Args()...),
		Flags: []string{noSetUIDFlag},
	}
	p := sandboxing(user, s.Settings.DataDir, dataDir)
	p = append(p, Property{"InaccessiblePaths", hiddenPaths(s, dataDir, workdir)})
	if svc.Isolation == config.IsolationNamespace {
		p = append(p, syscallFilter()...)
	} else {
		p = append(p, runscFilter()...)
		// runsc does not pass the stop's SIGTERM on; the wrapper does,
		// to gVisor's sandbox process, which gives it to the app. Sent
		// to every process (control-group), it would kill the sandbox
		// before the app could shut down. The final SIGKILL still goes
		// to the whole cgroup.
		p = append(p, Property{"KillMode", "mixed"})
	}
	return p, nil
}

// sandboxing is what systemd does for both levels: an own dynamic user,
// whom the wrapper (started as root by the "!" semantics of ExecStartEx)
// drops to; a read-only system with private /tmp and no devices; and of
// the data root only the instance's own dir.
func sandboxing(user, dataRoot, dataDir string) []Property {
	return []Property{
		{"DynamicUser", true},
		{"User", user},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", true},
		{"PrivateDevices", true},
		{"PrivateIPC", true},
		{"NoNewPrivileges", true},
		{"ProtectKernelTunables", true},
		{"ProtectKernelModules", true},
		{"ProtectKernelLogs", true},
		{"ProtectControlGroups", true},
		{"ProtectClock", true},
		{"RestrictSUIDSGID", true},
		{"RestrictRealtime", true},
		{"LockPersonality", true},
		{"TemporaryFileSystem", []TmpFS{{Path: filepath.Clean(dataRoot), Options: dataRootTmpMode}}},
		{"BindPaths", []BindPath{{Source: dataDir, Destination: dataDir}}},
	}
}

// syscallFilter confines the namespace level's wrapper and app: the
// system calls of ordinary services plus mount (the wrapper mounts /proc
// in its namespace; without CAP_SYS_ADMIN the app cannot), failing others
// with EPERM rather than killing (Node.js probes some); only the mount and
// PID namespaces the wrapper makes; and only the capabilities it needs
// before it drops to the instance's user. gVisor (sandbox) needs more:
// see runscFilter.
func syscallFilter() []Property {
	caps := uint64(1)<<capChown | 1<<capDACOverride | 1<<capDACReadSrch | 1<<capFowner |
		1<<capKill | 1<<capSetGID | 1<<capSetUID | 1<<capSysAdmin
	return []Property{
		{"RestrictNamespaces", uint64(cloneNewNS | cloneNewPID)},
		{"SystemCallArchitectures", []string{"native"}},
		{"SystemCallFilter", NameList{Allow: true, Names: []string{"@system-service", "@mount"}}},
		{"SystemCallErrorNumber", int32(errnoEPERM)},
		{"RestrictAddressFamilies", NameList{Allow: true, Names: []string{"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}}},
		{"CapabilityBoundingSet", caps},
	}
}

// runscFilter confines the sandbox level's wrapper and gVisor's runsc
// (its gofer, its sandbox and the platform's stub processes; the app's
// own system calls go to gVisor's kernel, which has its own filter). Each
// set below is the least that runsc (RunscVersion, systrap) was found to
// work under in the test manager, one item taken away at a time: the
// system calls of ordinary services plus the mounts, root changes and
// seccomp filters runsc sets up, and ptrace (systrap starts its stubs
// with it); the namespaces it makes (the gofer's network namespace
// included, none of user or cgroup); its sockets; and the capabilities
// of gVisor's own gofer (files) plus CAP_SYS_ADMIN (namespaces, mounts).
// Without CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_NET_* or CAP_SYS_PTRACE
// runsc still passes the sandbox tests: it drops what it is not given.
//
// A filtered call fails with ENOSYS, not EPERM: systemd 252 cannot name
// system calls newer than itself (mseal), so an allow-list refuses them,
// and runsc treats ENOSYS as an older kernel but EPERM as a failure.
func runscFilter() []Property {
	caps := uint64(1)<<capChown | 1<<capDACOverride | 1<<capDACReadSrch | 1<<capFowner |
		1<<capFsetID | 1<<capSysChroot | 1<<capSysAdmin
	return []Property{
		{"RestrictNamespaces", uint64(cloneNewNS | cloneNewPID | cloneNewIPC | cloneNewUTS | cloneNewNet)},
		{"SystemCallArchitectures", []string{"native"}},
		{"SystemCallFilter", NameList{Allow: true, Names: []string{"@system-service", "chroot", "mount", "pivot_root", "ptrace", "seccomp", "umount2"}}},
		{"SystemCallErrorNumber", int32(errnoENOSYS)},
		{"RestrictAddressFamilies", NameList{Allow: true, Names: []string{"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}}},
		{"CapabilityBoundingSet", caps},
	}
}
