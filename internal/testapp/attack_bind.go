package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Port takeover: a tenant binds another tenant's port so that the victim's
// traffic reaches it (docs/isolation.md, "Ports").

func init() {
	// bind-loop binds the victim's port (victim_port) every millisecond
	// for `for` (default 1s), on 127.0.0.1 and on [::] (which takes
	// 127.0.0.1 too), as TCP and as MPTCP, with SO_REUSEADDR and
	// SO_REUSEPORT set: while the victim sleeps, wakes or restarts after a
	// crash, a bind that works takes its port. A listener it gets serves
	// this app's own pages, so the victim's requests and readiness checks
	// would be answered by the attacker; it stays until the loop ends, and
	// that target is not tried again.
	register("bind-loop", func(q map[string][]string) (bool, string) {
		port, err := strconv.Atoi(first(q, "victim_port"))
		if err != nil || port <= 0 {
			return true, "no victim_port"
		}
		d, err := time.ParseDuration(first(q, "for"))
		if err != nil {
			d = time.Second
		}
		return bindLoop(port, d)
	})
	// bind-other binds every port of the tenant range (port_range,
	// "LOW-HIGH") but the attacker's own, on both families: each must
	// fail with EPERM (the port guard, not a port in use). Blocked means
	// the guard did exactly that, and let through what it must: the
	// attacker's own port (on 127.0.0.2, beside its own listener on
	// 127.0.0.1) and an ephemeral port (port 0).
	register("bind-other", func(q map[string][]string) (bool, string) {
		lo, hi, ok := parseRange(first(q, "port_range"))
		own, err := strconv.Atoi(os.Getenv("PORT"))
		if !ok || err != nil {
			return true, "no port_range or $PORT"
		}
		return bindOther(lo, hi, own)
	})
}

// bindTarget is one way to bind a port.
type bindTarget struct {
	name   string
	family int
	proto  int // 0: TCP; ipprotoMPTCP
	addr   [16]byte
}

const ipprotoMPTCP = 262

var bindTargets = []bindTarget{
	{"tcp 127.0.0.1", syscall.AF_INET, 0, [16]byte{127, 0, 0, 1}},
	{"tcp [::]", syscall.AF_INET6, 0, [16]byte{}},
	{"mptcp 127.0.0.1", syscall.AF_INET, ipprotoMPTCP, [16]byte{127, 0, 0, 1}},
}

func bindLoop(port int, d time.Duration) (bool, string) {
	errs := map[string]int{}
	var stolen []string
	tries := 0
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	took := map[string]bool{}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Millisecond) {
		for _, t := range bindTargets {
			if took[t.name] {
				continue // one stolen listener per target is enough
			}
			tries++
			fd, err := bindPort(t, port, true)
			if err != nil {
				errs[t.name+": "+errText(err)]++
				continue
			}
			l, err := listenFD(fd)
			if err != nil {
				errs[t.name+": listen: "+errText(err)]++
				continue
			}
			held = append(held, l)
			took[t.name] = true
			go http.Serve(l, routes()) // the victim's traffic, answered as us
			stolen = append(stolen, fmt.Sprintf("%s:%d after %d tries", t.name, port, tries))
		}
	}
	detail := fmt.Sprintf("%d binds of port %d in %v; failures: %s", tries, port, d, summary(errs))
	if len(stolen) > 0 {
		return false, "took " + strings.Join(stolen, ", ") + "; " + detail
	}
	return true, detail
}

func bindOther(lo, hi, own int) (bool, string) {
	var wrong []string
	refused := 0
	for p := lo; p <= hi; p++ {
		if p == own {
			continue
		}
		for _, t := range bindTargets[:2] {
			fd, err := bindPort(t, p, false)
			if err == nil {
				syscall.Close(fd)
			}
			switch {
			case errors.Is(err, syscall.EPERM):
				refused++
			case len(wrong) < 10:
				wrong = append(wrong, fmt.Sprintf("%s:%d: %s", t.name, p, errText(err)))
			}
		}
	}
	for _, c := range []struct {
		what string
		t    bindTarget
		port int
	}{
		{"own port", bindTarget{"tcp 127.0.0.2", syscall.AF_INET, 0, [16]byte{127, 0, 0, 2}}, own},
		{"ephemeral port", bindTargets[0], 0},
		{"ephemeral port", bindTargets[1], 0},
	} {
		fd, err := bindPort(c.t, c.port, false)
		if err != nil {
			wrong = append(wrong, fmt.Sprintf("%s (%s:%d) refused: %s", c.what, c.t.name, c.port, errText(err)))
			continue
		}
		syscall.Close(fd)
	}
	detail := fmt.Sprintf("%d binds in %d-%d refused with EPERM", refused, lo, hi)
	if len(wrong) > 0 {
		return false, detail + "; but " + strings.Join(wrong, "; ")
	}
	return true, detail + "; own port and ephemeral ports bound"
}

// bindPort makes a socket and binds it; reuse sets SO_REUSEADDR and
// SO_REUSEPORT (which let a second socket share a port its owner did not
// close, or one in TIME_WAIT).
func bindPort(t bindTarget, port int, reuse bool) (int, error) {
	fd, err := syscall.Socket(t.family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, t.proto)
	if err != nil {
		return -1, err
	}
	if reuse {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
	}
	var sa syscall.Sockaddr
	if t.family == syscall.AF_INET {
		sa = &syscall.SockaddrInet4{Port: port, Addr: [4]byte(t.addr[:4])}
	} else {
		sa = &syscall.SockaddrInet6{Port: port, Addr: t.addr}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// listenFD listens on a bound socket and makes a net.Listener of it.
func listenFD(fd int) (net.Listener, error) {
	if err := syscall.Listen(fd, 128); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "stolen")
	defer f.Close()
	return net.FileListener(f)
}

func errText(err error) string {
	if err == nil {
		return "bound"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// summary renders counts of outcomes, most frequent first.
func summary(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, counts[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func parseRange(s string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return lo, hi, found && err1 == nil && err2 == nil && lo > 0 && lo <= hi
}
