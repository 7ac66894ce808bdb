package portguard

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// ProgramName names the guard's programs in the kernel (bpftool prog
// show), and marks them as the guard's when a restarted unit replaces the
// ones its earlier run attached.
const ProgramName = "tenement_guard"

// userPortOffset is the offset of user_port in struct bpf_sock_addr: a
// u32 holding the port in network byte order (in its first two bytes).
const userPortOffset = 24

// Verdicts of a cgroup sock_addr program.
const (
	refuse = 0 // the bind fails with EPERM
	allow  = 1
)

// AttachTypes are the hooks the guard attaches to: bind() on IPv4 and on
// IPv6 sockets (an IPv4-mapped address goes through the IPv6 hook).
var AttachTypes = []ebpf.AttachType{ebpf.AttachCGroupInet4Bind, ebpf.AttachCGroupInet6Bind}

// Instructions returns the program for rule r: nine instructions that
// read the port being bound and allow it unless it is in the range and
// not the instance's own. The rule is compiled into the program as
// constants, so a bind costs no map lookup.
func Instructions(r Rule) asm.Instructions {
	return asm.Instructions{
		// r2 = ctx->user_port, converted to host order (a 16-bit swap
		// on little-endian hosts, which also clears the upper bits).
		asm.LoadMem(asm.R2, asm.R1, userPortOffset, asm.Word),
		asm.HostTo(asm.BE, asm.R2, asm.Half),
		asm.JLT.Imm(asm.R2, int32(r.Low), "allow"),
		asm.JGT.Imm(asm.R2, int32(r.High), "allow"),
		asm.JEq.Imm(asm.R2, int32(r.Own), "allow"),
		asm.Mov.Imm(asm.R0, refuse),
		asm.Return(),
		asm.Mov.Imm(asm.R0, allow).WithSymbol("allow"),
		asm.Return(),
	}
}

// Spec returns the program for rule r at one attach type. It declares no
// license: the kernel asks for one only to allow GPL-only helpers, and the
// program calls no helper at all.
func Spec(r Rule, at ebpf.AttachType) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Name:         ProgramName,
		Type:         ebpf.CGroupSockAddr,
		AttachType:   at,
		Instructions: Instructions(r),
	}
}
