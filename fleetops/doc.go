// Package fleetops is what one host does for the operations of a fleet
// (SPEC §12), over the etcd agent (package fleet) and the host's own
// supervisor: the API's instances as the whole fleet sees them.
//
// Creating places first. `ten create`, `ten spawn` and the API place each
// new instance in etcd (on the named host, else the live host with the most
// free room) and only then register it: here at once when it is placed
// here, else by its owner's sync. A spawn or a delete of an instance that
// lives on another host is asked of that host, over its API (the hop
// header proves the asking host a peer). `ten ps` lists every instance of
// the fleet: this host's with their state, the others' from the
// placements, with their host and state "unknown" (only its owner knows).
// Other calls about another host's instance (stop, restart, health, logs,
// weight) answer that it lives there.
//
// The sync of the agent (fleet.Consumer) keeps the supervisor in step with
// the placements of this host; an instance that this host is deleting or
// moving is left to that operation. An instance this host knows that is
// placed nowhere (it was registered before the host joined the fleet) is
// claimed: placed here, once, when the host starts.
//
// # Moving an instance
//
// `ten move svc:id --to HOST` is carried out by the instance's owner: it
// fences the instance (stops it; requests get 503 with Retry-After, which
// a client retries), streams its data dir and its own credentials as a tar
// to the target's API (PUT /api/instances/{id}/data, written into a new
// directory and swapped in whole), flips the placement in one etcd
// transaction, and forgets its own copy. The target's sync registers the
// instance, which wakes there on its next request. A move that fails
// before the flip leaves the instance where it was, with its data, and
// the target's copy is dropped. When etcd does not answer the flip, its
// outcome is unknown: the instance stays fenced until etcd answers, then
// lives on one host or the other, never on both.
//
// `ten drain HOST` marks the host draining (nothing new is placed on it)
// and moves its instances, two at a time, to the live hosts with the most
// free room.
//
// # Tokens
//
// Tokens are fleet-wide: created and revoked in etcd (their hashes only),
// looked up in the agent's cache. Tokens made before the host joined the
// fleet stay valid on this host only.
package fleetops
