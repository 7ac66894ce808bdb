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
package fleettest
