package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenement/tenement/internal/fleettest"
	"github.com/tenement/tenement/internal/testbed"
	"github.com/tenement/tenement/names"
)

// The tests run against a real etcd server: Debian's etcd-server binary
// (3.4, what an operator installs; scripts/deps unpacks it), as its own
// process on loopback, not the embedded server of go.etcd.io/etcd/server/v3.
// A process is what the fleet meets in production: stopping and restarting
// it is a real outage (refused connections, a lease that outlives the
// restart, a watch resumed from its revision), and the test binary keeps
// the client's dependencies only, not the server's large tree. One server
// serves the package (each test has its own cluster prefix); the outage
// test starts its own.
var shared struct {
	once sync.Once
	etcd *fleettest.Etcd
	err  error
	dir  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.etcd != nil {
		shared.etcd.Stop()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedEtcd returns the package's etcd server, started on first use.
func sharedEtcd(t testing.TB) *fleettest.Etcd {
	t.Helper()
	fleettest.RequireEtcd(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "fleet-etcd-")
		if shared.err == nil {
			shared.etcd, shared.err = fleettest.StartEtcd(context.Background(), fleettest.EtcdOptions{Dir: shared.dir})
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.etcd
}

var clusterSeq atomic.Int64

// newCluster returns a cluster name no other test uses.
func newCluster() string { return fmt.Sprintf("t%d-%d", os.Getpid(), clusterSeq.Add(1)) }

// startAgent starts an agent of cluster on e and waits for its first view
// of the fleet and for its own host key.
func startAgent(t testing.TB, e *fleettest.Etcd, cluster, host string, capacity int, mod ...func(*Options)) *Agent {
	t.Helper()
	opts := Options{Endpoints: []string{e.Endpoint()}, Cluster: cluster, Host: host,
		Addr: host + ".test:8080", Capacity: capacity, TTL: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range mod {
		f(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Synced(ctx); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 5*time.Second, host+" sees itself live", func() error {
		if !a.Live(host) {
			return fmt.Errorf("not live")
		}
		return nil
	})
	return a
}

func inst(t testing.TB, s string) names.Instance {
	t.Helper()
	n, err := names.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testWriter sends the agents' logs to the test's log, shown on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
