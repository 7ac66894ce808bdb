package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoServerDependencies: the client, and the CLI built on it, build
// without the server: none of its libraries (D-Bus, go-systemd, bbolt,
// Prometheus) and, of tenement's own packages, only the wire types and the
// names, error kinds and config they use. A server type in a signature of
// the client (a store record, a supervisor state) fails here.
func TestNoServerDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	const mod = "github.com/tenement/tenement/"
	out, err := exec.Command(goTool, "list", "-deps", mod+"client", mod+"internal/cli").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/godbus/", "github.com/coreos/go-systemd/", "go.etcd.io/bbolt", "github.com/prometheus/"}
	allowed := map[string]bool{"apitype": true, "client": true, "config": true, "errdefs": true, "internal/cli": true, "names": true}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("the client depends on %s", pkg)
			}
		}
		if own, ok := strings.CutPrefix(pkg, mod); ok && !allowed[own] {
			t.Errorf("the client depends on the server's package %s", own)
		}
	}
}
