package portguard

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"github.com/tenement/tenement/internal/testbed"
)

// TestMain runs the package's tests inside a fresh systemd manager
// (internal/testbed): the kernel test needs a cgroup v2 hierarchy and
// root, and runs its child as a transient unit there.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(testbed.Main(m, nil))
}

const childEnv = "PORTGUARD_TEST_CHILD"

// The rules the child attaches: first, then again (as a unit restarted by
// systemd does), with another own port.
var (
	firstRule = Rule{Low: 21000, High: 21100, Own: 21010}
	rule      = Rule{Low: 21000, High: 21100, Own: 21050}
)

// bindResult is one bind() the child tried.
type bindResult struct {
	Net  string `json:"net"`
	Port int    `json:"port"`
	Err  string `json:"err"` // "" when the bind worked
}

// childReport is what the child prints.
type childReport struct {
	Dir    string         `json:"dir"`
	Took   []string       `json:"took"`   // each Guard call
	Guards map[string]int `json:"guards"` // attach type -> guards attached
	Binds  []bindResult   `json:"binds"`
}

var probePorts = []int{0, 80, 20999, 21000, 21001, 21010, 21049, 21050, 21051, 21100, 21101, 40000}

// child is the main process of the test's transient unit: it guards its
// own cgroup twice, then tries to bind every probe port.
func child() int {
	var rep childReport
	for _, r := range []Rule{firstRule, rule} {
		t0 := time.Now()
		dir, err := Guard(r)
		rep.Took = append(rep.Took, time.Since(t0).String())
		if err != nil {
			fmt.Println("guard:", err)
			return 1
		}
		rep.Dir = dir
	}
	cg, err := os.Open(rep.Dir)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer cg.Close()
	rep.Guards = map[string]int{}
	for _, at := range AttachTypes {
		q, err := link.QueryPrograms(link.QueryOptions{Target: int(cg.Fd()), Attach: at})
		if err != nil {
			fmt.Println("query:", err)
			return 1
		}
		rep.Guards[at.String()] = len(q.Programs)
	}
	for _, p := range probePorts {
		for _, n := range []string{"tcp4", "tcp6", "udp4", "udp6"} {
			res := bindResult{Net: n, Port: p}
			if err := tryBind(n, p); err != nil {
				res.Err = err.Error()
			}
			rep.Binds = append(rep.Binds, res)
		}
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// tryBind binds a socket of net to port on loopback (tcp6: all addresses)
// and closes it.
func tryBind(net string, port int) error {
	family, typ := syscall.AF_INET, syscall.SOCK_STREAM
	if strings.HasSuffix(net, "6") {
		family = syscall.AF_INET6
	}
	if strings.HasPrefix(net, "udp") {
		typ = syscall.SOCK_DGRAM
	}
	fd, err := syscall.Socket(family, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if family == syscall.AF_INET {
		return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	}
	return syscall.Bind(fd, &syscall.SockaddrInet6{Port: port})
}

// TestGuardInAUnit runs the child as a transient unit of the manager, as
// root: the guard holds even root in its cgroup to the rule, on both
// families and for UDP too, and a second guard replaces the first.
func TestGuardInAUnit(t *testing.T) {
	testbed.Require(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-run", "--wait", "--pipe", "--quiet", "-E", childEnv+"=1",
		"-E", "GORACE=atexit_sleep_ms=0", exe).CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var rep childReport
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("child said %s: %v", out, err)
	}
	if !strings.Contains(rep.Dir, "/run-") || !strings.HasSuffix(rep.Dir, ".service") {
		t.Errorf("guarded %s, want the transient unit's own cgroup", rep.Dir)
	}
	for at, n := range rep.Guards {
		if n != 1 {
			t.Errorf("%s: %d programs attached after two guards, want 1 (the second replaces the first)", at, n)
		}
	}
	for _, b := range rep.Binds {
		want := rule.Allows(b.Port)
		if got := b.Err == ""; got != want {
			t.Errorf("bind %s port %d: err %q, want allowed=%t by %v", b.Net, b.Port, b.Err, want, rule)
		}
		if b.Err != "" && b.Err != syscall.EPERM.Error() {
			t.Errorf("bind %s port %d failed with %q, want EPERM", b.Net, b.Port, b.Err)
		}
	}
	t.Logf("%d binds as %v: %s", len(rep.Binds), rule, strconv.Quote(fmt.Sprint(rep.Guards)))
	t.Logf("measured: Guard took %s (first, then replacing)", strings.Join(rep.Took, ", "))
}
