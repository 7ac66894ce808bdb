// Package fleettest runs what the fleet's tests need: a real etcd server,
// and (on Linux, as root) several tenement hosts, each its own systemd
// manager, on a network of their own.
//
// # etcd
//
// StartEtcd runs Debian's etcd-server binary (3.4, what an operator
// installs; scripts/deps unpacks it into PATH) as a single-member cluster,
// on free loopback ports or inside a network namespace, with its data dir
// where the caller says. Stop and Start stop and restart the same server,
// for outage tests. RequireEtcd skips a test without the binary, and fails
// it in CI.
//
// # A fleet of hosts
//
// Start (Linux, root) builds this, for phase 2's integration tests of the
// fleet (forwarding, ten move, ten drain, etcd outages):
//
//	        hub netns (held by a `sleep` that dies with the test)
//	        br0 10.77.0.1/24, etcd on 10.77.0.1:2379
//	         |vh1              |vh2              |vh3
//	eth0 10.77.0.11   eth0 10.77.0.12   eth0 10.77.0.13
//	manager fl-…-h1   manager fl-…-h2   manager fl-…-h3
//
// Each host is a real systemd manager booted by internal/testbed with its
// own network namespace (NET=private: only lo), into which Start moves one
// end of a veth pair made in the hub; the other end is a port of the hub's
// bridge. The hub is a fourth namespace, not a host's, so that stopping any
// host (a host dying) leaves the others and etcd connected. The addresses
// exist only inside these namespaces: nothing is added to the machine's own
// interfaces, and no /run/netns entry is made.
//
// A test of the fleet runs on the machine, not inside a manager: its
// package's TestMain must not call testbed.Main. It puts what the hosts
// run into Fleet.Share (Options.Setup: go build -o share/bin/ten), starts
// processes inside a host with Host.Command (nsenter into all of the
// manager's namespaces; the Go module and the share dir are visible at the
// same paths), and reaches the hosts' addresses from the test process
// through the hub: Fleet.HTTPClient and Fleet.DialContext for HTTP and TCP,
// Fleet.GRPCDialer for an etcd client. Host.Stop stops one host's manager
// (its namespace, veth and processes go with it); Fleet.Etcd.Stop and
// Start stop and restart etcd on its data dir.
//
// Names are unique per run (fl-<pid>-<hex>, managers fl-<pid>-<hex>-hN).
// Start first removes the managers and share dirs of test processes that
// died (testbed.CleanupStale); the hub and etcd die with the test process
// by their parent-death signal. Stop removes everything: managers (and
// their cgroups and state dirs), etcd, the hub, the share dir with etcd's
// data; the namespaces go with their last process, the veths and the
// bridge with their namespaces. Require skips a test where no fleet can be
// started, and fails it in CI.
package fleettest
