package portguard

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestRuleAllows(t *testing.T) {
	r := Rule{Low: 20000, High: 29999, Own: 20001}
	tests := []struct {
		port int
		want bool
	}{
		{0, true}, // an ephemeral port
		{80, true},
		{19999, true},
		{20000, false},
		{20001, true},
		{20002, false},
		{29999, false},
		{30000, true},
		{40000, true},
	}
	for _, tt := range tests {
		if got := r.Allows(tt.port); got != tt.want {
			t.Errorf("%v allows %d: %t, want %t", r, tt.port, got, tt.want)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		name string
		r    Rule
		want error
	}{
		{"ok", Rule{20000, 29999, 20001}, nil},
		{"own outside the range", Rule{20000, 29999, 8080}, nil},
		{"one port", Rule{20000, 20000, 20000}, nil},
		{"reversed", Rule{29999, 20000, 20001}, errdefs.ErrInvalid},
		{"zero low", Rule{0, 20000, 1}, errdefs.ErrInvalid},
		{"high too high", Rule{1, 70000, 1}, errdefs.ErrInvalid},
		{"no own port", Rule{20000, 29999, 0}, errdefs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.r.Validate(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestInstructionsCarryTheRule(t *testing.T) {
	insns := Instructions(Rule{Low: 20000, High: 29999, Own: 20001})
	if len(insns) != 9 {
		t.Fatalf("%d instructions, want 9:\n%v", len(insns), insns)
	}
	listing := insns.String()
	for _, want := range []string{"LdXMemW dst: r2 src: r1 off: 24", "imm: 20000", "imm: 29999", "imm: 20001"} {
		if !strings.Contains(listing, want) {
			t.Errorf("program lacks %q:\n%s", want, listing)
		}
	}
}

func TestOwnCgroup(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"unified", "0::/tenement.slice/tenement@a-b.service\n", "/tenement.slice/tenement@a-b.service", nil},
		{"hybrid", "12:pids:/x\n1:name=systemd:/system.slice/y.service\n0::/system.slice/y.service\n", "/system.slice/y.service", nil},
		{"v1 only", "12:pids:/x\n1:name=systemd:/system.slice/y.service\n", "", ErrNoCgroup2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ownCgroup(strings.NewReader(tt.in))
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("ownCgroup = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCgroupDir(t *testing.T) {
	const (
		v1      = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:5 - cgroup cgroup rw,cpu\n"
		hybrid  = "40 31 0:38 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
		unified = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw\n"
		nsRoot  = "50 23 0:26 /outer /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n"
	)
	tests := []struct {
		name, mountinfo, cg, want string
		err                       error
	}{
		{"hybrid", v1 + hybrid, "/a.slice/b.service", "/sys/fs/cgroup/unified/a.slice/b.service", nil},
		{"unified", unified, "/a.slice/b.service", "/sys/fs/cgroup/a.slice/b.service", nil},
		{"mounted below its root", nsRoot, "/outer/b.service", "/mnt/cg two/b.service", nil},
		{"outside the mount's root", nsRoot, "/other/b.service", "", ErrNoCgroup2},
		{"no cgroup2", v1, "/a.slice/b.service", "", ErrNoCgroup2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cgroupDir(strings.NewReader(tt.mountinfo), tt.cg)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("cgroupDir = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCheckEphemeral(t *testing.T) {
	r := Rule{Low: 30000, High: 40000, Own: 30001}
	tests := []struct {
		name, ephemeral, reserved string
		rule                      Rule
		want                      string // "" for no error, else a part of it
	}{
		{"default ranges apart", "32768\t60999\n", "\n", Rule{20000, 29999, 20001}, ""},
		{"overlap", "32768\t60999\n", "\n", r, "e.g. 32768"},
		{"overlap reserved", "32768\t60999\n", "30000-40000\n", r, ""},
		{"overlap reserved in pieces", "32768\t60999\n", "8080,32768-35000,35001-40000\n", r, ""},
		{"a hole in the reserved ports", "32768\t60999\n", "32768-35000,35002-40000\n", r, "e.g. 35001"},
		{"ephemeral inside the range", "35000 36000", "", r, "e.g. 35000"},
		{"bad range file", "32768", "", r, "want two ports"},
		{"bad reserved file", "32768 60999", "x-y", r, "not a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkEphemeral(tt.rule, tt.ephemeral, tt.reserved)
			if tt.want == "" {
				if err != nil {
					t.Errorf("checkEphemeral: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkEphemeral = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
