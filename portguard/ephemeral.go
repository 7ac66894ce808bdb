package portguard

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tenement/tenement/errdefs"
)

// Sysctl files that say which ports the kernel picks for a socket that
// listens or connects without bind() (bind hooks never see those).
const (
	EphemeralFile = "/proc/sys/net/ipv4/ip_local_port_range"
	ReservedFile  = "/proc/sys/net/ipv4/ip_local_reserved_ports"
)

// checkEphemeral fails when the kernel may hand a port of r's range to a
// socket that never called bind(): a port of the ephemeral range
// (ephemeral, "LOW HIGH") that is not reserved (reserved, "A,B-C,..."). A
// tenant holding many such sockets could otherwise collect a sleeping
// neighbour's port.
func checkEphemeral(r Rule, ephemeral, reserved string) error {
	f := strings.Fields(ephemeral)
	if len(f) != 2 {
		return fmt.Errorf("%w: %s: %q: want two ports", errdefs.ErrInvalid, EphemeralFile, ephemeral)
	}
	elo, err1 := strconv.Atoi(f[0])
	ehi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("%w: %s: %q: want two ports", errdefs.ErrInvalid, EphemeralFile, ephemeral)
	}
	res, err := parseRanges(reserved)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errdefs.ErrInvalid, ReservedFile, err)
	}
	p, ok := firstFree(max(r.Low, elo), min(r.High, ehi), res)
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: tenant ports %d-%d overlap the kernel's ephemeral ports %d-%d (net.ipv4.ip_local_port_range), e.g. %d: "+
		"a tenant could be given a neighbour's port without bind(); reserve them (sysctl net.ipv4.ip_local_reserved_ports=%d-%d) or move settings.port_range",
		errdefs.ErrUnavailable, r.Low, r.High, elo, ehi, p, r.Low, r.High)
}

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi int }

// parseRanges parses the kernel's list of port ranges: "", "8080" or
// "8080,20000-29999".
func parseRanges(s string) ([]portRange, error) {
	var out []portRange
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		a, b, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("%q: not a port or range of ports", part)
		}
		out = append(out, portRange{lo, hi})
	}
	slices.SortFunc(out, func(x, y portRange) int { return x.lo - y.lo })
	return out, nil
}

// firstFree returns the first port of [lo, hi] in none of the sorted
// ranges.
func firstFree(lo, hi int, ranges []portRange) (int, bool) {
	p := lo
	for _, r := range ranges {
		if p > hi {
			break
		}
		if r.hi < p {
			continue
		}
		if r.lo > p {
			return p, true
		}
		p = r.hi + 1
	}
	return p, p <= hi
}
