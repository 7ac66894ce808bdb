package activation

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func listenTCP(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

func listenUnix(t *testing.T) *net.UnixListener {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.UnixListener)
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

func TestClassify(t *testing.T) {
	httpLn, httpsLn, otherLn, namedLn := listenTCP(t), listenTCP(t), listenTCP(t), listenTCP(t)
	apiLn := listenUnix(t)
	l := &Listeners{inherited: map[string][]net.Listener{
		// One .socket unit: every fd carries the unit's name.
		"tenement.socket": {httpLn, apiLn, httpsLn, otherLn},
		// A socket unit with FileDescriptorName=http keeps its role,
		// whatever its port.
		NameHTTP: {namedLn},
	}}
	l.Classify(Roles{HTTPPort: port(httpLn), HTTPSPort: port(httpsLn), APIPath: apiLn.Addr().String()})

	got := map[string][]string{}
	for name, lns := range l.inherited {
		for _, ln := range lns {
			got[name] = append(got[name], ln.Addr().String())
		}
		sort.Strings(got[name])
	}
	want := map[string][]string{
		NameHTTP:          {httpLn.Addr().String(), namedLn.Addr().String()},
		NameHTTPS:         {httpsLn.Addr().String()},
		NameAPI:           {apiLn.Addr().String()},
		"tenement.socket": {otherLn.Addr().String()},
	}
	for _, v := range want {
		sort.Strings(v)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after Classify:\n got %v\nwant %v", got, want)
	}
	if ln, fromSD, err := l.TCP(NameHTTPS, "127.0.0.1:1"); err != nil || !fromSD || ln != httpsLn {
		t.Errorf("TCP(https) = %v, %v, %v; want the passed socket", ln, fromSD, err)
	}
	if ln, fromSD, err := l.Unix(NameAPI, "/nonexistent/api.sock", 0o660, -1); err != nil || !fromSD || ln != apiLn {
		t.Errorf("Unix(api) = %v, %v, %v; want the passed socket", ln, fromSD, err)
	}
	unused := l.Unused()
	sort.Strings(unused)
	if strings.Join(unused, " ") != "http http tenement.socket" {
		t.Errorf("Unused = %v, want the two http sockets nobody took and the unmatched one", unused)
	}
}

// A unix socket at another path than the configured API socket is not
// taken for it: the daemon then binds the configured path and warns.
func TestClassifyOtherUnixSocket(t *testing.T) {
	u := listenUnix(t)
	l := &Listeners{inherited: map[string][]net.Listener{"tenement.socket": {u}}}
	l.Classify(Roles{HTTPPort: 8080, APIPath: "/run/tenement/api.sock"})
	if len(l.inherited[NameAPI]) != 0 || len(l.inherited["tenement.socket"]) != 1 {
		t.Errorf("inherited = %v", l.inherited)
	}
}

func TestClassifyWithoutHTTPS(t *testing.T) {
	a, b := listenTCP(t), listenTCP(t)
	l := &Listeners{inherited: map[string][]net.Listener{"tenement.socket": {a, b}}}
	l.Classify(Roles{HTTPPort: port(a)})
	if len(l.inherited[NameHTTP]) != 1 || len(l.inherited[NameHTTPS]) != 0 || len(l.inherited["tenement.socket"]) != 1 {
		t.Errorf("inherited = %v", l.inherited)
	}
}

// The child half of TestFromSystemd: it is started with sockets at fd 3
// and 4 and LISTEN_* set the way systemd sets them.
func init() {
	if os.Getenv("ACTIVATION_TEST_CHILD") != "1" {
		return
	}
	// systemd sets LISTEN_PID to the service's pid, which the parent
	// cannot know before the exec.
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	os.Exit(activatedChild())
}

func activatedChild() int {
	ls, err := FromSystemd()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	httpPort, _ := strconv.Atoi(os.Getenv("ACTIVATION_TEST_HTTP_PORT"))
	ls.Classify(Roles{HTTPPort: httpPort})
	out := map[string]any{"inherited": ls.Inherited(), "env": os.Getenv("LISTEN_FDS")}
	httpLn, fromSD, err := ls.TCP(NameHTTP, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	out["http"], out["http_sd"] = httpLn.Addr().String(), fromSD
	apiLn, fromSD, err := ls.Unix(NameAPI, filepath.Join(os.TempDir(), "unused.sock"), 0o600, -1)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	out["api"], out["api_sd"] = apiLn.Addr().String(), fromSD
	out["unused"] = ls.Unused()
	// Serve one connection on each, to show the sockets work.
	for _, ln := range []net.Listener{httpLn, apiLn} {
		go func(ln net.Listener) {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("hi from " + ln.Addr().Network()))
				c.Close()
			}
		}(ln)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	buf := make([]byte, 1)
	os.Stdin.Read(buf) // wait for the parent
	httpLn.Close()
	apiLn.Close()
	return 0
}

// TestFromSystemd passes two sockets the way systemd passes the sockets of
// one tenement.socket (both named after the unit) and checks that the
// daemon's side finds each by its address, serves on it, and that closing
// the API listener leaves the socket file (it belongs to systemd).
func TestFromSystemd(t *testing.T) {
	httpLn, apiLn := listenTCP(t), listenUnix(t)
	httpF, _ := httpLn.File()
	apiF, _ := apiLn.File()
	defer httpF.Close()
	defer apiF.Close()
	apiPath := apiLn.Addr().String()
	apiLn.SetUnlinkOnClose(false)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ACTIVATION_TEST_CHILD=1", "LISTEN_FDS=2",
		"LISTEN_FDNAMES=tenement.socket:tenement.socket",
		"ACTIVATION_TEST_HTTP_PORT="+strconv.Itoa(port(httpLn)))
	cmd.ExtraFiles = []*os.File{httpF, apiF}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var got map[string]any
	if err != nil || json.Unmarshal([]byte(line), &got) != nil {
		t.Fatalf("child said %q (%v)", line, err)
	}
	if got["http"] != httpLn.Addr().String() || got["http_sd"] != true || got["api"] != apiPath || got["api_sd"] != true {
		t.Errorf("child took %v", got)
	}
	if got["env"] != "" {
		t.Errorf("LISTEN_FDS still set in the child: %v", got["env"])
	}
	if u, _ := got["unused"].([]any); len(u) != 0 {
		t.Errorf("unused sockets: %v", u)
	}
	for _, addr := range [][2]string{{"tcp", httpLn.Addr().String()}, {"unix", apiPath}} {
		c, err := net.Dial(addr[0], addr[1])
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 64)
		n, _ := c.Read(b)
		c.Close()
		if string(b[:n]) != "hi from "+addr[0] {
			t.Errorf("%s: read %q", addr[1], b[:n])
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if _, err := os.Stat(apiPath); err != nil {
		t.Errorf("API socket file gone after the daemon closed it: %v", err)
	}
}
