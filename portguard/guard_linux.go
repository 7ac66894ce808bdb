package portguard

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/tenement/tenement/errdefs"
)

// allowMulti is BPF_F_ALLOW_MULTI: the program joins others on the cgroup
// (systemd's own, for IPAddressDeny= and accounting) and applies to
// descendant cgroups too.
const allowMulti = 2

// Guard attaches rule r to the calling process's own cgroup v2, which it
// finds in /proc/self/cgroup under the cgroup2 mount. It is what the
// unit's ExecStartPre=+ runs; it needs root (CAP_SYS_ADMIN, or CAP_BPF and
// CAP_NET_ADMIN). It returns the cgroup's directory.
func Guard(r Rule) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	ephemeral, err1 := os.ReadFile(EphemeralFile)
	reserved, err2 := os.ReadFile(ReservedFile)
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("%w: port guard: %w", errdefs.ErrUnavailable, err)
	}
	if err := checkEphemeral(r, string(ephemeral), string(reserved)); err != nil {
		return "", err
	}
	dir, err := OwnCgroupDir()
	if err != nil {
		return "", err
	}
	return dir, Attach(dir, r)
}

// OwnCgroupDir returns the directory of the calling process's cgroup v2.
func OwnCgroupDir() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("%w: port guard: %w", errdefs.ErrUnavailable, err)
	}
	defer f.Close()
	cg, err := ownCgroup(f)
	if err != nil {
		return "", err
	}
	m, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("%w: port guard: %w", errdefs.ErrUnavailable, err)
	}
	defer m.Close()
	return cgroupDir(m, cg)
}

// Attach loads rule r's programs and attaches them to the cgroup v2 at
// dir. Guards that an earlier run attached there (systemd keeps a unit's
// cgroup across a crash restart) are detached once the new ones hold, so
// the cgroup is never unguarded and guards do not pile up.
func Attach(dir string, r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	cg, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("%w: port guard: %w", errdefs.ErrUnavailable, err)
	}
	defer cg.Close()
	for _, at := range AttachTypes {
		if err := attachOne(int(cg.Fd()), at, r); err != nil {
			return fmt.Errorf("%w: port guard on %s (%s): %w", errdefs.ErrUnavailable, dir, at, err)
		}
	}
	return nil
}

func attachOne(cg int, at ebpf.AttachType, r Rule) error {
	old, err := guards(cg, at)
	if err != nil {
		return err
	}
	defer closeAll(old)
	p, err := ebpf.NewProgram(Spec(r, at))
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer p.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: cg, Program: p, Attach: at, Flags: allowMulti}); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	for _, o := range old {
		if err := link.RawDetachProgram(link.RawDetachProgramOptions{Target: cg, Program: o, Attach: at}); err != nil {
			return fmt.Errorf("detach an earlier guard: %w", err)
		}
	}
	return nil
}

// guards returns the guard programs attached to the cgroup itself (not
// inherited) at at.
func guards(cg int, at ebpf.AttachType) ([]*ebpf.Program, error) {
	q, err := link.QueryPrograms(link.QueryOptions{Target: cg, Attach: at})
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	var out []*ebpf.Program
	for _, ap := range q.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := p.Info()
		if err != nil || info.Name != ProgramName {
			p.Close()
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func closeAll(ps []*ebpf.Program) {
	for _, p := range ps {
		p.Close()
	}
}
