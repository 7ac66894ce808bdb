package cgroupstat

import "bytes"

// parseUint reads a file holding one decimal number ("20533248\n"),
// without allocating.
func parseUint(b []byte) (uint64, bool) {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false // overflow
		}
		n = n*10 + d
	}
	return n, true
}

// parseUsageUsec reads usage_usec from a cgroup2 cpu.stat
// ("usage_usec 69494\nuser_usec 34747\n...").
func parseUsageUsec(b []byte) (uint64, bool) {
	const key = "usage_usec "
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > len(key) && bytes.HasPrefix(line, []byte(key)) {
			return parseUint(line[len(key):])
		}
	}
	return 0, false
}
