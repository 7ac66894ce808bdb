package activation

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// The front proxy's socket, passed by tenement.socket under the unit's
// name, is told apart from the API socket and the HTTP listener by its
// address; one passed with FileDescriptorName=front keeps its role.
func TestClassifyFront(t *testing.T) {
	httpLn, frontTCP, otherTCP := listenTCP(t), listenTCP(t), listenTCP(t)
	apiLn, frontUnix, named := listenUnix(t), listenUnix(t), listenUnix(t)
	for _, tc := range []struct {
		name  string
		roles Roles
		want  net.Listener
	}{
		{"unix", Roles{HTTPPort: port(httpLn), APIPath: apiLn.Addr().String(), FrontPath: frontUnix.Addr().String()}, frontUnix},
		{"tcp", Roles{HTTPPort: port(httpLn), APIPath: apiLn.Addr().String(), FrontAddr: frontTCP.Addr().(*net.TCPAddr).AddrPort()}, frontTCP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Listeners{inherited: map[string][]net.Listener{"tenement.socket": {httpLn, apiLn, frontUnix, frontTCP, otherTCP}}}
			l.Classify(tc.roles)
			if got := l.inherited[NameFront]; len(got) != 1 || got[0] != tc.want {
				t.Errorf("front = %v, want %v", got, tc.want.Addr())
			}
			if got := l.inherited[NameAPI]; len(got) != 1 || got[0] != apiLn {
				t.Errorf("api = %v, want %v", got, apiLn.Addr())
			}
			if got := l.inherited[NameHTTP]; len(got) != 1 || got[0] != httpLn {
				t.Errorf("http = %v, want %v", got, httpLn.Addr())
			}
		})
	}
	l := &Listeners{inherited: map[string][]net.Listener{NameFront: {named}}}
	l.Classify(Roles{APIPath: "/run/tenement/api.sock", FrontAddr: netip.MustParseAddrPort("192.0.2.1:81")})
	if ln, fromSD, err := l.Unix(NameFront, "/nonexistent/front.sock", 0o600, -1); err != nil || !fromSD || ln != named {
		t.Errorf("Unix(front) = %v, %v, %v; want the socket named front", ln, fromSD, err)
	}
}

// Unix replaces a stale socket file (nobody listening) and refuses a live
// one, and sets the mode it is asked for.
func TestUnixStaleAndLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "front.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	l := &Listeners{}
	ln, fromSD, err := l.Unix(NameFront, path, 0o600, -1)
	if err != nil || fromSD {
		t.Fatalf("over a stale socket: %v, %v", fromSD, err)
	}
	defer ln.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode: %v %v, want 0600", fi.Mode(), err)
	}
	if _, _, err := l.Unix(NameFront, path, 0o600, -1); err == nil {
		t.Error("Unix replaced a live socket")
	}
}
