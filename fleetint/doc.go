// Package fleetint holds the fleet's integration tests (SPEC §12): three
// tenement hosts, each its own real systemd manager in a network
// namespace of its own, joined by a bridge, with a real etcd
// (internal/fleettest). The tests run on the machine, not inside a
// manager: TestMain does not call testbed.Main.
package fleetint
