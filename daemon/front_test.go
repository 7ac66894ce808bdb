package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/config"
)

// whoSent answers what the daemon believes about a request: whether it
// came through the front listener, and the client address auth counts.
var whoSent = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	a, _ := auth.ClientAddr(r, nil)
	fmt.Fprintf(w, "front=%v client=%v", auth.FromFront(r.Context()), a)
})

// startPublic starts the servers publicServers opens for conf (settings
// only), serving whoSent.
func startPublic(t *testing.T, conf string) (*config.Config, []*server) {
	t.Helper()
	cfg, err := config.Parse("/t.toml", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	servers, err := publicServers(cfg, &activation.Listeners{}, newFake(), nil, whoSent, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		go s.serve(make(chan error, 1))
		t.Cleanup(func() { _ = s.srv.Close() })
	}
	return cfg, servers
}

func getVia(t *testing.T, dial func(ctx context.Context, _, _ string) (net.Conn, error), xff string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial}}
	req, _ := http.NewRequest("GET", "http://alice.notes.example.com/", nil)
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The same forged X-Forwarded-For counts on the front socket and nowhere
// else; the socket is root's alone without front_group.
func TestFrontListenerMarksItsConnections(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "front.sock")
	listen := freeAddr(t)
	_, servers := startPublic(t, fmt.Sprintf("[settings]\ndomain = \"example.com\"\nlisten = %q\nfront_listen = \"unix:%s\"\n", listen, sock))
	if len(servers) != 2 || servers[1].name != "front" {
		t.Fatalf("servers: %d, want http and front", len(servers))
	}
	var d net.Dialer
	public := func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", listen) }
	front := func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", sock) }
	if got, want := getVia(t, public, "192.0.2.66"), "front=false client=127.0.0.1"; got != want {
		t.Errorf("public listener: %q, want %q", got, want)
	}
	if got, want := getVia(t, front, "192.0.2.66"), "front=true client=192.0.2.66"; got != want {
		t.Errorf("front socket: %q, want %q", got, want)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		t.Errorf("front socket mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestFrontSocketGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chown to a group needs root")
	}
	g, err := user.LookupGroupId("0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "front.sock")
	startPublic(t, fmt.Sprintf("[settings]\nlisten = %q\nfront_listen = \"unix:%s\"\nfront_group = %q\n", freeAddr(t), sock, g.Name))
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if gid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)); fi.Mode().Perm() != 0o660 || gid != g.Gid {
		t.Errorf("front socket mode %v group %s, want 0660 group %s", fi.Mode().Perm(), gid, g.Gid)
	}
	cfg, err := config.Parse("/t.toml", []byte(fmt.Sprintf("[settings]\nlisten = %q\nfront_listen = \"unix:%s\"\nfront_group = \"nosuchgroupx\"\n", freeAddr(t), sock+"2")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publicServers(cfg, &activation.Listeners{}, newFake(), nil, whoSent, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a front_group that does not exist was accepted")
	}
}

// On a TCP front listener, trusted_proxies narrows who may connect:
// others are closed at accept, before they can send anything.
func TestPeerFilter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &peerFilter{Listener: ln, allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, log: slog.New(slog.DiscardHandler)}
	s := newServer("front", f, &http.Server{Handler: whoSent, ConnContext: markFront, ReadHeaderTimeout: time.Second})
	go s.serve(make(chan error, 1))
	t.Cleanup(func() { _ = s.srv.Close() })
	if _, served := dialFrom(t, ln.Addr().String(), "127.0.0.3"); served {
		t.Error("a peer outside trusted_proxies was served on the front listener")
	}
	if _, served := dialFrom(t, ln.Addr().String(), "127.0.0.2"); !served {
		t.Error("the front proxy was refused")
	}
}
